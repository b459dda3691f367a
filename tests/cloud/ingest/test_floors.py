"""Heartbeat rows kept for days, the roll-up kept: retention settles a floor per robot and epoch
before it deletes, and a key at or below it is a duplicate (never stored or counted again), on
SQLite and PostgreSQL, one by one and in bulk, out of order, after a restart."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.ingest import Outcome, ingest_message, store_batch
from cloud.ingest.stored import StoredPublisher
from cloud.store import Alert, DeadLetter, Event, make_engine, make_session_factory
from cloud.store.models import HeartbeatHour, SettledFloor
from cloud.store.partitions import RetentionPolicy, apply_retention, maintain
from protocol import EventType, encode, events_topic, make_envelope
from protocol.delivery import SEQS_DROPPED_CODE, StoredReport, decode_stored
from protocol.events import DeviceFaultPayload, EmergencyPayload, HeartbeatPayload, TriggerSource
from tests.cloud.helpers import NOW, new_device_id
from tests.cloud.ingest.test_rollup import beat, parsed

OLD = NOW - timedelta(days=10)
# Heartbeats kept 2 days; everything else as by default.
POLICY = RetentionPolicy(days={"heartbeat": 2}, window_days=60)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    yield e
    e.dispose()


def _sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _ingest(sessions: sessionmaker[Session], device: str, seqs: list[int]) -> list[Outcome]:
    """One by one: heartbeat `seq` at OLD + seq minutes."""
    out = []
    for seq in seqs:
        with sessions() as s, s.begin():
            raw = beat(device, seq, OLD + timedelta(minutes=seq))
            out.append(ingest_message(s, events_topic(device), raw, OLD).outcome)
    return out


def _bulk(sessions: sessionmaker[Session], device: str, seqs: list[int]) -> list[Outcome]:
    messages = [parsed(device, beat(device, seq, OLD + timedelta(minutes=seq))) for seq in seqs]
    with sessions() as s, s.begin():
        return [o.outcome for _, o in store_batch(s, messages, OLD, alerts=AlertEngine())]


def _counted(sessions: sessionmaker[Session], device: str) -> int:
    with sessions() as s:
        total = s.scalar(
            select(func.sum(HeartbeatHour.count)).where(HeartbeatHour.device_id == device)
        )
        return int(total or 0)


def _rows(sessions: sessionmaker[Session], device: str) -> list[int]:
    with sessions() as s:
        return list(
            s.scalars(select(Event.seq).where(Event.device_id == device).order_by(Event.seq))
        )


def _floor(sessions: sessionmaker[Session], device: str, epoch: int = 0) -> int | None:
    with sessions() as s:
        return s.scalar(
            select(SettledFloor.seq).where(
                SettledFloor.device_id == device, SettledFloor.epoch == epoch
            )
        )


def test_heartbeats_past_their_days_go_and_their_redelivery_is_not_counted_again(
    engine: Engine,
) -> None:
    sessions = _sessions(engine)
    d = new_device_id()
    assert set(_ingest(sessions, d, [3, 1, 2, 6, 4, 5])) == {Outcome.STORED}  # out of order
    maintain(engine, NOW, POLICY)
    assert _rows(sessions, d) == []
    assert _floor(sessions, d) == 6
    assert _counted(sessions, d) == 6
    # Every one again, one by one and in bulk (in one batch with a new heartbeat).
    assert set(_ingest(sessions, d, [2, 6, 1])) == {Outcome.DUPLICATE}
    outcomes = _bulk(sessions, d, [4, 7, 5, 3])
    assert outcomes == [Outcome.DUPLICATE, Outcome.STORED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert _rows(sessions, d) == [7]
    assert _counted(sessions, d) == 7
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0


def test_a_hole_holds_the_floor_and_rows_past_it_stay_until_it_is_filled(engine: Engine) -> None:
    sessions = _sessions(engine)
    d = new_device_id()
    _ingest(sessions, d, [1, 2, 3, 5, 6])
    maintain(engine, NOW, POLICY)
    assert _floor(sessions, d) == 3
    assert _rows(sessions, d) == [5, 6]  # above the hole: their keys still deduplicate
    assert _bulk(sessions, d, [6, 4]) == [Outcome.DUPLICATE, Outcome.STORED]  # the hole filled
    maintain(engine, NOW, POLICY)
    assert (_floor(sessions, d), _rows(sessions, d), _counted(sessions, d)) == (6, [], 6)
    assert _ingest(sessions, d, [4, 5]) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert _counted(sessions, d) == 6


def test_epochs_have_floors_of_their_own(engine: Engine) -> None:
    sessions = _sessions(engine)
    d = new_device_id()
    _ingest(sessions, d, [1, 2])
    env = make_envelope(d, 1, beat_payload(), event_type=EventType.HEARTBEAT, ts=OLD, epoch=1)
    with sessions() as s, s.begin():
        assert ingest_message(s, events_topic(d), encode(env), OLD).outcome is Outcome.STORED
    maintain(engine, NOW, POLICY)
    assert (_floor(sessions, d, 0), _floor(sessions, d, 1)) == (2, 1)
    with sessions() as s, s.begin():
        assert ingest_message(s, events_topic(d), encode(env), OLD).outcome is Outcome.DUPLICATE
    env2 = make_envelope(d, 2, beat_payload(), event_type=EventType.HEARTBEAT, ts=OLD, epoch=1)
    with sessions() as s, s.begin():
        assert ingest_message(s, events_topic(d), encode(env2), OLD).outcome is Outcome.STORED
    assert _counted(sessions, d) == 4


def beat_payload() -> HeartbeatPayload:
    return HeartbeatPayload(uptime_s=1.0, agent_version="0.1.0", outbox_pending=0, self_tests=[])


def test_a_restarted_worker_reports_from_the_floor(engine: Engine) -> None:
    """A cold stored report starts at the floor (rows below it deleted), and a warm one whose
    cached watermark is below the floor does not list the deleted rows as missing."""
    sessions = _sessions(engine)
    d, warm = new_device_id(), new_device_id()
    _ingest(sessions, d, [1, 2, 3, 4])
    _ingest(sessions, warm, [1, 2])
    published: list[tuple[str, bytes]] = []
    before = StoredPublisher(sessions, lambda t, p: published.append((t, p)))
    before.flush([(warm, 0)])  # cached watermark 2
    _ingest(sessions, warm, [3, 4, 6])
    maintain(engine, NOW, POLICY)
    assert _rows(sessions, d) == []
    assert _rows(sessions, warm) == [6]
    cold = StoredPublisher(sessions, lambda t, p: published.append((t, p)))
    cold.flush([(d, 0)])
    before.flush([(warm, 0)])
    with sessions() as s:
        one_by_one = cold.report(s, d, 0).report
    assert [decode_stored(p) for _, p in published[-2:]] == [
        StoredReport(epoch=0, stored_up_to=4),
        StoredReport(epoch=0, stored_up_to=6, missing=((5, 5),)),
    ]
    assert one_by_one == StoredReport(epoch=0, stored_up_to=4)


def test_seqs_the_robot_declared_dropped_do_not_hold_the_floor(engine: Engine) -> None:
    sessions = _sessions(engine)
    d = new_device_id()
    _ingest(sessions, d, [1, 2])
    fault = DeviceFaultPayload(component="outbox", code=SEQS_DROPPED_CODE, detail="3-4")
    env = make_envelope(d, 5, fault, event_type=EventType.DEVICE_FAULT, ts=OLD)
    with sessions() as s, s.begin():
        ingest_message(s, events_topic(d), encode(env), OLD)
    _ingest(sessions, d, [6, 7])
    maintain(engine, NOW, POLICY)
    assert _floor(sessions, d) == 7
    assert _rows(sessions, d) == [5]  # the fault is kept 180 days
    assert _ingest(sessions, d, [6]) == [Outcome.DUPLICATE]


def test_a_safety_event_below_the_floor_whose_row_went_still_alerts(engine: Engine) -> None:
    """Its content cannot be compared any more: dead-lettered, and the call for help alerts."""
    sessions = _sessions(engine)
    d = new_device_id()
    payload = EmergencyPayload(trigger=TriggerSource.VOICE)
    call = make_envelope(d, 1, payload, event_type=EventType.EMERGENCY, ts=OLD)
    with sessions() as s, s.begin():
        assert ingest_message(s, events_topic(d), encode(call), OLD).outcome is Outcome.STORED
    maintain(engine, NOW, RetentionPolicy(days={"emergency": 2}, window_days=60))
    assert _rows(sessions, d) == []
    with sessions() as s, s.begin():
        out = ingest_message(s, events_topic(d), encode(call), NOW, alerts=AlertEngine())
    assert out.outcome is Outcome.DEAD_LETTERED
    assert "removed by retention" in str(out.reason)
    assert out.alert is not None
    with sessions() as s:
        assert s.scalar(select(Alert.kind).where(Alert.id == out.alert.alert_id)) == "emergency"


def test_postgresql_a_redelivery_during_retention_is_counted_once(migrated_pg_url: str) -> None:
    """Ingest sees either the row (retention not committed) or the floor (committed)."""
    engine = make_engine(migrated_pg_url)
    sessions = _sessions(engine)
    d = new_device_id()
    _ingest(sessions, d, [1, 2, 3])
    with engine.connect() as conn, conn.begin():
        apply_retention(conn, NOW, POLICY)
        assert _ingest(sessions, d, [2]) == [Outcome.DUPLICATE]  # the row, not yet deleted
        assert _bulk(sessions, d, [3, 4]) == [Outcome.DUPLICATE, Outcome.STORED]
    assert _ingest(sessions, d, [1, 2]) == [Outcome.DUPLICATE, Outcome.DUPLICATE]  # the floor
    assert _bulk(sessions, d, [3]) == [Outcome.DUPLICATE]
    assert (_rows(sessions, d), _counted(sessions, d)) == ([4], 4)
    engine.dispose()
