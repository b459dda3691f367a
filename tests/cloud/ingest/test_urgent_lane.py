"""The urgent lane (PostgreSQL): an emergency is committed while a routine step is still open;
and transactions lock their robots in one order, so the lane and other workers never deadlock.

Without it the one ingest thread yields to an emergency only between steps: the emergency's
alert waits for the step in hand and its commit. The routine step is held open here by an
alert engine that waits on an event (no wall-clock window): the emergency's alert must be
committed while it waits, nothing lost or stored twice, and the acknowledgements still go out
in arrival order (MQTT-4.6.0-2).
"""

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertChange, AlertEngine
from cloud.ingest import Inbox, IngestWorker, Received, parse_message, store_batch
from cloud.ingest.batch import StepPace
from cloud.settings import CloudSettings
from cloud.store import Alert, Event, make_engine, make_session_factory
from protocol import Envelope, EventType, events_topic
from tests.cloud.conftest import empty_pg
from tests.cloud.helpers import NOW, emergency, heartbeat, new_device_id, wait_until
from tests.cloud.ingest.lane import hand_in, recorded_acks


def _received(raw: bytes, device_id: str, mid: int) -> Received:
    return Received(parse_message(events_topic(device_id), raw), mid=mid, qos=1, received_s=mid)


class HoldingEngine(AlertEngine):
    """The real engine; the first heartbeat it judges waits until `release` is set, holding
    the routine step (and its transaction) open."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_event(self, session: Session, envelope: Envelope, now: datetime) -> AlertChange | None:
        if envelope.type is EventType.HEARTBEAT and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(60), "the test never released the routine step"
        return super().on_event(session, envelope, now)


@pytest.fixture
def pg_sessions(migrated_pg_url: str) -> Iterator[sessionmaker[Session]]:
    empty_pg(migrated_pg_url)
    engine = make_engine(migrated_pg_url)
    yield make_session_factory(engine)
    engine.dispose()


def _count(sessions: sessionmaker[Session], *where: object) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Event).where(*where)) or 0  # type: ignore[arg-type]


def _emergency_alerts(sessions: sessionmaker[Session], device_id: str) -> int:
    with sessions() as s:
        q = select(func.count()).select_from(Alert)
        return s.scalar(q.where(Alert.device_id == device_id, Alert.kind == "emergency")) or 0


def test_an_emergency_is_committed_while_a_routine_step_is_held_open(
    pg_sessions: sessionmaker[Session],
) -> None:
    engine = HoldingEngine()
    worker = IngestWorker(CloudSettings(), pg_sessions, alerts=engine, clock=lambda: NOW)
    acked = recorded_acks(worker)
    routine, sos = new_device_id(), new_device_id()

    def deliver(item: Received) -> None:
        hand_in(worker, item)

    worker.start_store_threads()
    try:
        for mid in (1, 2):
            deliver(_received(heartbeat(routine, mid), routine, mid))
        assert engine.entered.wait(30), "the routine step never began"
        deliver(_received(emergency(sos, 1), sos, 3))
        # The routine step is still open: the emergency's alert is committed all the same.
        wait_until(lambda: _emergency_alerts(pg_sessions, sos), 30, "the emergency's alert")
        assert not engine.release.is_set()
        assert _count(pg_sessions, Event.device_id == routine) == 0  # not committed yet
        assert acked == []  # acknowledged in arrival order: the heartbeats come first
        engine.release.set()
        wait_until(lambda: acked == [1, 2, 3] or None, 30, "every message acknowledged")
    finally:
        engine.release.set()
        worker.join_store_threads(5.0)
    assert _count(pg_sessions) == 3
    assert _count(pg_sessions, Event.device_id == sos) == 1
    assert _emergency_alerts(pg_sessions, sos) == 1
    assert acked == [1, 2, 3]
    assert worker.waiting == 0


def test_the_lane_is_on_for_postgresql_and_off_for_sqlite_with_its_one_writer(
    pg_sessions: sessionmaker[Session], migrated_sqlite: Callable[[Path], str], tmp_path: Path
) -> None:
    assert IngestWorker(CloudSettings(), pg_sessions)._inbox.urgent_lane
    engine = make_engine(migrated_sqlite(tmp_path / "cloud.sqlite3"))
    try:
        assert not IngestWorker(CloudSettings(), make_session_factory(engine))._inbox.urgent_lane
    finally:
        engine.dispose()


def test_the_lane_holds_back_a_robots_routine_messages_until_its_emergency_is_stored() -> None:
    sos, other = new_device_id(), new_device_id()
    inbox = Inbox(capacity=10, urgent_lane=True)
    inbox.put(_received(heartbeat(sos, 1), sos, 1), timeout_s=0)  # sent before its emergency
    in_hand = inbox.take(10, wait_s=0, fill_s=0)  # the routine thread took it, then:
    assert [r.mid for r in in_hand] == [1]
    inbox.put(_received(heartbeat(other, 1), other, 2), timeout_s=0)
    arrivals = inbox.urgent_arrivals()
    inbox.put(_received(emergency(sos, 2), sos, 3), timeout_s=0)
    assert inbox.urgent_arrivals() == arrivals + 1  # the routine step in hand commits
    # From its `put` on, the robot is the lane's: what the routine thread holds of it goes
    # back, and nothing of it is handed out, even before the lane takes the emergency.
    assert inbox.held_back(in_hand) == ([], in_hand)
    inbox.requeue(in_hand)
    inbox.put(_received(heartbeat(sos, 3), sos, 4), timeout_s=0)  # sent after it
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [2]
    urgent = inbox.take_urgent(10, wait_s=0)
    assert [r.mid for r in urgent] == [1, 3, 4]  # its robot's queued messages come along, in order
    inbox.put(_received(heartbeat(sos, 4), sos, 5), timeout_s=0)
    inbox.put(_received(heartbeat(other, 2), other, 6), timeout_s=0)
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [6]  # never an emergency's robot
    assert inbox.take(10, wait_s=0, fill_s=0) == []
    inbox.release(urgent)
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [5]
    inbox.put(_received(emergency(other, 3), other, 7), timeout_s=0)
    assert inbox.take(10, wait_s=0, fill_s=0) == []  # the lane's, not the routine thread's
    assert [r.mid for r in inbox.take_urgent(10, wait_s=0)] == [7]


def test_a_reconnect_frees_the_robots_of_dropped_emergencies() -> None:
    sos = new_device_id()
    inbox = Inbox(capacity=10, urgent_lane=True)
    old = Received(parse_message(events_topic(sos), emergency(sos, 1)), 1, 1, 1, 1)
    assert inbox.put(old, timeout_s=0)
    assert inbox.drop_before(2) == 1  # the broker sends it again on the new connection
    new = Received(parse_message(events_topic(sos), heartbeat(sos, 2)), 2, 1, 2, 2)
    assert inbox.put(new, timeout_s=0)
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [2]


def test_two_transactions_storing_the_same_robots_in_other_orders_do_not_deadlock(
    pg_sessions: sessionmaker[Session],
) -> None:
    """Routine rows go in steps of 100; a robot's row is taken by the step that stores it.
    A stores robots 100-199 then 0-99, B the other way round: before the robots were locked
    in id order up front, A's second step waited for B and B's for A, and PostgreSQL aborted
    one of them after its deadlock check (a second, and the batch stored again)."""
    robots = [f"lock-order-{i:03d}" for i in range(200)]
    with pg_sessions() as s, s.begin():  # the robots are known
        store_batch(s, [parse_message(events_topic(d), heartbeat(d, 1)) for d in robots], NOW)
    holding = HoldingEngine()
    errors: list[BaseException] = []
    pids: dict[str, int] = {}

    def store(name: str, order: list[str], engine: AlertEngine) -> None:
        try:
            with pg_sessions() as s, s.begin():
                pids[name] = int(s.scalar(text("SELECT pg_backend_pid()")) or 0)
                messages = [parse_message(events_topic(d), heartbeat(d, 2)) for d in order]
                store_batch(s, messages, NOW, alerts=engine, pace=StepPace())
        except BaseException as e:
            errors.append(e)

    a = threading.Thread(target=store, args=("a", robots[100:] + robots[:100], holding))
    a.start()
    assert holding.entered.wait(30), "A's first step never began"
    b = threading.Thread(target=store, args=("b", robots, AlertEngine()))
    b.start()

    def b_waits_for_a() -> bool:  # live lock state (pg_stat_activity would be a snapshot)
        if not b.is_alive():
            return True
        if "b" not in pids:
            return False
        with pg_sessions() as watch:
            query = text("SELECT CAST(:a AS integer) = ANY(pg_blocking_pids(:b))")
            return bool(watch.scalar(query, {"a": pids["a"], "b": pids["b"]}))

    wait_until(b_waits_for_a, 30, "B blocked by A")
    holding.release.set()
    a.join(60)
    b.join(60)
    assert errors == []
    assert _count(pg_sessions) == 400
