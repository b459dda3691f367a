"""The urgent lane's own connection (PostgreSQL) dropped in the middle of an emergency's
transaction: the retry opens another connection and stores the batch again, once (one event,
one alert, no repeat counted twice, no dead letter), and the message is acknowledged once,
after the commit."""

import threading
from typing import Any

from sqlalchemy import event, func, select, text

from cloud.ingest import IngestWorker
from cloud.settings import CloudSettings
from cloud.store import Alert, DeadLetter, Event, make_engine, make_session_factory
from tests.cloud.conftest import empty_pg
from tests.cloud.helpers import NOW, emergency, new_device_id, wait_until
from tests.cloud.ingest.lane import hand_in, received, recorded_acks

_GONE = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")


def test_a_connection_dropped_before_the_alerts_insert_stores_the_emergency_once(
    migrated_pg_url: str,
) -> None:
    empty_pg(migrated_pg_url)
    engine = make_engine(migrated_pg_url)
    admin = make_engine(migrated_pg_url)
    sessions = make_session_factory(engine)
    dropped: list[int] = []
    lock = threading.Lock()

    def drop_once(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        with lock:
            if dropped or not statement.lstrip().startswith("INSERT INTO alerts"):
                return
            pid = conn.connection.dbapi_connection.info.backend_pid
            dropped.append(pid)
        with admin.begin() as other:  # the event is inserted, the transaction still open
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        def gone() -> bool | None:
            with admin.connect() as other:
                return other.scalar(_GONE, {"pid": pid}) == 0 or None

        wait_until(gone, 30, "the lane's backend ended")  # before the INSERT is sent

    event.listen(engine, "before_cursor_execute", drop_once)
    worker = IngestWorker(CloudSettings(), sessions, clock=lambda: NOW)
    acked = recorded_acks(worker)
    sos = new_device_id()

    def deliver(seq: int, mid: int) -> None:
        hand_in(worker, received(sos, emergency(sos, seq), mid))

    worker.start_store_threads()
    try:
        deliver(1, 1)
        wait_until(lambda: acked == [1] or None, 30, "the emergency stored")
        deliver(2, 2)
        wait_until(lambda: acked == [1, 2] or None, 30, "the second emergency stored")
    finally:
        worker.join_store_threads(5.0)
    try:
        assert len(dropped) == 1
        with sessions() as s:
            assert (
                s.scalar(select(func.count()).select_from(Event).where(Event.device_id == sos)) == 2
            )
            assert s.execute(
                select(Alert.repeat_count).where(Alert.device_id == sos)
            ).scalars().all() == [2]
            assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
        assert acked == [1, 2]
    finally:
        engine.dispose()
        admin.dispose()
