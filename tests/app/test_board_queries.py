"""The board's per-robot reads at size: on PostgreSQL one LATERAL top-k per robot through an
index that leads with the robot (EXPLAIN of the SQL the code sends, sequential scans off), and
the same newest rows as SQLite's window function."""

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.rules import LIFE_SIGN_TYPES
from cloud.app.status import RECENT_LIFE_SIGN, _newest, statuses
from cloud.store import make_engine, make_session_factory
from cloud.store.models import Device, Event, Senior
from protocol import EventType
from tests.cloud.test_explain import captured, index_names, plan_nodes

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
_EVENT_INDEXES = {"ix_events_device_ts", "ix_events_device_type_ts"}


def _robots(sessions: sessionmaker[Session], n: int) -> list[tuple[str, str]]:
    """n seniors with a robot each and 30 hours of hourly activity, heartbeat, and a battery
    level twice. (senior, robot) ids."""
    tag = uuid.uuid4().hex[:8]
    pairs = [(f"s-{tag}-{i}", f"t-{tag}-{i}") for i in range(n)]
    rows: list[dict[str, Any]] = []
    with sessions() as s, s.begin():
        for senior, robot in pairs:
            s.add(Senior(id=senior, display_name="김순자", settings={}, created_at=NOW))
            s.flush()
            s.add(Device(id=robot, senior_id=senior, first_seen=NOW, last_seen=NOW, online=True))
        s.flush()
        for k, (_, robot) in enumerate(pairs):
            seq = 0
            for hour in range(30):
                ts = NOW - timedelta(hours=30 - hour)
                moving = 5.0 if (hour + k) % 3 == 0 else 0.0
                for kind, payload in (
                    (EventType.ACTIVITY, {"minutes": {"walking": moving, "rest": 60 - moving}}),
                    (EventType.HEARTBEAT, {"uptime_s": 1.0}),
                    *(
                        [(EventType.BATTERY, {"level_pct": 10.0 + hour, "charging": False})]
                        if hour in (3, 29)
                        else []
                    ),
                ):
                    seq += 1
                    rows.append(
                        {
                            "device_id": robot,
                            "epoch": 0,
                            "seq": seq,
                            "type": kind.value,
                            "priority": "normal",
                            "ts": ts,
                            "received_at": ts,
                            "payload": payload,
                            "model": None,
                        }
                    )
        s.execute(insert(Event), rows)
    return pairs


def test_the_boards_newest_events_read_each_robot_through_its_index(
    migrated_pg_url: str,
) -> None:
    engine: Engine = make_engine(migrated_pg_url)
    try:
        sessions = make_session_factory(engine)
        pairs = _robots(sessions, 4)
        with sessions() as s:
            seniors = [s.get_one(Senior, senior) for senior, _ in pairs]
            with captured(engine) as seen:
                rows = statuses(s, seniors, NOW)
        assert all(r.last_life_sign is not None for r in rows)
        reads = [(st, p) for st, p in seen if "LATERAL" in st]
        # life signs, battery, and reminders with screenings (k of each type): one each
        assert len(reads) == 3, [st for st, _ in seen]
        moods = [(st, p) for st, p in seen if "GROUP BY events.device_id" in st]
        assert len(moods) == 1, [st for st, _ in seen]  # the mood windows: one grouped read
        for statement, parameters in reads + moods:
            assert "ANY" in statement or "unnest" in statement  # one array, not an IN list
            nodes = [
                n
                for n in plan_nodes(engine, statement, parameters)
                if n.get("Relation Name") == "events"
            ]
            assert nodes, statement
            for node in nodes:
                assert node["Node Type"] != "Seq Scan", (statement, node)
                assert index_names(node), node
                assert index_names(node) <= _EVENT_INDEXES, node
    finally:
        engine.dispose()


def test_postgresql_and_sqlite_agree_on_each_robots_newest_events(
    migrated_pg_url: str, sqlite_sessions: sessionmaker[Session]
) -> None:
    engine = make_engine(migrated_pg_url)
    try:
        pg_sessions = make_session_factory(engine)
        found = []
        for sessions in (pg_sessions, sqlite_sessions):
            robots = [robot for _, robot in _robots(sessions, 3)]
            with sessions() as s:
                signs = _newest(s, robots, LIFE_SIGN_TYPES, NOW - RECENT_LIFE_SIGN, 5)
                battery = _newest(s, robots, (EventType.BATTERY.value,), NOW - timedelta(2), 1)
                none = _newest(s, [], LIFE_SIGN_TYPES, NOW - RECENT_LIFE_SIGN, 5)
                kinds = (EventType.ACTIVITY.value, EventType.BATTERY.value)
                by_type = _newest(s, robots, kinds, NOW - timedelta(2), 2, by_type=True)
                raw = _newest(s, robots, LIFE_SIGN_TYPES, NOW - RECENT_LIFE_SIGN, 5, raw=True)
            # raw: the same rows, each payload as JSON text that decodes to the same payload
            decoded = {r: [(t, ts, json.loads(p)) for t, ts, p in got] for r, got in raw.items()}
            assert decoded == signs
            assert all(isinstance(p, str) for rows in raw.values() for _, _, p in rows)
            # by type: the 2 newest of each type per robot (batteries come twice in 30 hours)
            per_type = [
                sorted((t, ts.replace(tzinfo=UTC)) for t, ts, _ in by_type[r]) for r in robots
            ]
            assert all(
                [t for t, _ in rows] == ["activity", "activity", "battery", "battery"]
                for rows in per_type
            )
            found.append(
                (
                    [[(t, ts.replace(tzinfo=UTC), p) for t, ts, p in signs[r]] for r in robots],
                    [[p["level_pct"] for _, _, p in battery[r]] for r in robots],
                    none,
                    per_type,
                )
            )
        (
            (pg_signs, pg_battery, pg_none, pg_types),
            (lite_signs, lite_battery, lite_none, lite_types),
        ) = found
        assert pg_types == lite_types
        assert pg_signs == lite_signs
        assert [len(s) for s in pg_signs] == [5, 5, 5]  # the window holds 26 each: k kept
        assert all(a[1] >= b[1] for s in pg_signs for a, b in itertools.pairwise(s))
        assert pg_battery == lite_battery == [[39.0]] * 3  # the newest only
        assert pg_none == lite_none == {}
    finally:
        engine.dispose()
