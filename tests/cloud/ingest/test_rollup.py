"""Heartbeats rolled up per robot and UTC hour at ingest (heartbeat_hours), on SQLite and
PostgreSQL: both ingest paths, redeliveries never counted twice, concurrent workers adding up,
the migration's backfill, and the readers (daily metrics' uptime, a robot's health)."""

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.ingest import Outcome, ParsedMessage, ingest_message, parse_message, store_batch
from cloud.ingest.rollup import hour_of, hour_rows
from cloud.store import Device, Event, make_engine, make_session_factory, migrate
from cloud.store.models import HeartbeatHour
from protocol import EventType, decode_envelope, encode, events_topic, make_envelope
from protocol.events import HeartbeatPayload, SelfTest, TouchPayload
from tests.cloud.helpers import NOW, new_device_id

H0 = NOW.replace(minute=0, second=0, microsecond=0)


def beat(
    device_id: str,
    seq: int,
    ts: datetime,
    *,
    pending: int = 0,
    failing: bool = False,
    rss: float | None = None,
) -> bytes:
    payload = HeartbeatPayload(
        uptime_s=float(seq),
        agent_version="0.1.0",
        outbox_pending=pending,
        self_tests=[SelfTest(name="mic", ok=not failing)],
        rss_mb=rss,
    )
    env = make_envelope(device_id, seq, payload, event_type=EventType.HEARTBEAT, ts=ts)
    return encode(env)


def touch(device_id: str, seq: int, ts: datetime) -> bytes:
    payload = TouchPayload(period_start=ts - timedelta(minutes=5), period_end=ts, hug=1)
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.TOUCH, ts=ts))


def parsed(device_id: str, raw: bytes) -> ParsedMessage:
    return parse_message(events_topic(device_id), raw)


def hours(sessions: sessionmaker[Session], device_id: str) -> list[dict[str, Any]]:
    with sessions() as s:
        rows = s.scalars(
            select(HeartbeatHour)
            .where(HeartbeatHour.device_id == device_id)
            .order_by(HeartbeatHour.hour)
        ).all()
        return [
            {
                "hour": r.hour,
                "count": r.count,
                "first_ts": r.first_ts,
                "last_ts": r.last_ts,
                "failing": r.failing,
                "outbox_pending_max": r.outbox_pending_max,
                "rss_mb_max": r.rss_mb_max,
                "last": (r.last_epoch, r.last_seq, r.last_payload["uptime_s"]),
            }
            for r in rows
        ]


def a_day(device_id: str) -> list[bytes]:
    """Heartbeats over three hours, out of order, with a touch between them."""
    out = []
    for seq, minutes in enumerate([5, 65, 35, 125, 64, 15, 179], start=1):
        out.append(
            beat(
                device_id,
                seq,
                H0 + timedelta(minutes=minutes),
                pending=seq * 3 % 7,
                failing=seq % 3 == 0,
                rss=None if seq == 2 else 40.0 + seq,
            )
        )
    out.append(touch(device_id, 8, H0 + timedelta(minutes=70)))
    return out


EXPECTED = [
    # hour 0: seqs 1 (0:05), 3 (0:35, failing), 6 (0:15, failing)
    {
        "hour": H0,
        "count": 3,
        "first_ts": H0 + timedelta(minutes=5),
        "last_ts": H0 + timedelta(minutes=35),
        "failing": 2,
        "outbox_pending_max": 4,  # seqs 1, 3, 6: 3, 2, 4
        "rss_mb_max": 46.0,
        "last": (0, 3, 3.0),
    },
    # hour 1: seqs 2 (1:05, no rss), 5 (1:04)
    {
        "hour": H0 + timedelta(hours=1),
        "count": 2,
        "first_ts": H0 + timedelta(minutes=64),
        "last_ts": H0 + timedelta(minutes=65),
        "failing": 0,
        "outbox_pending_max": 6,  # seq 2 -> 6, seq 5 -> 1
        "rss_mb_max": 45.0,
        "last": (0, 2, 2.0),
    },
    # hour 2: seqs 4 (2:05), 7 (2:59)
    {
        "hour": H0 + timedelta(hours=2),
        "count": 2,
        "first_ts": H0 + timedelta(minutes=125),
        "last_ts": H0 + timedelta(minutes=179),
        "failing": 0,
        "outbox_pending_max": 5,  # seq 4 -> 5, seq 7 -> 0
        "rss_mb_max": 47.0,
        "last": (0, 7, 7.0),
    },
]


def test_hour_rows_pure() -> None:
    d = new_device_id()
    envs = [decode_envelope(raw) for raw in a_day(d)]
    rows = hour_rows(envs, NOW)
    assert [r["count"] for r in rows] == [3, 2, 2]
    assert [r["last_seq"] for r in rows] == [3, 2, 7]
    assert hour_of(H0 + timedelta(minutes=59, seconds=59)) == H0


def test_one_by_one_rolls_up_and_redelivery_is_not_counted(
    sessions: sessionmaker[Session],
) -> None:
    d = new_device_id()
    for raw in a_day(d):
        with sessions() as s, s.begin():
            assert ingest_message(s, events_topic(d), raw, NOW).outcome is Outcome.STORED
    for raw in a_day(d):  # every message again: a broker redelivery
        with sessions() as s, s.begin():
            assert ingest_message(s, events_topic(d), raw, NOW).outcome is Outcome.DUPLICATE
    assert hours(sessions, d) == EXPECTED


def test_a_conflicting_heartbeat_is_dead_lettered_and_not_counted(
    sessions: sessionmaker[Session],
) -> None:
    d = new_device_id()
    with sessions() as s, s.begin():
        ingest_message(s, events_topic(d), beat(d, 1, H0), NOW)
    with sessions() as s, s.begin():
        out = ingest_message(s, events_topic(d), beat(d, 1, H0, pending=9), NOW)
    assert out.outcome is Outcome.DEAD_LETTERED
    (row,) = hours(sessions, d)
    assert (row["count"], row["outbox_pending_max"]) == (1, 0)


def test_bulk_rolls_up_as_one_by_one(sessions: sessionmaker[Session]) -> None:
    d = new_device_id()
    messages = [parsed(d, raw) for raw in a_day(d)]
    with sessions() as s, s.begin():
        results = store_batch(s, messages, NOW, alerts=AlertEngine())
    assert {o.outcome for _, o in results} == {Outcome.STORED}
    assert hours(sessions, d) == EXPECTED
    # The whole batch redelivered, and again inside one batch with new heartbeats.
    with sessions() as s, s.begin():
        store_batch(s, messages, NOW, alerts=AlertEngine())
    later = [parsed(d, beat(d, 9, H0 + timedelta(minutes=36))), *messages[:3]]
    with sessions() as s, s.begin():
        store_batch(s, later, NOW, alerts=AlertEngine())
    rows = hours(sessions, d)
    assert rows[0]["count"] == 4  # + seq 9 only
    assert rows[0]["last"] == (0, 9, 9.0)  # 0:36 is the hour's latest now
    assert rows[1:] == EXPECTED[1:]


def test_heartbeats_still_update_the_device_and_events(sessions: sessionmaker[Session]) -> None:
    """The robot's stored report and `last_heartbeat` do not change: rows are still stored."""
    d = new_device_id()
    with sessions() as s, s.begin():
        store_batch(s, [parsed(d, raw) for raw in a_day(d)], NOW, alerts=AlertEngine())
    with sessions() as s:
        device = s.get(Device, d)
        assert device is not None
        assert device.last_heartbeat is not None
        assert device.last_heartbeat["seq"] == 7
        seqs = s.scalars(select(Event.seq).where(Event.device_id == d).order_by(Event.seq))
        assert list(seqs) == list(range(1, 9))


def test_concurrent_workers_with_redeliveries_count_each_heartbeat_once(
    database_url: str,
) -> None:
    """Four workers store overlapping batches (every message delivered to two of them, as a
    broker redelivers after a lost ack) of 6 robots' heartbeats into the same hours."""
    devices = [new_device_id() for _ in range(6)]
    seqs = range(1, 61)
    raw = {(d, q): beat(d, q, H0 + timedelta(minutes=q - 1)) for d in devices for q in seqs}
    keys = sorted(raw)
    shares = [[k for i, k in enumerate(keys) if i % 4 in (w, (w + 1) % 4)] for w in range(4)]
    errors: list[BaseException] = []
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)

    def work(share: list[tuple[str, int]]) -> None:
        try:
            for start in range(0, len(share), 25):
                batch = [parsed(d, raw[(d, q)]) for d, q in share[start : start + 25]]
                for attempt in range(20):
                    try:
                        with sessions() as s, s.begin():
                            store_batch(s, batch, NOW, alerts=AlertEngine())
                        break
                    except Exception as e:  # a deadlock or serialization failure: retry
                        if attempt == 19 or "deadlock" not in str(e).lower():
                            raise
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    with sessions() as s:
        for d in devices:
            (row,) = s.scalars(select(HeartbeatHour).where(HeartbeatHour.device_id == d)).all()
            assert row.count == 60
            assert row.last_seq == 60
            assert row.first_ts == H0
        stored = s.scalar(
            select(func.count()).select_from(Event).where(Event.device_id.in_(devices))
        )
        assert stored == 360
    engine.dispose()


async def test_robot_health_reads_the_latest_heartbeat_from_the_roll_up(
    sessions: sessionmaker[Session],
) -> None:
    from cloud.api import create_app
    from tests.cloud.api.conftest import SERVICE, http, settings

    d = new_device_id()
    with sessions() as s, s.begin():
        store_batch(s, [parsed(d, raw) for raw in a_day(d)], NOW, alerts=AlertEngine())
        # Not read from the events: gone, the health still shows the latest heartbeat.
        s.execute(delete(Event).where(Event.device_id == d, Event.type == "heartbeat"))
    app = create_app(settings(), session_factory=sessions, mqtt_connected=lambda: True)
    async with http(app) as client:
        r = await client.get(f"/devices/{d}", headers=SERVICE)
    assert r.status_code == 200, r.text
    # seq 7 (2:59) is the latest heartbeat: its self-test passed, its outbox was empty.
    assert [t["ok"] for t in r.json()["self_tests"]] == [True]
    with sessions() as s, s.begin():
        s.execute(
            delete(HeartbeatHour).where(
                HeartbeatHour.device_id == d, HeartbeatHour.hour >= H0 + timedelta(hours=1)
            )
        )
    async with http(app) as client:
        r = await client.get(f"/devices/{d}", headers=SERVICE)
    # Now the latest is seq 3 (0:35), whose self-test failed.
    assert [t["ok"] for t in r.json()["self_tests"]] == [False]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_migration_rolls_up_the_heartbeats_already_stored(
    store: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    """Heartbeats stored before 0011 are rolled up by the migration as ingest would have."""
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
        _check_backfill(url)
        return
    from cloud.store.scratch import scratch_database
    from tests.conftest import PG_ADMIN_URL

    request.getfixturevalue("pg_url")  # PostgreSQL is up
    with scratch_database(PG_ADMIN_URL, "dolbom_rollup") as url:
        _check_backfill(url)


def _check_backfill(url: str) -> None:
    migrate(url, "0010_organisations")
    engine = make_engine(url)
    d = new_device_id()
    envs = [decode_envelope(raw) for raw in a_day(d)]
    with engine.begin() as conn:
        conn.execute(insert(Device).values(id=d, first_seen=NOW, last_seen=NOW, online=True))
        for env in envs:
            conn.execute(
                insert(Event).values(
                    device_id=d,
                    epoch=env.epoch,
                    seq=env.seq,
                    type=env.type.value,
                    priority=env.priority.value,
                    ts=env.ts,
                    received_at=NOW,
                    payload=env.payload,
                    model=None,
                )
            )
    engine.dispose()
    migrate(url)
    engine = make_engine(url)
    try:
        assert hours(make_session_factory(engine), d) == EXPECTED
    finally:
        engine.dispose()


def test_retention_keeps_the_roll_up_after_the_heartbeat_rows(database_url: str) -> None:
    """Heartbeat rows go after their own retention; their hours stay as long as events do."""
    from cloud.store.partitions import RetentionPolicy, maintain

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    d = new_device_id()
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=5)
    with sessions() as s, s.begin():
        for seq, ts in enumerate([old, recent], start=1):
            ingest_message(s, events_topic(d), beat(d, seq, ts), ts)
    policy = RetentionPolicy(days={"heartbeat": 2}, default_days=30, window_days=60)
    maintain(engine, NOW, policy)
    with sessions() as s:
        assert list(s.scalars(select(Event.seq).where(Event.device_id == d))) == []
        kept = s.scalars(select(HeartbeatHour.hour).where(HeartbeatHour.device_id == d))
        assert list(kept) == [hour_of(recent)]
    engine.dispose()


def test_daily_uptime_is_read_from_the_roll_up(sessions: sessionmaker[Session]) -> None:
    """Uptime hours come from heartbeat_hours (the heartbeat rows deleted here), exact on
    the local day's hours: Seoul is UTC+9, so local hours are whole UTC hours."""
    from cloud.research.metrics import compute_day
    from cloud.store.models import DailyMetric
    from tests.cloud.research.conftest import STUDY, T0, study

    world = study.__wrapped__(sessions)  # type: ignore[attr-defined]
    code = world.enrol()
    robot = world.robots[code]
    for minutes in range(0, 180, 1):  # a heartbeat every minute for three hours
        robot.heartbeat(T0 + timedelta(minutes=minutes))
    robot.heartbeat(T0 + timedelta(hours=5, minutes=59, seconds=59))
    with sessions() as s, s.begin():
        s.execute(delete(Event).where(Event.type == "heartbeat"))
        assert compute_day(s, STUDY, T0.date(), T0 + timedelta(days=3)) == 1
    with sessions() as s:
        (row,) = s.scalars(select(DailyMetric)).all()
    assert row.device_up_hours == 4


def test_rolling_up_rows_already_stored_matches_ingest(migrated_pg_url: str) -> None:
    """PostgreSQL: heartbeats loaded straight into events (the benchmarks' generators) rolled
    up by `roll_up_stored` equal what ingest rolls up, added to an hour ingest already has."""
    from cloud.ingest.rollup import roll_up_stored

    engine = make_engine(migrated_pg_url)
    d = new_device_id()
    envs = [decode_envelope(raw) for raw in a_day(d)]
    with engine.begin() as conn:
        conn.execute(insert(Device).values(id=d, first_seen=NOW, last_seen=NOW, online=True))
        rows = [
            {
                "device_id": d,
                "epoch": e.epoch,
                "seq": e.seq,
                "type": e.type.value,
                "priority": e.priority.value,
                "ts": e.ts,
                "received_at": NOW,
                "payload": e.payload,
                "model": None,
            }
            for e in envs
        ]
        conn.execute(insert(Event), rows)
        # Two ranges that split hour 1 (1:04 | 1:05): the second run adds to its row.
        roll_up_stored(conn, H0, H0 + timedelta(minutes=65))
        roll_up_stored(conn, H0 + timedelta(minutes=65), H0 + timedelta(hours=3))
    try:
        assert hours(make_session_factory(engine), d) == EXPECTED
    finally:
        engine.dispose()
