"""GET /seniors/{id}/events: the timeline of what a senior's robots reported, newest first."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from cloud.accounts.access import get_senior
from cloud.accounts.audit import audit
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import EventOut, EventPage
from cloud.store.models import Device, DeviceAssignment, Event
from protocol import EventType

router = APIRouter(
    prefix="/seniors/{senior_id}/events",
    tags=["events"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)


def senior_events(session: Session, senior_id: str) -> ColumnElement[bool]:
    """Events of the senior: from a robot while it was assigned to them (device_assignments);
    a robot with no assignment rows (provisioned before them) counts while it is theirs.

    The senior's few assignment periods are read first and become `device_id = .. AND ts in
    [from, to)` terms, which the (device_id, ts) index serves: a correlated EXISTS over the
    assignments made PostgreSQL read every event of every senior (issue 16, EXPLAIN test).
    """
    periods = session.execute(
        select(DeviceAssignment.device_id, DeviceAssignment.valid_from, DeviceAssignment.valid_to)
        .where(DeviceAssignment.senior_id == senior_id)
        .order_by(DeviceAssignment.id)
    ).all()
    unassigned = list(
        session.scalars(
            select(Device.id).where(
                Device.senior_id == senior_id,
                ~exists().where(DeviceAssignment.device_id == Device.id),
            )
        )
    )
    terms: list[ColumnElement[bool]] = []
    for device_id, valid_from, valid_to in periods:
        parts = [Event.device_id == device_id]
        if valid_from is not None:
            parts.append(Event.ts >= valid_from)
        if valid_to is not None:
            parts.append(Event.ts < valid_to)
        terms.append(and_(*parts))
    if unassigned:
        terms.append(Event.device_id.in_(unassigned))
    return or_(*terms) if terms else false()


@router.get("")
def timeline(
    ctx: Ctx,
    caller: Caller,
    senior_id: str,
    type: EventType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> EventPage:
    """Events from the senior's robots while assigned to them, newest first, by type."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        where: list[ColumnElement[bool]] = [senior_events(session, senior_id)]
        if type is not None:
            where.append(Event.type == type.value)
        total = session.scalar(select(func.count()).select_from(Event).where(*where)) or 0
        rows = session.scalars(
            select(Event)
            .where(*where)
            .order_by(Event.ts.desc(), Event.id.desc())
            .limit(limit)
            .offset(offset)
        )
        items = [EventOut.model_validate(e) for e in rows]
        audit(
            session,
            caller,
            "read",
            "event",
            now,
            senior_id=senior_id,
            detail=f"{len(items)} events",
        )
    return EventPage(items=items, total=total, limit=limit, offset=offset)
