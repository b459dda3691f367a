"""/seniors: admins create, change and remove seniors; caregivers read the ones linked to them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import delete, func, select

from cloud.accounts.access import get_senior, senior_filter, visible_seniors
from cloud.accounts.audit import audit, audit_reads
from cloud.accounts.errors import ConflictError
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import SeniorIn, SeniorOut, SeniorPage, SeniorPatch
from cloud.errors import both
from cloud.store.models import (
    CaregiverLink,
    Contact,
    Device,
    EscalationPolicy,
    OrganisationSenior,
    ReminderSchedule,
    RobotMessage,
    Role,
    Senior,
)

router = APIRouter(prefix="/seniors", tags=["seniors"], dependencies=[Depends(roles(*CARE_ROLES))])
AdminOnly = [Depends(roles(Role.ADMIN))]


@router.get("")
def list_seniors(
    ctx: Ctx,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> SeniorPage:
    """The seniors the caller may see, by id."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        where = senior_filter(Senior.id, visible_seniors(session, caller))
        total = session.scalar(select(func.count()).select_from(Senior).where(where)) or 0
        rows = list(
            session.scalars(
                select(Senior).where(where).order_by(Senior.id).limit(limit).offset(offset)
            )
        )
        audit_reads(session, caller, "senior", [s.id for s in rows], now)
        items = [SeniorOut.model_validate(s) for s in rows]
    return SeniorPage(items=items, total=total, limit=limit, offset=offset)


@router.post("", status_code=201, dependencies=AdminOnly)
def create_senior(ctx: Ctx, caller: Caller, body: SeniorIn) -> SeniorOut:
    """Add a senior (admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        if session.get(Senior, body.id) is not None:
            raise ConflictError(
                both(
                    f"id가 {body.id!r}인 어르신이 이미 있습니다",
                    f"a senior with id {body.id!r} exists",
                )
            )
        senior = Senior(**body.model_dump(), settings={}, created_at=now)
        session.add(senior)
        session.flush()
        audit(session, caller, "create", "senior", now, resource_id=senior.id, senior_id=senior.id)
        return SeniorOut.model_validate(senior)


@router.get("/{senior_id}")
def read_senior(ctx: Ctx, caller: Caller, senior_id: str) -> SeniorOut:
    """One senior the caller may see."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        senior = get_senior(session, caller, senior_id)
        audit(session, caller, "read", "senior", now, resource_id=senior_id, senior_id=senior_id)
        return SeniorOut.model_validate(senior)


@router.patch("/{senior_id}", dependencies=AdminOnly)
def update_senior(ctx: Ctx, caller: Caller, senior_id: str, body: SeniorPatch) -> SeniorOut:
    """Change a senior's details or rule settings (admin)."""
    now = ctx.clock()
    changes = body.model_dump(exclude_unset=True)
    with ctx.sessions() as session, session.begin():
        senior = get_senior(session, caller, senior_id)
        for name, value in changes.items():
            if value is None and name not in ("quiet_hours_start", "quiet_hours_end"):
                continue  # a required field cannot be cleared
            setattr(senior, name, value)
        audit(
            session,
            caller,
            "update",
            "senior",
            now,
            resource_id=senior_id,
            senior_id=senior_id,
            detail=",".join(sorted(changes)),
        )
        return SeniorOut.model_validate(senior)


@router.delete("/{senior_id}", status_code=204, dependencies=AdminOnly)
def delete_senior(ctx: Ctx, caller: Caller, senior_id: str) -> None:
    """Remove a senior with contacts, links, policy and reminders (not while a robot is theirs)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        devices = session.scalar(
            select(func.count()).select_from(Device).where(Device.senior_id == senior_id)
        )
        if devices:
            raise ConflictError(
                both(
                    f"어르신 {senior_id!r}에게 아직 로봇 {devices}대가 있습니다."
                    " 먼저 다른 곳에 등록하세요",
                    f"senior {senior_id!r} still has {devices} robot(s): register them"
                    " elsewhere first",
                )
            )
        for table in (
            CaregiverLink,
            Contact,
            EscalationPolicy,
            ReminderSchedule,
            RobotMessage,
            OrganisationSenior,
        ):
            session.execute(delete(table).where(table.senior_id == senior_id))
        session.execute(delete(Senior).where(Senior.id == senior_id))
        audit(session, caller, "delete", "senior", now, resource_id=senior_id, senior_id=senior_id)
