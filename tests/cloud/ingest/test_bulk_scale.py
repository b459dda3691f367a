"""Bulk ingest at the sizes of a drain (issue 16), on SQLite and PostgreSQL: a batch lost
between its insert and its commit is stored once when the broker redelivers it, and an
emergency that arrives while 5,000 routine messages are being stored waits for one step of
rows, not for the batch."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertChange, AlertEngine
from cloud.ingest import IngestWorker, Outcome, Received, parse_message, store_batch
from cloud.ingest.batch import ROUTINE_CHUNK, StepPace
from cloud.settings import CloudSettings
from cloud.store import Event
from cloud.store.models import HeartbeatHour
from protocol import Envelope, events_topic
from tests.cloud.helpers import NOW, emergency, heartbeat, new_device_id


def _count(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """(event rows, heartbeats counted in the hourly roll-up)."""
    with sessions() as s:
        rows = s.scalar(select(func.count()).select_from(Event)) or 0
        counted = s.scalar(select(func.coalesce(func.sum(HeartbeatHour.count), 0))) or 0
    return rows, counted


def test_a_batch_lost_between_insert_and_commit_is_stored_once_when_redelivered(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(300)]
    raws = [(d, heartbeat(d, seq)) for d in devices for seq in (1, 2)]
    messages = [parse_message(events_topic(d), raw) for d, raw in raws]
    with sessions() as s:  # the worker dies after the insert: its transaction never commits
        s.begin()
        stored = store_batch(s, messages, NOW, alerts=AlertEngine())
        assert {o.outcome for _, o in stored} == {Outcome.STORED}
        s.rollback()
    assert _count(sessions) == (0, 0)
    redelivered = [parse_message(events_topic(d), raw) for d, raw in raws]
    with sessions() as s, s.begin():  # the broker sends the unacknowledged batch again
        again = store_batch(s, redelivered, NOW, alerts=AlertEngine())
    assert [o.outcome for _, o in again] == [Outcome.STORED] * len(raws)
    with sessions() as s, s.begin():  # and once more, after the commit: all duplicates
        third = store_batch(s, redelivered, NOW, alerts=AlertEngine())
    assert {o.outcome for _, o in third} == {Outcome.DUPLICATE}
    assert _count(sessions) == (len(raws), len(raws))


class _ArrivesMidBatch(AlertEngine):
    """Puts an emergency into the worker's inbox when the first routine event is judged."""

    def __init__(self, arrive: Received) -> None:
        super().__init__()
        self.arrive = arrive
        self.worker: IngestWorker | None = None

    def on_event(self, session: Session, envelope: Envelope, now: datetime) -> AlertChange | None:
        if self.worker is not None and envelope.device_id != self.arrive.message.device_id:
            self.worker._inbox.put(self.arrive, timeout_s=0)
            self.worker = None
        return super().on_event(session, envelope, now)


def test_an_emergency_behind_5000_routine_messages_waits_for_one_step_not_the_batch(
    sessions: sessionmaker[Session],
) -> None:
    routine = [new_device_id() for _ in range(5000)]
    sos = new_device_id()
    batch = [Received(parse_message(events_topic(d), heartbeat(d, 1)), mid=1) for d in routine]
    call = Received(parse_message(events_topic(sos), emergency(sos, 1)), mid=2)
    alerts = _ArrivesMidBatch(call)
    committed_before_alert: list[int] = []

    def on_alert(change: AlertChange) -> None:  # runs after the emergency's commit
        committed_before_alert.append(_count(sessions)[0] - 1)

    worker = IngestWorker(
        CloudSettings(ingest_batch_max=10_000),
        sessions,
        alerts=alerts,
        on_alert=on_alert,
        clock=lambda: NOW,
        urgent_lane=False,  # the one-thread path (SQLite's); the lane: test_urgent_lane.py
    )
    alerts.worker = worker
    worker._process(batch)
    # The first step of routine rows was committed, then the emergency, then the rest.
    assert committed_before_alert == [ROUTINE_CHUNK]
    assert _count(sessions) == (5001, 5000)


def test_step_pace_fits_the_next_step_in_its_time_at_the_last_rate() -> None:
    pace = StepPace(step_s=0.05, max_rows=1000)
    assert pace.rows() == ROUTINE_CHUNK  # nothing timed yet
    pace.record(100, 0.01)  # 10,000 rows/s: 500 rows fit in 50 ms
    assert pace.rows() == 500
    pace.record(500, 0.5)  # 1,000 rows/s now: the estimate halves the difference
    assert pace.rows() == 275
    pace.record(100, 10.0)  # the store stalls: 10 rows/s, halfway there
    assert pace.rows() == 137
    pace.record(100, 10.0)  # and again: never below the fixed step
    assert pace.rows() == ROUTINE_CHUNK
    for _ in range(10):
        pace.record(1000, 0.001)  # a very fast store: never above max_rows
    assert pace.rows() == 1000


def test_store_batch_takes_steps_the_pace_allows_and_still_yields_between_them(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(1000)]
    messages = [parse_message(events_topic(d), heartbeat(d, 1)) for d in devices]
    ticks = iter(range(1_000_000))
    pace = StepPace(step_s=0.05, clock=lambda: next(ticks) * 0.01)  # each step "takes" 10 ms
    asked: list[int] = []

    def nothing_waits() -> bool:
        asked.append(1)
        return False

    with sessions() as s, s.begin():
        stored = store_batch(
            s, messages, NOW, alerts=AlertEngine(), yield_to=nothing_waits, pace=pace
        )
    assert len(stored) == 1000
    # one check per message while sorting, then one before each step after the first:
    # 100 rows, then 500 (100 rows in 10 ms fit 500 in 50 ms), then the last 400
    assert len(asked) == len(messages) + 2
    assert _count(sessions)[0] == 1000
