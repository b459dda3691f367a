"""Ingest one MQTT message: validate, store idempotently on (device_id, epoch, seq), raise alerts.

The same key with the same content is a redelivery (ignored). The same key with different
content is a robot fault: the message is dead-lettered with the reason, a `device_fault` alert
opens for the robot, and a safety event (emergency, fall, no response, inactivity) still opens
its own alert, so a robot's bookkeeping error never silences a call for help.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cloud.alerts.rules import SEVERITY_OF, AlertDecision
from cloud.alerts.service import AlertChange, AlertEngine
from cloud.ingest.rollup import roll_up
from cloud.research.instruments import record_screening_event
from cloud.store.db import dialect_insert
from cloud.store.models import AlertKind, DeadLetter, Device, Event, SettledFloor
from protocol import (
    Envelope,
    EventType,
    Priority,
    ProtocolError,
    TopicKind,
    decode_envelope,
    parse_topic,
)
from protocol.envelope import MAX_MESSAGE_BYTES, check_topic
from protocol.topics import STATUS_OFFLINE, STATUS_ONLINE

log = logging.getLogger(__name__)

# Events whose alert opens even when their key conflicts with a stored event.
SAFETY_TYPES = frozenset(
    {EventType.EMERGENCY, EventType.FALL, EventType.NO_RESPONSE, EventType.INACTIVITY}
)


class Outcome(StrEnum):
    """What ingest did with a message."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    STATUS = "status"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """The result of one message; `reason` is set for dead letters, `alert` for alert events."""

    outcome: Outcome
    device_id: str | None = None
    seq: int | None = None
    reason: str | None = None
    alert: AlertChange | None = None


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A message decoded once: its envelope (events), or why it will be dead-lettered."""

    topic: str
    raw: bytes
    kind: TopicKind | None = None
    device_id: str | None = None
    envelope: Envelope | None = None
    error: str | None = None
    redelivered: bool = False  # the broker's DUP flag: it sent this message before

    @property
    def priority(self) -> Priority:
        """The envelope's priority; status messages and refusals count as normal."""
        return self.envelope.priority if self.envelope is not None else Priority.NORMAL


def parse_message(topic: str, raw: bytes) -> ParsedMessage:
    """Parse the topic and decode the envelope (pure: no store, no clock)."""
    try:
        device_id, kind = parse_topic(topic)
    except ProtocolError as e:
        return ParsedMessage(topic, raw, error=f"topic: {e}")
    if kind is TopicKind.STATUS:
        return ParsedMessage(topic, raw, kind, device_id)
    if kind is not TopicKind.EVENTS:
        return ParsedMessage(
            topic, raw, kind, device_id, error=f"ingest does not handle {kind} topics"
        )
    try:
        env = decode_envelope(raw)
        check_topic(env, device_id, kind)  # the topic parsed once, above
    except ProtocolError as e:
        return ParsedMessage(topic, raw, kind, device_id, error=str(e))
    except Exception as e:  # a bug on one message must not stop ingest
        log.exception("bug decoding a message on %r", topic[:200])
        return ParsedMessage(
            topic, raw, kind, device_id, error=f"internal error: {type(e).__name__}: {e}"[:1000]
        )
    return ParsedMessage(topic, raw, kind, device_id, envelope=env)


def parse_any(topic: str, raw: bytes) -> ParsedMessage:
    """`parse_message` that never raises: whatever fails becomes a dead-letter reason."""
    try:
        return parse_message(topic, raw)
    except Exception as e:  # the per-message boundary
        log.exception("bug parsing a message")
        return ParsedMessage(
            str(topic)[:512], bytes(raw), error=f"internal error: {type(e).__name__}: {e}"[:1000]
        )


def dead_letter(
    session: Session,
    topic: str,
    raw: bytes,
    reason: str,
    now: datetime,
    *,
    redelivered: bool = False,
) -> IngestOutcome:
    """Keep a refused message (first 64 KiB) with the reason it was refused.

    A broker redelivery (DUP: a worker died between storing the dead letter and acknowledging
    it) of a message already dead-lettered with the same reason is not kept twice.
    """
    if redelivered and session.scalar(
        select(DeadLetter.id)
        .where(
            DeadLetter.topic == topic[:512],
            DeadLetter.raw_size == len(raw),
            DeadLetter.reason == reason[:1000],
            DeadLetter.raw == raw[:MAX_MESSAGE_BYTES],
        )
        .limit(1)
    ):
        log.info("redelivered dead letter on %r already kept", topic[:200])
        return IngestOutcome(Outcome.DEAD_LETTERED, reason=reason)
    session.add(
        DeadLetter(
            topic=topic[:512],
            reason=reason[:1000],
            raw=raw[:MAX_MESSAGE_BYTES],
            raw_size=len(raw),
            received_at=now,
        )
    )
    log.warning("dead-lettered a message on %r: %s", topic[:200], reason)
    return IngestOutcome(Outcome.DEAD_LETTERED, reason=reason)


def _upsert_device(
    session: Session, device_id: str, now: datetime, updates: dict[str, Any], *, seen: bool
) -> str | None:
    """Insert the device or apply `updates`; `seen` bumps last_seen (events, not status).

    Returns the robot's senior as the now locked row holds it.
    """
    row = {"id": device_id, "first_seen": now, "last_seen": now, "online": True, **updates}
    set_ = {"last_seen": now, **updates} if seen else updates
    senior_id: str | None = session.execute(
        dialect_insert(session, Device)
        .values(row)
        .on_conflict_do_update(index_elements=[Device.id], set_=set_)
        .returning(Device.senior_id)
    ).scalar_one()
    return senior_id


def _heartbeat_summary(env: Envelope) -> dict[str, Any]:
    p = env.payload
    return {
        "seq": env.seq,
        "ts": env.ts.isoformat(),
        "uptime_s": p.get("uptime_s"),
        "agent_version": p.get("agent_version"),
        "outbox_pending": p.get("outbox_pending"),
        "rss_mb": p.get("rss_mb"),
        "failed_self_tests": [t["name"] for t in p.get("self_tests", []) if not t.get("ok")],
    }


def ingest_message(
    session: Session,
    topic: str,
    raw: bytes,
    now: datetime,
    *,
    alerts: AlertEngine | None = None,
) -> IngestOutcome:
    """Handle one message inside the caller's transaction; the caller commits."""
    return store_message(session, parse_message(topic, raw), now, alerts=alerts)


def store_message(
    session: Session,
    message: ParsedMessage,
    now: datetime,
    *,
    alerts: AlertEngine | None = None,
) -> IngestOutcome:
    """Store one parsed message inside the caller's transaction; the caller commits."""
    if message.error is not None:
        return dead_letter(
            session, message.topic, message.raw, message.error, now, redelivered=message.redelivered
        )
    if message.kind is TopicKind.STATUS:
        assert message.device_id is not None
        return _ingest_status(session, message.topic, message.device_id, message.raw, now)
    env = message.envelope
    assert env is not None, "an events message without an error has an envelope"

    updates: dict[str, Any] = {"online": True}
    if env.type is EventType.HEARTBEAT:
        updates |= {"last_heartbeat": _heartbeat_summary(env), "last_heartbeat_at": now}
    alerts = alerts or AlertEngine()
    alerts.note_senior(
        env.device_id, _upsert_device(session, env.device_id, now, updates, seen=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        inserted = _pg_insert_event(session, env, now)
    else:
        inserted = _sqlite_insert_event(session, env, now)
    if not inserted:
        return _on_conflict(session, message, env, now, alerts)
    if env.type is EventType.HEARTBEAT:
        roll_up(session, [env], now)  # counted once: only a key that was inserted
    change = alerts.on_event(session, env, now)
    if env.type is EventType.SCREENING:  # research: an enrolled participant's assessment
        record_screening_event(session, env, now)
    return IngestOutcome(Outcome.STORED, env.device_id, env.seq, alert=change)


# PostgreSQL: the events as one JSON document (one bound value, whatever the batch size). `events`
# is partitioned by month of `ts` (migration 0009), so its unique index is (device_id, epoch, seq,
# ts): `NOT EXISTS` keeps the key (device_id, epoch, seq) unique across partitions, and
# `ON CONFLICT DO NOTHING` settles two workers inserting the same redelivery at once. A key at or
# below the robot's settled floor (`event_floors`, written by retention in the transaction that
# deletes rows) is refused too: one statement sees either the row or the floor, never neither.
# The one insert of both the single and the batched path.
PG_INSERT_EVENTS = text(
    """
    INSERT INTO events (device_id, epoch, seq, type, priority, ts, received_at, payload, model)
    SELECT r.d, r.e, r.s, r.t, r.p, r.ts, :now, r.pl, r.m
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
        AS r(d text, e bigint, s bigint, t text, p text, ts timestamptz, pl jsonb, m jsonb)
    WHERE NOT EXISTS (
        SELECT 1 FROM events x WHERE x.device_id = r.d AND x.epoch = r.e AND x.seq = r.s
    ) AND NOT EXISTS (
        SELECT 1 FROM event_floors f WHERE f.device_id = r.d AND f.epoch = r.e AND f.seq >= r.s
    )
    ON CONFLICT DO NOTHING
    RETURNING device_id, epoch, seq
    """
)


def pg_event_row(env: Envelope) -> dict[str, Any]:
    """One envelope as a row of PG_INSERT_EVENTS' JSON document."""
    return {
        "d": env.device_id,
        "e": env.epoch,
        "s": env.seq,
        "t": env.type.value,
        "p": env.priority.value,
        "ts": env.ts.isoformat(),
        "pl": env.payload,
        "m": env.model.model_dump() if env.model else None,
    }


def _pg_insert_event(session: Session, env: Envelope, now: datetime) -> bool:
    rows = json.dumps([pg_event_row(env)])
    return bool(session.execute(PG_INSERT_EVENTS, {"now": now, "rows": rows}).all())


def settled_floors(session: Session, device_ids: Iterable[str]) -> dict[tuple[str, int], int]:
    """The settled floor of each (device, epoch) of these robots (`event_floors`).

    SQLite: read after the batch's first write, so no retention run commits in between (one
    writer at a time); PostgreSQL checks the floor inside its insert statement instead.
    """
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(SettledFloor.device_id, SettledFloor.epoch, SettledFloor.seq).where(
            SettledFloor.device_id.in_(ids)
        )
    ).all()
    return {(d, e): s for d, e, s in rows}


def below_floor(env: Envelope, floors: dict[tuple[str, int], int]) -> bool:
    """True when the envelope's key is at or below its robot's settled floor (pure)."""
    floor = floors.get((env.device_id, env.epoch))
    return floor is not None and env.seq <= floor


def _sqlite_insert_event(session: Session, env: Envelope, now: datetime) -> bool:
    """Whether the key was free (inserted); SQLite's events keep the key's unique index."""
    if below_floor(env, settled_floors(session, [env.device_id])):
        return False
    inserted = session.execute(
        dialect_insert(session, Event)
        .values(
            device_id=env.device_id,
            epoch=env.epoch,
            seq=env.seq,
            type=env.type.value,
            priority=env.priority.value,
            ts=env.ts,
            received_at=now,
            payload=env.payload,
            model=env.model.model_dump() if env.model else None,
        )
        .on_conflict_do_nothing(index_elements=[Event.device_id, Event.epoch, Event.seq])
        .returning(Event.id)
    ).scalar_one_or_none()
    return inserted is not None


def _differences(stored: Event, env: Envelope) -> list[str]:
    """The fields in which a stored event differs from an envelope with the same key."""
    model = env.model.model_dump() if env.model else None
    pairs = {
        "type": (stored.type, env.type.value),
        "priority": (stored.priority, env.priority.value),
        "ts": (stored.ts, env.ts),
        "payload": (stored.payload, env.payload),
        "model": (stored.model, model),
    }
    return [name for name, (a, b) in pairs.items() if a != b]


def _on_conflict(
    session: Session, message: ParsedMessage, env: Envelope, now: datetime, alerts: AlertEngine
) -> IngestOutcome:
    """The key is taken: a redelivery (same content) or a robot fault (different content)."""
    stored = session.scalars(
        select(Event)
        .where(Event.device_id == env.device_id, Event.epoch == env.epoch, Event.seq == env.seq)
        .order_by(Event.id)
        .limit(1)
    ).one_or_none()
    if stored is None:
        return _on_settled(session, message, env, now, alerts)
    differ = _differences(stored, env)
    if not differ:
        log.debug("duplicate event %s epoch %d #%d", env.device_id, env.epoch, env.seq)
        return IngestOutcome(Outcome.DUPLICATE, env.device_id, env.seq)
    reason = (
        f"conflict: {env.device_id} epoch {env.epoch} seq {env.seq} is already stored as a"
        f" {stored.type} event; this {env.type.value} event differs in {', '.join(differ)}"
    )
    dead_letter(session, message.topic, message.raw, reason, now)
    fault = AlertDecision(AlertKind.DEVICE_FAULT, SEVERITY_OF[AlertKind.DEVICE_FAULT])
    change: AlertChange | None = alerts.raise_alert(
        session, env.device_id, fault, env.seq, now, channel="ingest", note=reason[:500]
    )
    if env.type in SAFETY_TYPES:
        # The robot reused a seq, but the senior may really need help: alert as if stored.
        change = alerts.on_event(session, env, now) or change
    return IngestOutcome(Outcome.DEAD_LETTERED, env.device_id, env.seq, reason, change)


def _on_settled(
    session: Session, message: ParsedMessage, env: Envelope, now: datetime, alerts: AlertEngine
) -> IngestOutcome:
    """The key is at or below the settled floor and its row was deleted by retention.

    A routine event (a heartbeat days old) is a redelivery: it was stored and counted once.
    Its content can no longer be compared, so a safety event, whose rows are kept for years
    and whose key should never come back, is treated as a conflict: dead letter, and its alert.
    """
    if env.type not in SAFETY_TYPES:
        log.debug("settled event %s epoch %d #%d again", env.device_id, env.epoch, env.seq)
        return IngestOutcome(Outcome.DUPLICATE, env.device_id, env.seq)
    reason = (
        f"conflict: {env.device_id} epoch {env.epoch} seq {env.seq} was stored and removed by"
        f" retention; this {env.type.value} event cannot be compared with it"
    )
    dead_letter(session, message.topic, message.raw, reason, now)
    change = alerts.on_event(session, env, now)
    return IngestOutcome(Outcome.DEAD_LETTERED, env.device_id, env.seq, reason, change)


def _ingest_status(
    session: Session, topic: str, device_id: str, raw: bytes, now: datetime
) -> IngestOutcome:
    if raw == b"":
        return IngestOutcome(Outcome.IGNORED, device_id, reason="retained status cleared")
    if raw not in (STATUS_ONLINE, STATUS_OFFLINE):
        shown = raw[:40].decode("utf-8", "replace")
        return dead_letter(
            session, topic, raw, f"status must be 'online' or 'offline', got {shown!r}", now
        )
    updates = {"online": raw == STATUS_ONLINE, "last_status_at": now}
    _upsert_device(session, device_id, now, updates, seen=False)
    return IngestOutcome(Outcome.STATUS, device_id)
