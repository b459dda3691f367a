"""The daily report's reads at size on PostgreSQL: alerts, events and heartbeat hours each read
through an index (EXPLAIN of the SQL the code sends, sequential scans off), ids as one array."""

from datetime import timedelta

from sqlalchemy.orm import Session

from cloud.app.daily import ReportSenior, daily_rows
from cloud.store import make_engine, make_session_factory
from cloud.store.models import Alert, AlertKind, AlertStatus, Severity
from tests.app.test_board_queries import NOW, _robots
from tests.cloud.test_explain import captured, index_names, plan_nodes

_TABLES = ("alerts", "events", "heartbeat_hours")
_INDEXES = {
    "alerts": {"ix_alerts_created_at"},  # migration 0013
    "events": {"ix_events_device_ts", "ix_events_device_type_ts"},
    "heartbeat_hours": {"heartbeat_hours_pkey"},
}


def _alert(s: Session, robot: str, senior: str) -> None:
    at = NOW - timedelta(hours=3)
    s.add(
        Alert(
            device_id=robot,
            senior_id=senior,
            kind=AlertKind.FALL,
            severity=Severity.CRITICAL,
            status=AlertStatus.OPEN,
            event_seq=1,
            created_at=at,
            updated_at=at,
        )
    )


def test_the_daily_reports_reads_go_through_indexes(migrated_pg_url: str) -> None:
    engine = make_engine(migrated_pg_url)
    try:
        sessions = make_session_factory(engine)
        pairs = _robots(sessions, 4)
        with sessions() as s, s.begin():
            _alert(s, pairs[0][1], pairs[0][0])
        seniors = [ReportSenior(senior, "김순자", None) for senior, _ in pairs]
        with sessions() as s, captured(engine) as seen:
            rows = daily_rows(s, seniors, NOW - timedelta(days=1), NOW)
        assert [r.alerts_opened for r in rows] == [1, 0, 0, 0]
        assert all(r.life_sign for r in rows)  # hourly activity with minutes moving
        checked = set()
        for statement, parameters in seen:
            tables = {t for t in _TABLES if f"FROM {t}" in statement}
            if not tables:
                continue
            assert "ANY" in statement or "unnest" in statement  # one array, not an IN list
            for node in plan_nodes(engine, statement, parameters):
                if node.get("Relation Name") in tables:
                    assert node["Node Type"] != "Seq Scan", (statement, node)
                    assert index_names(node), node
                    checked.add(node["Relation Name"])
                    assert index_names(node) <= _INDEXES[node["Relation Name"]], node
        assert checked == set(_TABLES)
    finally:
        engine.dispose()
