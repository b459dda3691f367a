"""/seniors/{id}/caregivers: which caregiver accounts may see a senior (admins link them)."""

from fastapi import APIRouter, Depends
from sqlalchemy import delete, select

from cloud.accounts.access import get_senior
from cloud.accounts.audit import audit
from cloud.accounts.errors import InvalidInputError, NotFoundError
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import CaregiverLinkIn, CaregiverLinkOut
from cloud.errors import both
from cloud.store.models import Account, CaregiverLink, Role

router = APIRouter(
    prefix="/seniors/{senior_id}/caregivers",
    tags=["caregivers"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)
AdminOnly = [Depends(roles(Role.ADMIN))]


@router.get("")
def list_caregivers(ctx: Ctx, caller: Caller, senior_id: str) -> list[CaregiverLinkOut]:
    """Who else cares for this senior."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        rows = session.execute(
            select(Account, CaregiverLink.relation, CaregiverLink.is_primary)
            .join(CaregiverLink, CaregiverLink.account_id == Account.id)
            .where(CaregiverLink.senior_id == senior_id)
            .order_by(Account.id)
        ).all()
        audit(session, caller, "read", "caregiver_link", now, senior_id=senior_id)
        return [
            CaregiverLinkOut(
                account_id=a.id,
                username=a.username,
                display_name=a.display_name,
                relation=rel,
                is_primary=primary,
            )
            for a, rel, primary in rows
        ]


@router.put("/{account_id}", dependencies=AdminOnly)
def link_caregiver(
    ctx: Ctx, caller: Caller, senior_id: str, account_id: int, body: CaregiverLinkIn
) -> CaregiverLinkOut:
    """Let a caregiver account see this senior (admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError(
                both(f"id가 {account_id}인 계정이 없습니다", f"no account with id {account_id}")
            )
        if account.role is not Role.CAREGIVER:
            raise InvalidInputError(
                both(
                    f"계정 {account_id}은(는) 보호자가 아니라 {account.role.value}입니다",
                    f"account {account_id} is a {account.role.value}, not a caregiver",
                )
            )
        link = session.scalars(
            select(CaregiverLink).where(
                CaregiverLink.account_id == account_id, CaregiverLink.senior_id == senior_id
            )
        ).one_or_none()
        if link is None:
            session.add(
                CaregiverLink(
                    account_id=account_id,
                    senior_id=senior_id,
                    relation=body.relation,
                    is_primary=body.is_primary,
                )
            )
        else:
            link.relation = body.relation
            link.is_primary = body.is_primary
        audit(
            session,
            caller,
            "link",
            "caregiver_link",
            now,
            resource_id=account_id,
            senior_id=senior_id,
            detail="primary" if body.is_primary else None,
        )
        return CaregiverLinkOut(
            account_id=account.id,
            username=account.username,
            display_name=account.display_name,
            relation=body.relation,
            is_primary=body.is_primary,
        )


@router.delete("/{account_id}", status_code=204, dependencies=AdminOnly)
def unlink_caregiver(ctx: Ctx, caller: Caller, senior_id: str, account_id: int) -> None:
    """Stop a caregiver seeing this senior (admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        gone = session.execute(
            delete(CaregiverLink).where(
                CaregiverLink.account_id == account_id, CaregiverLink.senior_id == senior_id
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFoundError(
                both(
                    f"계정 {account_id}은(는) 어르신 {senior_id!r}과(와) 연결되어 있지 않습니다",
                    f"account {account_id} is not linked to senior {senior_id!r}",
                )
            )
        audit(
            session,
            caller,
            "unlink",
            "caregiver_link",
            now,
            resource_id=account_id,
            senior_id=senior_id,
        )
