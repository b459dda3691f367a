"""/seniors/{id}/reminders: reminder schedules; a change sends the robots a `schedule` command."""

import logging
import uuid
from datetime import datetime

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.access import get_senior
from cloud.accounts.audit import audit
from cloud.accounts.errors import NotFoundError
from cloud.api.context import ApiContext
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import ReminderChangeOut, ReminderIn, ReminderOut
from cloud.errors import CloudError, both
from cloud.store.models import Device, ReminderSchedule
from protocol import Command, CommandType

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/seniors/{senior_id}/reminders",
    tags=["reminders"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)


def _out(r: ReminderSchedule) -> ReminderOut:
    return ReminderOut(
        id=r.id,
        senior_id=r.senior_id,
        kind=r.kind,
        label=r.label,
        times=list(r.times.get("times", [])),
        days=list(r.times.get("days", [])),
        active=r.active,
        updated_at=r.updated_at,
    )


def _reminder(session: Session, senior_id: str, reminder_id: int) -> ReminderSchedule:
    reminder = session.get(ReminderSchedule, reminder_id)
    if reminder is None or reminder.senior_id != senior_id:
        raise NotFoundError(
            both(
                f"어르신 {senior_id!r}에게 id {reminder_id}인 알림 일정이 없습니다",
                f"senior {senior_id!r} has no reminder with id {reminder_id}",
            )
        )
    return reminder


def _schedule_commands(
    session: Session, senior_id: str, timezone: str, now: datetime
) -> list[Command]:
    """One `schedule` command per robot of the senior, carrying the whole active schedule."""
    active = session.scalars(
        select(ReminderSchedule)
        .where(ReminderSchedule.senior_id == senior_id, ReminderSchedule.active.is_(True))
        .order_by(ReminderSchedule.id)
    )
    payload = {
        "timezone": timezone,
        "reminders": [{"id": r.id, "kind": r.kind, "label": r.label, **r.times} for r in active],
    }
    devices = session.scalars(
        select(Device.id).where(Device.senior_id == senior_id).order_by(Device.id)
    )
    return [
        Command(
            command_id=uuid.uuid4().hex,
            device_id=device_id,
            ts=now,
            type=CommandType.SCHEDULE,
            payload=payload,
        )
        for device_id in devices
    ]


def send_commands(ctx: ApiContext, commands: list[Command]) -> int:
    """Hand the commands to the publisher after the commit; a failure is logged, not raised."""
    sent = 0
    for command in commands:
        if ctx.publisher is None:
            break
        try:
            ctx.publisher.publish_command(command.device_id, command)
            sent += 1
        except CloudError as e:
            log.error("%s not sent to %s: %s", command.type, command.device_id, e)
    return sent


def _stored(body: ReminderIn) -> dict[str, object]:
    return {"times": body.times, "days": body.days}


@router.get("")
def list_reminders(ctx: Ctx, caller: Caller, senior_id: str) -> list[ReminderOut]:
    """The senior's reminders."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        rows = session.scalars(
            select(ReminderSchedule)
            .where(ReminderSchedule.senior_id == senior_id)
            .order_by(ReminderSchedule.id)
        )
        items = [_out(r) for r in rows]
        audit(session, caller, "read", "reminder", now, senior_id=senior_id)
        return items


@router.post("", status_code=201)
def add_reminder(ctx: Ctx, caller: Caller, senior_id: str, body: ReminderIn) -> ReminderChangeOut:
    """Add a reminder and send the new schedule to the senior's robots."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        senior = get_senior(session, caller, senior_id)
        reminder = ReminderSchedule(
            senior_id=senior_id,
            kind=body.kind.value,
            label=body.label,
            times=_stored(body),
            active=body.active,
            updated_at=now,
        )
        session.add(reminder)
        session.flush()
        audit(
            session, caller, "create", "reminder", now, resource_id=reminder.id, senior_id=senior_id
        )
        out = _out(reminder)
        commands = _schedule_commands(session, senior_id, senior.timezone, now)
    sent = send_commands(ctx, commands)
    return ReminderChangeOut(reminder=out, devices=len(commands), commands_published=sent)


@router.get("/{reminder_id}")
def read_reminder(ctx: Ctx, caller: Caller, senior_id: str, reminder_id: int) -> ReminderOut:
    """One reminder."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        reminder = _reminder(session, senior_id, reminder_id)
        audit(
            session, caller, "read", "reminder", now, resource_id=reminder_id, senior_id=senior_id
        )
        return _out(reminder)


@router.put("/{reminder_id}")
def replace_reminder(
    ctx: Ctx, caller: Caller, senior_id: str, reminder_id: int, body: ReminderIn
) -> ReminderChangeOut:
    """Replace a reminder and send the new schedule to the senior's robots."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        senior = get_senior(session, caller, senior_id)
        reminder = _reminder(session, senior_id, reminder_id)
        reminder.kind = body.kind.value
        reminder.label = body.label
        reminder.times = _stored(body)
        reminder.active = body.active
        reminder.updated_at = now
        session.flush()
        audit(
            session, caller, "update", "reminder", now, resource_id=reminder_id, senior_id=senior_id
        )
        out = _out(reminder)
        commands = _schedule_commands(session, senior_id, senior.timezone, now)
    sent = send_commands(ctx, commands)
    return ReminderChangeOut(reminder=out, devices=len(commands), commands_published=sent)


@router.delete("/{reminder_id}")
def delete_reminder(
    ctx: Ctx, caller: Caller, senior_id: str, reminder_id: int
) -> ReminderChangeOut:
    """Remove a reminder and send the new schedule to the senior's robots."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        senior = get_senior(session, caller, senior_id)
        session.delete(_reminder(session, senior_id, reminder_id))
        session.flush()
        audit(
            session, caller, "delete", "reminder", now, resource_id=reminder_id, senior_id=senior_id
        )
        commands = _schedule_commands(session, senior_id, senior.timezone, now)
    sent = send_commands(ctx, commands)
    return ReminderChangeOut(reminder=None, devices=len(commands), commands_published=sent)
