"""/accounts: admins create, list, disable and enable accounts, reset passwords and end
sessions (passwords hashed, never returned)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.audit import audit
from cloud.accounts.errors import NotFoundError
from cloud.accounts.service import create_account, end_sessions, set_disabled, set_password
from cloud.api.deps import Caller, Ctx, roles
from cloud.api.schemas import AccountIn, AccountOut, PasswordSetIn
from cloud.errors import both
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


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError(both("계정이 없습니다", f"no account with id {account_id}"))
    return account


@router.post("/{account_id}/disable")
def disable_account(ctx: Ctx, caller: Caller, account_id: int) -> AccountOut:
    """Disable an account: it can no longer log in and every session it has ends now."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        account = _account(session, account_id)
        set_disabled(account, True)
        audit(session, caller, "disable", "account", now, resource_id=account_id)
        return AccountOut.model_validate(account)


@router.post("/{account_id}/enable")
def enable_account(ctx: Ctx, caller: Caller, account_id: int) -> AccountOut:
    """Enable a disabled account again (its old sessions stay ended)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        account = _account(session, account_id)
        set_disabled(account, False)
        audit(session, caller, "enable", "account", now, resource_id=account_id)
        return AccountOut.model_validate(account)


@router.post("/{account_id}/password", status_code=204)
def reset_password(ctx: Ctx, caller: Caller, account_id: int, body: PasswordSetIn) -> None:
    """Set an account's password (policy checked); every session of the account ends."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        account = _account(session, account_id)
        set_password(ctx.passwords, account, body.password)
        audit(session, caller, "password", "account", now, resource_id=account_id)


@router.post("/{account_id}/sessions/revoke", status_code=204)
def end_account_sessions(ctx: Ctx, caller: Caller, account_id: int) -> None:
    """End every session of an account (tokens issued so far stop working)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        end_sessions(_account(session, account_id))
        audit(session, caller, "end_sessions", "account", now, resource_id=account_id)
