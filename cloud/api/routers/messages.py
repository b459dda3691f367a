"""/seniors/{id}/messages: a caregiver's short message, said by the robot at a good moment.

Sending stores the message and hands each of the senior's robots a `say_message` command;
what became of it comes back from the robot as a `message` event (spoken, expired, dropped)
with the message's id only, read here from the event store (ingest stores it like any event).
"""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal, get_senior
from cloud.accounts.audit import audit
from cloud.accounts.errors import ConflictError
from cloud.api.context import ApiContext
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.routers.events import senior_events
from cloud.api.routers.reminders import send_commands
from cloud.api.schemas import MessageIn, MessageOut, MessageState
from cloud.errors import both
from cloud.store.models import Device, Event, RobotMessage
from protocol import Command, CommandType, EventType
from protocol.commands import SayMessagePayload

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/seniors/{senior_id}/messages",
    tags=["messages"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)

MAX_PER_DAY = 20
"""Messages per senior in 24 hours: a robot that talks all day is not a companion."""
_TOO_MANY = both(
    "오늘은 메시지를 더 보낼 수 없습니다", "at most 20 messages a day can be sent to one senior"
)
_RANK = {"spoken": 0, "dropped": 1, "expired": 2}


def outcomes(
    session: Session, senior_id: str, since: datetime
) -> dict[str, tuple[MessageState, datetime]]:
    """message_id -> what the senior's robots reported about it (spoken wins), and when."""
    rows = session.execute(
        select(Event.payload, Event.ts).where(
            senior_events(session, senior_id),
            Event.type == EventType.MESSAGE.value,
            Event.ts >= since - timedelta(days=1),  # a robot's clock may lag the cloud's
        )
    )
    best: dict[str, tuple[MessageState, datetime]] = {}
    for payload, ts in rows:
        message_id, status = str(payload.get("message_id", "")), str(payload.get("status", ""))
        if status not in _RANK:
            continue
        seen = best.get(message_id)
        if seen is None or _RANK[status] < _RANK[seen[0].value]:
            best[message_id] = (MessageState(status), ts)
    return best


def _out(
    row: RobotMessage, found: dict[str, tuple[MessageState, datetime]], now: datetime
) -> MessageOut:
    state, settled = found.get(row.message_id, (None, None))
    if state is None:
        if row.commands_published == 0:
            state = MessageState.NOT_SENT
        elif now >= row.expires_at:
            state = MessageState.EXPIRED  # the robot never said it (nor reported)
        else:
            state = MessageState.WAITING
    return MessageOut(
        id=row.id,
        message_id=row.message_id,
        senior_id=row.senior_id,
        sender=row.sender,
        text=row.text,
        created_at=row.created_at,
        expires_at=row.expires_at,
        devices=row.devices,
        commands_published=row.commands_published,
        state=state,
        settled_at=settled,
    )


def recent(ctx: ApiContext, caller: Principal, senior_id: str, limit: int = 20) -> list[MessageOut]:
    """The senior's latest messages, newest first, with what became of each (audited)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        rows = list(
            session.scalars(
                select(RobotMessage)
                .where(RobotMessage.senior_id == senior_id)
                .order_by(RobotMessage.created_at.desc(), RobotMessage.id.desc())
                .limit(limit)
            )
        )
        found = outcomes(session, senior_id, rows[-1].created_at) if rows else {}
        audit(session, caller, "read", "message", now, senior_id=senior_id)
        return [_out(r, found, now) for r in rows]


@router.get("")
def list_messages(
    ctx: Ctx,
    caller: Caller,
    senior_id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[MessageOut]:
    """The latest messages to the senior's robot and what became of them."""
    return recent(ctx, caller, senior_id, limit)


@router.post("", status_code=201)
def send_message(ctx: Ctx, caller: Caller, senior_id: str, body: MessageIn) -> MessageOut:
    """Store the message and send it to the senior's robots as a `say_message` command."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        today = session.scalar(
            select(func.count())
            .select_from(RobotMessage)
            .where(
                RobotMessage.senior_id == senior_id,
                RobotMessage.created_at > now - timedelta(days=1),
            )
        )
        if (today or 0) >= MAX_PER_DAY:
            raise ConflictError(_TOO_MANY)
        row = RobotMessage(
            message_id=uuid.uuid4().hex,
            senior_id=senior_id,
            account_id=caller.account_id if (caller.account_id or 0) > 0 else None,
            sender=body.sender,
            text=body.text,
            created_at=now,
            expires_at=now + timedelta(hours=body.valid_hours),
        )
        payload: dict[str, Any] = SayMessagePayload(
            message_id=row.message_id,
            sender=row.sender,
            text=row.text,
            expires_at=row.expires_at,
        ).model_dump(mode="json")
        devices = list(
            session.scalars(
                select(Device.id).where(Device.senior_id == senior_id).order_by(Device.id)
            )
        )
        commands = [
            Command(
                command_id=uuid.uuid4().hex,
                device_id=device_id,
                ts=now,
                type=CommandType.SAY_MESSAGE,
                payload=payload,
            )
            for device_id in devices
        ]
        row.devices, row.commands_published = len(commands), 0
        session.add(row)
        session.flush()
        audit(
            session,
            caller,
            "create",
            "message",
            now,
            resource_id=row.id,
            senior_id=senior_id,
            detail=f"{len(row.text)} characters to {len(commands)} robot(s)",
        )
        message_pk = row.id
    sent = send_commands(ctx, commands)
    with ctx.sessions() as session, session.begin():
        stored = session.get_one(RobotMessage, message_pk)
        stored.commands_published = sent
        session.flush()
        return _out(stored, {}, now)
