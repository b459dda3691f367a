"""What an emergency costs the store (PostgreSQL): round trips counted on the wire, not timed.

On a loaded machine each round trip waits for a core, so an emergency's alert latency is mostly
their number. libpq's trace of the urgent lane's connection shows every message the worker
sends; a round trip is a simple `Query` or an extended-protocol `Sync`, each waited on. Before
this count was cut an emergency cost 13: the pool's ping, BEGIN, two look-ups for the batch,
the robot, the event, the open-alert look-up, the senior, a savepoint pair around the alert's
insert, the transition and COMMIT.
"""

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.alerts.rules import SEVERITY_OF, AlertDecision
from cloud.ingest import IngestWorker
from cloud.settings import CloudSettings
from cloud.store import Alert, AlertKind, Device, make_engine, make_session_factory
from tests.cloud.conftest import empty_pg
from tests.cloud.helpers import NOW, emergency, heartbeat, new_device_id, wait_until
from tests.cloud.ingest.lane import hand_in, received, recorded_acks


class WireTrace:
    """libpq's trace of every connection the engine opens, one file each."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._folder = folder
        self._traced: list[tuple[Any, IO[str]]] = []
        self._lock = threading.Lock()
        event.listen(engine, "connect", self._trace)

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        with self._lock:
            out = (self._folder / f"conn{len(self._traced)}.trace").open("w")
            self._traced.append((dbapi_connection.pgconn, out))  # open while libpq writes
        dbapi_connection.pgconn.trace(out.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    def transactions(self, table: str) -> list[int]:
        """Per transaction of the connection that wrote `table`: the messages the client waited
        on (`Query`, `Sync`) since the previous COMMIT, that COMMIT included."""
        self.close()
        for _, out in self._traced:
            lines = [line.split("\t") for line in Path(out.name).read_text().splitlines()]
            if not any(f"INSERT INTO {table} " in line[-1] for line in lines):
                continue
            counts, count = [], 0
            for fields in lines:
                if len(fields) > 2 and fields[0] == "F" and fields[2] in ("Query", "Sync"):
                    count += 1
                    if fields[2] == "Query" and '"COMMIT"' in fields[-1]:
                        counts.append(count)
                        count = 0
            return counts
        return []

    def close(self) -> None:
        """Stop tracing; libpq flushes its buffered trace."""
        with self._lock:
            traced = list(self._traced)
        for pgconn, out in traced:
            if not out.closed:
                with contextlib.suppress(psycopg.OperationalError):  # a connection ended
                    pgconn.untrace()
                out.close()


@pytest.fixture
def traced(
    migrated_pg_url: str, tmp_path: Path
) -> Iterator[tuple[sessionmaker[Session], WireTrace]]:
    empty_pg(migrated_pg_url)
    engine = make_engine(migrated_pg_url)
    trace = WireTrace(engine, tmp_path)
    yield make_session_factory(engine), trace
    trace.close()
    engine.dispose()


# Every idle connection to the test's database but this one (the lane's among them).
_END_IDLE = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
)


def _alerts(sessions: sessionmaker[Session], device_id: str) -> list[tuple[int, int]]:
    with sessions() as s:
        rows = s.execute(
            select(Alert.id, Alert.repeat_count).where(Alert.device_id == device_id)
        ).all()
        return [(i, n) for i, n in rows]


def test_an_emergency_costs_the_urgent_lane_seven_round_trips(
    traced: tuple[sessionmaker[Session], WireTrace],
) -> None:
    sessions, trace = traced
    worker = IngestWorker(CloudSettings(), sessions, clock=lambda: NOW)
    acked = recorded_acks(worker)
    known, new = new_device_id(), new_device_id()

    def deliver(device_id: str, raw: bytes, mid: int) -> None:
        hand_in(worker, received(device_id, raw, mid))

    def stored(*mids: int) -> None:
        wait_until(lambda: acked == list(mids) or None, 30, f"messages {mids} stored")

    worker.start_store_threads()
    try:
        deliver(known, heartbeat(known, 1), 1)  # stored by the routine thread
        stored(1)
        deliver(known, emergency(known, 2), 2)
        stored(1, 2)
        assert _alerts(sessions, known) == [(1, 1)]
        deliver(known, emergency(known, 3), 3)
        stored(1, 2, 3)
        assert _alerts(sessions, known) == [(1, 2)]  # opened once, then a repeat
        deliver(new, emergency(new, 1), 4)  # a robot the store has never seen
        stored(1, 2, 3, 4)
        assert _alerts(sessions, new) == [(2, 1)]
    finally:
        worker.join_store_threads(5.0)
    # On the lane's connection, no ping and no savepoint. An alert opened: BEGIN, the batch's
    # look-up (robots, seniors, unresolved alerts), the robot (its senior returned), the event,
    # the alert, its transition, COMMIT. A repeat: BEGIN, the look-up, the robot, the event,
    # the open alert (locked), its count, the transition, the last repeat notice, COMMIT.
    assert trace.transactions("alerts") == [7, 9, 7]


def test_an_alert_opened_meanwhile_by_another_worker_counts_a_repeat(
    traced: tuple[sessionmaker[Session], WireTrace],
) -> None:
    """The batch's look-up saw no open alert, another transaction opened one before this one's
    insert: the insert conflicts and the alert counts a repeat (one alert, two calls)."""
    sessions, _ = traced
    device_id = new_device_id()
    with sessions() as s, s.begin():
        s.add(Device(id=device_id, first_seen=NOW, last_seen=NOW, online=True))
    engine = AlertEngine()
    decision = AlertDecision(AlertKind.EMERGENCY, SEVERITY_OF[AlertKind.EMERGENCY])
    with sessions() as s, s.begin(), engine.prefetched(s, [device_id]):
        with sessions() as other, other.begin():
            assert AlertEngine().raise_alert(other, device_id, decision, 1, NOW).created
        change = engine.raise_alert(s, device_id, decision, 2, NOW)
    assert not change.created
    assert change.repeat_count == 2
    assert _alerts(sessions, device_id) == [(change.alert_id, 2)]


def test_a_lane_whose_connection_was_dropped_stores_the_next_emergency(
    traced: tuple[sessionmaker[Session], WireTrace], migrated_pg_url: str
) -> None:
    """No ping before each transaction: a connection the store ended is found dead by the
    emergency's first statement, and the retry opens another at once; stored once, acked."""
    sessions, _ = traced
    worker = IngestWorker(CloudSettings(), sessions, clock=lambda: NOW)
    acked = recorded_acks(worker)
    sos = new_device_id()

    def deliver(raw: bytes, mid: int) -> None:
        hand_in(worker, received(sos, raw, mid))

    admin = make_engine(migrated_pg_url)
    worker.start_store_threads()
    try:
        deliver(emergency(sos, 1), 1)
        wait_until(lambda: acked == [1] or None, 30, "the first emergency stored")
        with admin.begin() as conn:  # the server ends every idle connection of the store
            ended = conn.scalar(_END_IDLE)
        assert ended
        deliver(emergency(sos, 2), 2)
        wait_until(lambda: acked == [1, 2] or None, 30, "the second emergency stored")
    finally:
        worker.join_store_threads(5.0)
        admin.dispose()
    assert _alerts(sessions, sos) == [(1, 2)]
    with sessions() as s:
        assert s.scalar(select(Device.id).where(Device.id == sos)) == sos
