"""Issue 16: the hot queries use their indexes on PostgreSQL (EXPLAIN of the SQL the code sends).

Each production function runs once against PostgreSQL while its statements are captured; each
captured SELECT is then EXPLAINed with its own parameters and sequential scans disabled, so a
plan that still reads the hot table without one of its indexes means no index serves the query.
"""

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine, scheduler
from cloud.alerts.dispatcher import WebhookDispatcher
from cloud.api import create_app
from cloud.ingest.stored import StoredPublisher
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory
from cloud.store.models import Device, DeviceAssignment, Senior
from tests.cloud.api.conftest import SERVICE, TOKEN, http

NOW = datetime(2026, 12, 5, tzinfo=UTC)


@pytest.fixture
def pg(migrated_pg_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(migrated_pg_url)
    try:
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (and parameters) sent to `engine` inside the block."""
    seen: list[tuple[str, Any]] = []

    def note(_c: Any, _cur: Any, statement: str, parameters: Any, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def plan_nodes(engine: Engine, statement: str, parameters: Any) -> list[dict[str, Any]]:
    """Every node of the plan, with sequential scans disabled for this transaction.

    `events` is partitioned on PostgreSQL (migration 0009): a scan of a partition is reported
    as a scan of `events`, and a partition's index under the name of the index it inherits.
    """
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
        inherits = conn.exec_driver_sql(
            "SELECT c.relname, p.relname FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
        ).all()
    parents = {str(child): str(parent) for child, parent in inherits}
    doc = raw if isinstance(raw, list) else json.loads(str(raw))
    nodes: list[dict[str, Any]] = []
    stack = [doc[0]["Plan"]]
    while stack:
        node = stack.pop()
        for key in ("Relation Name", "Index Name"):
            if key in node:
                node[key] = parents.get(node[key], node[key])
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def index_names(node: dict[str, Any]) -> set[str]:
    """The indexes a scan node reads, its own or its bitmap children's."""
    names = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        names |= index_names(child)
    return names


# The event key's unique index on PostgreSQL: it holds the partition key ts (migration 0009).
EVENT_KEY = "uq_events_device_epoch_seq_ts"


def assert_indexed(
    engine: Engine, run: Callable[[], object], table: str, indexes: set[str]
) -> None:
    """Every captured query on `table` reads it through one of `indexes`, never a seq scan."""
    with captured(engine) as seen:
        run()
    on_table = [(s, p) for s, p in seen if f"FROM {table}" in s or f"JOIN {table}" in s]
    assert on_table, f"no query on {table} was sent"
    for statement, parameters in on_table:
        nodes = [
            n for n in plan_nodes(engine, statement, parameters) if n.get("Relation Name") == table
        ]
        assert nodes, statement
        for node in nodes:
            assert node["Node Type"] != "Seq Scan", (statement, node)
            used = index_names(node)  # a bitmap heap scan names its indexes below it
            assert used, (statement, node)
            assert used <= indexes, (statement, node)


def test_due_escalation_steps_use_their_index(pg: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = pg

    def run() -> None:
        with sessions() as s:
            scheduler.due_step_ids(s, NOW)

    assert_indexed(engine, run, "escalation_steps", {"ix_escalation_steps_due"})


def test_due_deliveries_use_their_index(pg: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = pg
    dispatcher = WebhookDispatcher(sessions, secret=None, clock=lambda: NOW)
    try:
        assert_indexed(engine, dispatcher.run_once, "deliveries", {"ix_deliveries_due"})
    finally:
        dispatcher.stop()


def test_bulk_ingest_prefetch_uses_indexes(pg: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = pg
    engine_ = AlertEngine()

    def run() -> None:
        with sessions() as s, s.begin(), engine_.prefetched(s, ["t-a", "t-b", "t-c"]):
            pass

    assert_indexed(engine, run, "devices", {"devices_pkey"})
    assert_indexed(engine, run, "alerts", {"uq_alerts_active", "ix_alerts_status"})


def test_a_devices_stored_report_reads_the_event_key_index(
    pg: tuple[Engine, sessionmaker[Session]],
) -> None:
    engine, sessions = pg
    publisher = StoredPublisher(sessions, lambda topic, payload: None)

    def run() -> None:
        with sessions() as s:
            publisher.report(s, "t-explain", 3)

    # Each monthly partition is read through an index that leads with the device (on empty
    # partitions the planner may pick any of them), never scanned whole.
    assert_indexed(
        engine, run, "events", {EVENT_KEY, "ix_events_device_ts", "ix_events_device_type_ts"}
    )


async def test_a_seniors_timeline_reads_events_by_device_and_time(
    pg: tuple[Engine, sessionmaker[Session]],
) -> None:
    engine, sessions = pg
    senior = f"s-{uuid.uuid4().hex[:10]}"
    kept, moved = f"t-{uuid.uuid4().hex[:10]}", f"t-{uuid.uuid4().hex[:10]}"
    with sessions() as s, s.begin():
        s.add(Senior(id=senior, display_name="김순자", created_at=NOW, settings={}))
        s.flush()
        for device, owner in ((kept, senior), (moved, None)):
            s.add(Device(id=device, senior_id=owner, first_seen=NOW, last_seen=NOW, online=True))
        s.flush()
        s.add(DeviceAssignment(device_id=moved, senior_id=senior, valid_from=NOW, valid_to=None))
    app = create_app(CloudSettings(api_token=SecretStr(TOKEN)), session_factory=sessions)
    with captured(engine) as seen:
        async with http(app) as c:
            r = await c.get(f"/seniors/{senior}/events", headers=SERVICE)
    assert r.status_code == 200, r.text
    timeline = [(st, p) for st, p in seen if "FROM events" in st and "ORDER BY" in st]
    assert timeline
    for statement, parameters in timeline:
        nodes = [
            n
            for n in plan_nodes(engine, statement, parameters)
            if n.get("Relation Name") == "events"
        ]
        assert nodes, statement  # the senior has robots: events are read
        assert all(n["Node Type"] != "Seq Scan" for n in nodes), statement
        assert {i for n in nodes for i in index_names(n)} <= {
            "ix_events_device_ts",
            "ix_events_device_type_ts",
            EVENT_KEY,
        }
