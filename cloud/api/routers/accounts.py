"""GET/POST /accounts: admins create and list accounts (passwords hashed, never returned)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from cloud.accounts.audit import audit
from cloud.accounts.service import create_account
from cloud.api.deps import Caller, Ctx, roles
from cloud.api.schemas import AccountIn, AccountOut
from cloud.store.models import Account, Role

router = APIRouter(prefix="/accounts", tags=["accounts"], dependencies=[Depends(roles(Role.ADMIN))])


@router.get("")
def list_accounts(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[AccountOut]:
    """Accounts by id."""
    with ctx.sessions() as session:
        rows = session.scalars(select(Account).order_by(Account.id).limit(limit).offset(offset))
        return [AccountOut.model_validate(a) for a in rows]


@router.post("", status_code=201)
def add_account(ctx: Ctx, caller: Caller, body: AccountIn) -> AccountOut:
    """Create an account with an argon2id-hashed password."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        account = create_account(
            session,
            ctx.passwords,
            username=body.username,
            role=body.role,
            password=body.password,
            display_name=body.display_name,
            now=now,
        )
        audit(session, caller, "create", "account", now, resource_id=account.id)
        return AccountOut.model_validate(account)
