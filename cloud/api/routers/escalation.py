"""/seniors/{id}/escalation-policy: the ordered tiers of contacts an alert escalates through."""

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal, get_senior
from cloud.accounts.audit import audit
from cloud.accounts.errors import ForbiddenError, InvalidInputError, NotFoundError
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import PolicyIn, PolicyOut, QuietHoursIn, SeniorOut
from cloud.errors import both
from cloud.store.models import CaregiverLink, Contact, EscalationPolicy, Role

_NOT_PRIMARY = both(
    "비상 연락 정책은 관리자나 주 보호자만 바꿀 수 있습니다",
    "only an admin or the senior's primary caregiver may change the escalation policy",
)


def may_change_policy(session: Session, caller: Principal, senior_id: str) -> bool:
    """Admins, and caregivers linked to the senior as primary."""
    if caller.role is Role.ADMIN:
        return True
    if caller.role is not Role.CAREGIVER or caller.account_id is None:
        return False
    primary = session.scalar(
        select(CaregiverLink.is_primary).where(
            CaregiverLink.account_id == caller.account_id, CaregiverLink.senior_id == senior_id
        )
    )
    return bool(primary)


router = APIRouter(
    prefix="/seniors/{senior_id}/escalation-policy",
    tags=["escalation"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)


def _out(policy: EscalationPolicy) -> PolicyOut:
    return PolicyOut.model_validate(
        {
            "senior_id": policy.senior_id,
            "tiers": policy.tiers.get("tiers", []),
            "updated_at": policy.updated_at,
        }
    )


@router.get("")
def read_policy(ctx: Ctx, caller: Caller, senior_id: str) -> PolicyOut:
    """The senior's escalation policy."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        policy = session.scalars(
            select(EscalationPolicy).where(EscalationPolicy.senior_id == senior_id)
        ).one_or_none()
        if policy is None:
            raise NotFoundError(
                both(
                    f"어르신 {senior_id!r}에게는 아직 비상 연락 정책이 없습니다. PUT으로 만드세요",
                    f"senior {senior_id!r} has no escalation policy yet: PUT one",
                )
            )
        audit(session, caller, "read", "escalation_policy", now, senior_id=senior_id)
        return _out(policy)


@router.put("")
def put_policy(ctx: Ctx, caller: Caller, senior_id: str, body: PolicyIn) -> PolicyOut:
    """Replace the policy; every contact id must be one of this senior's contacts."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        if not may_change_policy(session, caller, senior_id):
            raise ForbiddenError(_NOT_PRIMARY)
        own = set(session.scalars(select(Contact.id).where(Contact.senior_id == senior_id)))
        for i, tier in enumerate(body.tiers):
            if len(set(tier.contact_ids)) != len(tier.contact_ids):
                raise InvalidInputError(
                    both(
                        "같은 연락처를 두 번 적을 수 없습니다",
                        "duplicates are not allowed",
                        at=f"body.tiers.{i}.contact_ids",
                    )
                )
            foreign = [c for c in tier.contact_ids if c not in own]
            if foreign:
                raise InvalidInputError(
                    both(
                        f"{foreign[0]}은(는) 이 어르신의 연락처가 아닙니다",
                        f"{foreign[0]} is not one of this senior's contacts",
                        at=f"body.tiers.{i}.contact_ids",
                    )
                )
        tiers = {"tiers": [t.model_dump() for t in body.tiers]}
        policy = session.scalars(
            select(EscalationPolicy).where(EscalationPolicy.senior_id == senior_id)
        ).one_or_none()
        if policy is None:
            policy = EscalationPolicy(senior_id=senior_id, tiers=tiers, updated_at=now)
            session.add(policy)
        else:
            policy.tiers = tiers
            policy.updated_at = now
        session.flush()
        summary = "; ".join(
            f"tier {i}: contacts {t.contact_ids} after {t.timeout_s:g} s"
            for i, t in enumerate(body.tiers)
        )
        audit(
            session,
            caller,
            "update",
            "escalation_policy",
            now,
            senior_id=senior_id,
            detail=summary,
        )
        return _out(policy)


quiet_router = APIRouter(
    prefix="/seniors/{senior_id}/quiet-hours",
    tags=["escalation"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)


@quiet_router.put("")
def put_quiet_hours(ctx: Ctx, caller: Caller, senior_id: str, body: QuietHoursIn) -> SeniorOut:
    """Set or clear the senior's quiet hours (non-critical alerts wait until they end); the
    same people as the escalation policy: an admin or the primary caregiver."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        senior = get_senior(session, caller, senior_id)
        if not may_change_policy(session, caller, senior_id):
            raise ForbiddenError(_NOT_PRIMARY)
        senior.quiet_hours_start, senior.quiet_hours_end = body.start, body.end
        audit(
            session,
            caller,
            "update",
            "senior",
            now,
            resource_id=senior_id,
            senior_id=senior_id,
            detail=f"quiet_hours {body.start or '-'}-{body.end or '-'}",
        )
        return SeniorOut.model_validate(senior)
