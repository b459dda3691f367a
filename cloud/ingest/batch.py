"""Store a batch of messages in the caller's transaction, the most urgent devices first.

Most events are stored in bulk: for the devices whose messages in the batch are all events of
a bulk type with distinct keys, one multi-row device upsert and one multi-row
`INSERT ... ON CONFLICT DO NOTHING RETURNING` (PostgreSQL: rows passed as one JSON document),
idempotent on (device_id, epoch, seq) as before; then the alert engine sees each stored event
in the device's order, exactly as one by one (no rule of a bulk type reads the events table, so
rows stored a moment early change nothing), and a key the store already holds goes through the
per-message conflict check (redelivery or robot fault). Everything else (critical events,
reminders, mood and screenings whose rules read stored events, status, refusals, and every
message of a device that sent one of those) is stored one message at a time in
`processing_order`, before the bulk part: an emergency never waits behind routine rows.
"""

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cloud.alerts.service import AlertEngine
from cloud.ingest.handler import (
    PG_INSERT_EVENTS,
    SAFETY_TYPES,
    IngestOutcome,
    Outcome,
    ParsedMessage,
    _heartbeat_summary,
    _on_conflict,
    below_floor,
    pg_event_row,
    settled_floors,
    store_message,
)
from cloud.ingest.rollup import roll_up
from cloud.store.db import dialect_insert
from cloud.store.models import Device, Event
from protocol import Envelope, EventType, Priority, TopicKind

# Event types whose handling reads stored events (the medication and mood rules, research
# assessments): stored one at a time, so each sees exactly the events before it.
ONE_BY_ONE_TYPES = frozenset({EventType.REMINDER, EventType.MOOD, EventType.SCREENING})

# Routine rows stored per step: a critical message that arrives meanwhile waits for at most one
# step (a few milliseconds), not for the whole batch.
ROUTINE_CHUNK = 100


class StepPace:
    """How many routine rows the next step stores: as many as fit in `step_s` at the rate the
    last steps ran, between `ROUTINE_CHUNK` and `max_rows`.

    A critical message waits for at most the step in hand, so a step is bounded in time, not in
    rows: each step costs three round trips whatever its size, and in-process (500-event
    batches into PostgreSQL, load 12-14) steps of 500 rows stored 2,747 events/s against 1,044
    for steps of 100. On a busy store the steps stay small; on a fast one they grow.
    """

    def __init__(
        self,
        step_s: float = 0.05,
        max_rows: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.step_s = step_s
        self.max_rows = max_rows
        self.clock = clock
        self._rate = 0.0  # rows per second, smoothed; 0 until a step was timed

    def rows(self) -> int:
        """Rows for the next step."""
        if self._rate <= 0:
            return ROUTINE_CHUNK
        return max(ROUTINE_CHUNK, min(self.max_rows, int(self._rate * self.step_s)))

    def record(self, rows: int, seconds: float) -> None:
        """A step of `rows` took `seconds`; the estimate follows, half old and half new."""
        if rows <= 0 or seconds <= 0:
            return
        rate = rows / seconds
        self._rate = rate if self._rate <= 0 else (self._rate + rate) / 2


# Rows per multi-row statement: 9 bound values per event row stays under SQLite's 999 limit
# (older builds) and far under PostgreSQL's 65,535.
_CHUNK = {"sqlite": 100, "postgresql": 1000}


def processing_order(messages: Sequence[ParsedMessage]) -> list[int]:
    """Indices in storing order: devices by their most urgent message, then by arrival.

    A device's own messages keep their arrival order, because one event can cancel or clear
    what an earlier one of the same device raised ("I'm fine" after a fall, a touch after
    inactivity); only messages of different devices overtake each other.
    """
    groups: dict[str | None, tuple[int, int]] = {}
    for i, message in enumerate(messages):
        rank = message.priority.rank
        best = groups.get(message.device_id)
        groups[message.device_id] = (rank, i) if best is None else (min(best[0], rank), best[1])
    return sorted(range(len(messages)), key=lambda i: (*groups[messages[i].device_id], i))


def _is_routine(message: ParsedMessage) -> bool:
    env = message.envelope
    return (
        message.error is None
        and env is not None
        and env.type not in ONE_BY_ONE_TYPES
        and env.type not in SAFETY_TYPES
        and env.priority is not Priority.CRITICAL
    )


def bulk_devices(messages: Sequence[ParsedMessage]) -> set[str]:
    """Devices whose every message in the batch is routine, each key appearing once."""
    routine: set[str] = set()
    mixed: set[str] = set()
    keys: set[tuple[str, int, int]] = set()
    for message in messages:
        if message.device_id is None:
            continue
        env = message.envelope
        if not _is_routine(message) or env is None:
            if message.error is None or message.kind is TopicKind.STATUS:
                mixed.add(message.device_id)  # a dead letter alone does not order anything
            continue
        key = (env.device_id, env.epoch, env.seq)
        if key in keys or env.device_id != message.device_id:
            mixed.add(message.device_id)
        keys.add(key)
        routine.add(message.device_id)
    return routine - mixed


def store_batch(
    session: Session,
    messages: Sequence[ParsedMessage],
    now: datetime,
    *,
    alerts: AlertEngine | None = None,
    yield_to: Callable[[], bool] | None = None,
    bulk: bool = True,
    pace: StepPace | None = None,
) -> list[tuple[int, IngestOutcome]]:
    """Store messages inside the caller's transaction; (index, outcome) in storing order.

    Stops before the next message as soon as `yield_to()` is true (a critical message
    waits): the caller commits what was stored and comes back for the rest. `bulk=False`
    stores every message on its own (the path before batching, kept for comparison).
    Routine rows go in steps of `ROUTINE_CHUNK`, or of what `pace` allows (timed here).
    """
    engine = alerts or AlertEngine()
    locked = _lock_devices(session, messages, now)
    order = processing_order(messages)
    fast = bulk_devices(messages) if bulk else set()
    device_ids = {m.device_id for m in messages if m.device_id is not None}
    stored: list[tuple[int, IngestOutcome]] = []
    routine: list[int] = []
    # The seniors read up front are the ones an alert is opened for only on rows already locked;
    # otherwise storing a message tells the engine its robot's senior (`store_message`).
    with engine.prefetched(session, device_ids, seniors=locked):
        for i in order:
            if yield_to is not None and yield_to():
                break
            if messages[i].device_id in fast and _is_routine(messages[i]):
                routine.append(i)  # stored together below, after every urgent message
            else:
                stored.append((i, store_message(session, messages[i], now, alerts=engine)))
        start = 0
        while start < len(routine):
            if start and yield_to is not None and yield_to():
                break  # a critical message waits: commit what is stored, come back for the rest
            chunk = routine[start : start + (pace.rows() if pace else ROUTINE_CHUNK)]
            began = pace.clock() if pace else 0.0
            stored += _store_routine(session, messages, chunk, now, engine)
            if pace:
                pace.record(len(chunk), pace.clock() - began)
            start += len(chunk)
    return stored


# PostgreSQL: the batch's robots, locked (inserted or their `last_seen` bumped, as storing any of
# their events does) in one statement in id order before anything else. A transaction stores
# its routine rows in steps and its other messages one by one, each taking robots' rows as it
# goes; two workers (or a worker and its urgent lane) doing that in different orders locked
# each other's robots and waited for PostgreSQL's deadlock check (1 s) to abort one of them:
# 11 deadlocks in one 30,000-event drain with two workers. Locked in one order up front, they
# cannot close a cycle.
_PG_LOCK_DEVICES = text(
    """
    INSERT INTO devices (id, first_seen, last_seen, online)
    SELECT r.id, :now, :now, true FROM unnest(CAST(:ids AS text[])) AS r(id)
    ORDER BY r.id
    ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, online = true
    """
)


def _lock_devices(session: Session, messages: Sequence[ParsedMessage], now: datetime) -> bool:
    """Lock the robots whose events the batch stores, in id order (PostgreSQL, two or more);
    whether it did."""
    ids = sorted(
        {
            m.envelope.device_id
            for m in messages
            if m.error is None and m.envelope is not None and m.kind is TopicKind.EVENTS
        }
    )
    if len(ids) < 2 or session.get_bind().dialect.name != "postgresql":
        return False  # one robot's row alone cannot close a cycle; SQLite has one writer anyway
    session.execute(_PG_LOCK_DEVICES, {"now": now, "ids": ids})
    return True


def _store_routine(
    session: Session,
    messages: Sequence[ParsedMessage],
    indices: Sequence[int],
    now: datetime,
    engine: AlertEngine,
) -> list[tuple[int, IngestOutcome]]:
    """Bulk-store routine events (distinct keys, devices with nothing else in the batch)."""
    envs = [(i, messages[i].envelope) for i in indices]
    heartbeat: dict[str, dict[str, Any]] = {}
    devices: set[str] = set()
    for _, env in envs:
        assert env is not None
        devices.add(env.device_id)
        if env.type is EventType.HEARTBEAT:
            heartbeat[env.device_id] = _heartbeat_summary(env)  # the last one wins, as one by one
    if session.get_bind().dialect.name == "postgresql":
        inserted = _pg_store(session, [e for _, e in envs if e is not None], heartbeat, now)
    else:
        _upsert_devices(session, sorted(devices), heartbeat, now)
        inserted = _insert_events(session, [e for _, e in envs if e is not None], now)
    roll_up(
        session,
        [
            e
            for _, e in envs
            if e is not None
            and e.type is EventType.HEARTBEAT
            and (e.device_id, e.epoch, e.seq) in inserted
        ],
        now,
    )
    out: list[tuple[int, IngestOutcome]] = []
    for i, env in envs:
        assert env is not None
        if (env.device_id, env.epoch, env.seq) in inserted:
            change = engine.on_event(session, env, now)
            out.append((i, IngestOutcome(Outcome.STORED, env.device_id, env.seq, alert=change)))
        else:
            out.append((i, _on_conflict(session, messages[i], env, now, engine)))
    return out


def _insert_events(
    session: Session, envs: Sequence[Envelope], now: datetime
) -> set[tuple[str, int, int]]:
    """Multi-row `INSERT ... VALUES` (any dialect); the keys actually inserted.

    Called after the devices' upsert (the transaction's first write): keys at or below a
    settled floor are left out (already stored; their rows may have been deleted).
    """
    floors = settled_floors(session, {env.device_id for env in envs})
    envs = [env for env in envs if not below_floor(env, floors)]
    chunk = _CHUNK.get(session.get_bind().dialect.name, 100)
    inserted: set[tuple[str, int, int]] = set()
    for start in range(0, len(envs), chunk):
        rows = [
            {
                "device_id": env.device_id,
                "epoch": env.epoch,
                "seq": env.seq,
                "type": env.type.value,
                "priority": env.priority.value,
                "ts": env.ts,
                "received_at": now,
                "payload": env.payload,
                "model": env.model.model_dump() if env.model else None,
            }
            for env in envs[start : start + chunk]
        ]
        result = session.execute(
            dialect_insert(session, Event)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[Event.device_id, Event.epoch, Event.seq])
            .returning(Event.device_id, Event.epoch, Event.seq)
        )
        inserted.update((d, e, s) for d, e, s in result.all())
    return inserted


# PostgreSQL: one statement per table whatever the batch size, its rows passed as one JSON
# document (one bound value: no statement to build, no per-value quoting in Python); the events'
# statement is the handler's PG_INSERT_EVENTS (the key across partitions is explained there).
_PG_DEVICES = text(
    """
    INSERT INTO devices (id, first_seen, last_seen, online, last_heartbeat, last_heartbeat_at)
    SELECT r.id, :now, :now, true, r.hb, CASE WHEN r.hb IS NULL THEN NULL ELSE :now END
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id text, hb jsonb)
    ORDER BY r.id
    ON CONFLICT (id) DO UPDATE SET
        last_seen = excluded.last_seen,
        online = true,
        last_heartbeat = COALESCE(excluded.last_heartbeat, devices.last_heartbeat),
        last_heartbeat_at = COALESCE(excluded.last_heartbeat_at, devices.last_heartbeat_at)
    """
)


def _pg_store(
    session: Session, envs: Sequence[Envelope], heartbeat: dict[str, dict[str, Any]], now: datetime
) -> set[tuple[str, int, int]]:
    """Devices then events, each in one statement; the keys actually inserted."""
    ids = sorted({env.device_id for env in envs})
    devices = [{"id": d, "hb": heartbeat.get(d)} for d in ids]
    session.execute(_PG_DEVICES, {"now": now, "rows": json.dumps(devices)})
    rows = [pg_event_row(env) for env in envs]
    result = session.execute(PG_INSERT_EVENTS, {"now": now, "rows": json.dumps(rows)})
    return {(d, e, s) for d, e, s in result.all()}


def _upsert_devices(
    session: Session, device_ids: Sequence[str], heartbeat: dict[str, dict[str, Any]], now: datetime
) -> None:
    """Multi-row upserts for the batch's devices (sorted: the same lock order on every worker).

    Devices that sent a heartbeat get its summary; the others only `last_seen` and `online`.
    """
    chunk = _CHUNK.get(session.get_bind().dialect.name, 100)
    beating = [d for d in device_ids if d in heartbeat]
    silent = [d for d in device_ids if d not in heartbeat]
    for start in range(0, len(beating), chunk):
        rows = [
            {
                "id": d,
                "first_seen": now,
                "last_seen": now,
                "online": True,
                "last_heartbeat": heartbeat[d],
                "last_heartbeat_at": now,
            }
            for d in beating[start : start + chunk]
        ]
        stmt = dialect_insert(session, Device).values(rows)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Device.id],
                set_={
                    "last_seen": stmt.excluded.last_seen,
                    "online": True,
                    "last_heartbeat": stmt.excluded.last_heartbeat,
                    "last_heartbeat_at": stmt.excluded.last_heartbeat_at,
                },
            )
        )
    for start in range(0, len(silent), chunk):
        rows = [
            {"id": d, "first_seen": now, "last_seen": now, "online": True}
            for d in silent[start : start + chunk]
        ]
        stmt = dialect_insert(session, Device).values(rows)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Device.id],
                set_={"last_seen": stmt.excluded.last_seen, "online": True},
            )
        )
