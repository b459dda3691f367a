"""/seniors/{id}/escalation-policy: the ordered tiers of contacts an alert escalates through."""

from fastapi import APIRouter, Depends
from sqlalchemy import select

from cloud.accounts.access import get_senior
from cloud.accounts.audit import audit
from cloud.accounts.errors import InvalidInputError, NotFoundError
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import PolicyIn, PolicyOut
from cloud.store.models import Contact, EscalationPolicy

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
            raise NotFoundError(f"senior {senior_id!r} has no escalation policy yet: PUT one")
        audit(session, caller, "read", "escalation_policy", now, senior_id=senior_id)
        return _out(policy)


@router.put("")
def put_policy(ctx: Ctx, caller: Caller, senior_id: str, body: PolicyIn) -> PolicyOut:
    """Replace the policy; every contact id must be one of this senior's contacts."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        own = set(session.scalars(select(Contact.id).where(Contact.senior_id == senior_id)))
        for i, tier in enumerate(body.tiers):
            if len(set(tier.contact_ids)) != len(tier.contact_ids):
                raise InvalidInputError(f"body.tiers.{i}.contact_ids: duplicates are not allowed")
            foreign = [c for c in tier.contact_ids if c not in own]
            if foreign:
                raise InvalidInputError(
                    f"body.tiers.{i}.contact_ids: {foreign[0]} is not one of this senior's contacts"
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
        audit(session, caller, "update", "escalation_policy", now, senior_id=senior_id)
        return _out(policy)
