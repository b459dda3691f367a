"""Issue 16, a year of data: `events` partitioned by month on PostgreSQL (migration 0009), the
key (device_id, epoch, seq) still unique across partitions, partitions created ahead, and the
retention policy per event type that keeps what a study still needs (and works on SQLite)."""

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest import Outcome, ingest_message
from cloud.ingest.batch import store_batch
from cloud.ingest.handler import parse_message
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import (
    DeadLetter,
    Device,
    Event,
    Participant,
    ParticipantIdentity,
    ParticipantStatus,
    Retention,
    Senior,
    Study,
)
from cloud.store.partitions import (
    RetentionPolicy,
    ensure_partitions,
    is_partitioned,
    maintain,
    partitions,
)
from cloud.store.scratch import scratch_database
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import HeartbeatPayload
from tests.conftest import PG_ADMIN_URL

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_fresh() -> Iterator[str]:
    """A PostgreSQL database of this module's own (partitions are dropped here)."""
    with scratch_database(PG_ADMIN_URL, "dolbom_test_partitions") as url:
        migrate(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        make: Callable[[Path], str] = request.getfixturevalue("migrated_sqlite")
        url = make(tmp_path / "cloud.sqlite3")
    else:
        url = request.getfixturevalue("pg_fresh")
    eng = make_engine(url)
    with eng.begin() as conn:
        for table in ("participant_identities", "participants", "studies", "events"):
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (constants)
    yield eng
    eng.dispose()


def _heartbeat(device: str, seq: int, ts: datetime, uptime: float = 1.0) -> bytes:
    payload = HeartbeatPayload(uptime_s=uptime, agent_version="t", outbox_pending=0)
    return encode(make_envelope(device, seq, payload, event_type=EventType.HEARTBEAT, ts=ts))


def _event(device: str, seq: int, kind: EventType, ts: datetime) -> bytes:
    from protocol.events import BatteryPayload, EmergencyPayload, TriggerSource

    payload = (
        BatteryPayload(level_pct=50.0, charging=False)
        if kind is EventType.BATTERY
        else EmergencyPayload(trigger=TriggerSource.BUTTON)
    )
    return encode(make_envelope(device, seq, payload, event_type=kind, ts=ts))


def test_postgresql_stores_events_in_monthly_partitions_and_an_unset_clock_in_default(
    pg_fresh: str,
) -> None:
    eng = make_engine(pg_fresh)
    sessions = make_session_factory(eng)
    try:
        with eng.connect() as conn:
            assert is_partitioned(conn)
            names = [name for name, _, _ in partitions(conn)]
        this_month = f"events_p{datetime.now(UTC):%Y%m}"
        assert this_month in names
        assert len(names) >= 4  # this month and three ahead
        with sessions() as s, s.begin():
            for seq, ts in ((1, datetime.now(UTC)), (2, datetime(1970, 1, 1, tzinfo=UTC))):
                raw = _heartbeat("part-clock", seq, ts)
                ingest_message(s, events_topic("part-clock"), raw, NOW)
        with eng.connect() as conn:
            where: dict[int, str] = dict(
                conn.execute(
                    text(
                        "SELECT seq, tableoid::regclass::text FROM events"
                        " WHERE device_id = 'part-clock'"
                    )
                ).all()
            )
        assert where == {1: this_month, 2: "events_default"}
    finally:
        eng.dispose()


def test_partitions_are_created_ahead_once_and_take_their_rows_from_default(pg_fresh: str) -> None:
    eng = make_engine(pg_fresh)
    sessions = make_session_factory(eng)
    later = datetime.now(UTC) + timedelta(days=400)  # beyond every partition made so far
    try:
        with sessions() as s, s.begin():
            ingest_message(s, events_topic("part-ahead"), _heartbeat("part-ahead", 1, later), NOW)
        with eng.begin() as conn:
            created = ensure_partitions(conn, later - timedelta(days=31), ahead_months=2)
            again = ensure_partitions(conn, later - timedelta(days=31), ahead_months=2)
            home = conn.scalar(
                text("SELECT tableoid::regclass::text FROM events WHERE device_id = 'part-ahead'")
            )
        assert len(created) == 3
        assert again == []
        assert home == f"events_p{later:%Y%m}"
    finally:
        eng.dispose()


@pytest.mark.parametrize("bulk", [True, False])
def test_the_key_stays_unique_across_partitions(engine: Engine, bulk: bool) -> None:
    """A redelivery is a duplicate; the same key with another ts (months apart, so another
    partition) is a robot fault, dead-lettered, as when the key was one unique index."""
    sessions = make_session_factory(engine)
    device = f"part-key-{str(bulk).lower()}"
    first = _heartbeat(device, 1, NOW - timedelta(days=1))
    clash = _heartbeat(device, 1, NOW - timedelta(days=120), uptime=2.0)
    outcomes = []
    for raw in (first, first, clash):
        with sessions() as s, s.begin():
            message = parse_message(events_topic(device), raw)
            if bulk:
                outcomes += [o.outcome for _, o in store_batch(s, [message], NOW)]
            else:
                outcomes.append(ingest_message(s, events_topic(device), raw, NOW).outcome)
    assert outcomes == [Outcome.STORED, Outcome.DUPLICATE, Outcome.DEAD_LETTERED]
    with sessions() as s:
        assert s.scalar(select(func.count()).where(Event.device_id == device)) == 1
        assert (s.scalar(select(func.count()).select_from(DeadLetter)) or 0) >= 1


@pytest.mark.parametrize("bulk", [True, False])
def test_the_same_key_with_another_ts_on_two_workers_at_once_is_stored_once(
    pg_fresh: str, bulk: bool
) -> None:
    """Two workers store one key with two ts (two partitions) at once: the second waits on
    the robot's device row, which the first locked with its upsert before inserting, then its
    insert sees the first's row: a conflict, dead-lettered, never a second row."""
    engine = make_engine(pg_fresh)
    sessions = make_session_factory(engine)
    device = f"part-race-{str(bulk).lower()}"
    first = _heartbeat(device, 1, NOW - timedelta(days=1))
    clash = _heartbeat(device, 1, NOW - timedelta(days=120), uptime=2.0)

    def store(s: Session, raw: bytes) -> Outcome:
        if bulk:
            message = parse_message(events_topic(device), raw)
            return store_batch(s, [message], NOW)[0][1].outcome
        return ingest_message(s, events_topic(device), raw, NOW).outcome

    with sessions() as s, s.begin():
        store(s, _heartbeat(device, 2, NOW))  # the robot is known
    outcomes: dict[str, Outcome] = {}
    with sessions() as a:
        a.begin()
        outcomes["a"] = store(a, first)
        a_pid = a.scalar(text("SELECT pg_backend_pid()"))

        def b() -> None:
            with sessions() as s, s.begin():
                outcomes["b"] = store(s, clash)

        worker = threading.Thread(target=b)
        worker.start()
        with engine.connect() as watch:  # until b waits for a's lock
            blocked = False
            for _ in range(3000):
                blocked = bool(
                    watch.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE :a = ANY(pg_blocking_pids(pid))"
                        ),
                        {"a": a_pid},
                    )
                )
                # A new transaction per poll: pg_stat_activity is a snapshot for the whole
                # transaction, so a backend b opened after the first poll would never be seen.
                watch.rollback()
                if blocked or not worker.is_alive():
                    break
                time.sleep(0.01)
        assert blocked, "the second worker did not wait for the first"
        a.commit()
    worker.join()
    assert outcomes == {"a": Outcome.STORED, "b": Outcome.DEAD_LETTERED}
    with sessions() as s:
        keys = s.scalar(select(func.count()).where(Event.device_id == device, Event.seq == 1))
        assert keys == 1
    engine.dispose()


def _hold_for_study(sessions: sessionmaker[Session], device: str, *, closed: bool) -> None:
    """The robot's senior is a participant of a study."""
    with sessions() as s, s.begin():
        s.merge(Senior(id=f"sr-{device}", display_name="김순자", created_at=NOW, settings={}))
        s.merge(
            Device(id=device, senior_id=f"sr-{device}", first_seen=NOW, last_seen=NOW, online=True)
        )
        study = Study(id=f"st-{device}", title="t", shift_secret="x", closed=closed, created_at=NOW)
        s.merge(study)
        s.flush()
        participant = Participant(
            study_id=study.id,
            code=device[-12:],
            arm="control",
            status=ParticipantStatus.ENROLLED,
            retention=Retention.RETAIN,
            timezone="Asia/Seoul",
            enrolled_at=NOW,
        )
        s.add(participant)
        s.flush()
        s.add(
            ParticipantIdentity(
                participant_id=participant.id,
                senior_id=f"sr-{device}",
                device_id=device,
                created_at=NOW,
            )
        )


def test_retention_per_type_keeps_what_a_study_needs(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    policy = RetentionPolicy(days={"heartbeat": 90}, default_days=400)
    old_month = NOW - timedelta(days=500)  # past every type's retention
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            ensure_partitions(conn, old_month, ahead_months=0)
    study_robot, other, closed_study = "part-study", "part-plain", "part-closed"
    _hold_for_study(sessions, study_robot, closed=False)
    _hold_for_study(sessions, closed_study, closed=True)
    rows = [
        (dev, seq, kind, ts)
        for dev in (study_robot, other, closed_study)
        for seq, kind, ts in (
            (1, EventType.HEARTBEAT, old_month),
            (2, EventType.EMERGENCY, old_month),
            (3, EventType.HEARTBEAT, NOW - timedelta(days=100)),  # past the heartbeat's 90 days
            (4, EventType.BATTERY, NOW - timedelta(days=100)),  # kept 400 days
            (5, EventType.HEARTBEAT, NOW - timedelta(days=10)),
        )
    ]
    with sessions() as s, s.begin():
        for dev, seq, kind, ts in rows:
            raw = (
                _heartbeat(dev, seq, ts)
                if kind is EventType.HEARTBEAT
                else _event(dev, seq, kind, ts)
            )
            ingest_message(s, events_topic(dev), raw, NOW)
    done = maintain(engine, NOW, policy, full=True)
    with sessions() as s:
        kept = {
            (d, q)
            for d, q in s.execute(select(Event.device_id, Event.seq)).all()
            if d in (study_robot, other, closed_study)
        }
    assert kept == {
        (study_robot, 1), (study_robot, 2), (study_robot, 3), (study_robot, 4), (study_robot, 5),
        (other, 4), (other, 5),
        (closed_study, 4), (closed_study, 5),
    }  # fmt: skip
    assert done.held_devices == 1
    if engine.dialect.name == "postgresql":
        # the old month holds the study's rows: not dropped, only the others' rows deleted
        assert f"events_p{old_month:%Y%m}" not in done.dropped
        with sessions() as s, s.begin():
            s.execute(text("UPDATE studies SET closed = true"))
        again = maintain(engine, NOW, policy)  # a daily run: drops a whole month
        assert again.dropped == [f"events_p{old_month:%Y%m}"]
        with sessions() as s:
            # the old month went whole; the 100-day-old heartbeat is no longer held either
            left = s.scalars(select(Event.seq).where(Event.device_id == study_robot)).all()
            assert sorted(left) == [4, 5]


def test_the_daily_job_keeps_heartbeat_rows_three_days_by_default(tmp_path: Path) -> None:
    """Without options, heartbeat rows go after 3 days and battery reports stay their 90."""
    from typer.testing import CliRunner

    from dolbom.cli import app

    url = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
    migrate(url)
    sessions = make_session_factory(make_engine(url))
    week_ago = datetime.now(UTC) - timedelta(days=7)
    with sessions() as s, s.begin():
        ingest_message(s, events_topic("part-days"), _heartbeat("part-days", 1, week_ago), NOW)
        battery = _event("part-days", 2, EventType.BATTERY, week_ago)
        ingest_message(s, events_topic("part-days"), battery, NOW)
    result = CliRunner().invoke(app, ["cloud", "partitions", "--database-url", url])
    assert result.exit_code == 0, result.output
    with sessions() as s:
        assert list(s.scalars(select(Event.type))) == ["battery"]


def test_the_daily_job_runs_from_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dolbom.cli import app

    url = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
    migrate(url)
    sessions = make_session_factory(make_engine(url))
    old = datetime.now(UTC) - timedelta(days=100)
    with sessions() as s, s.begin():
        ingest_message(s, events_topic("part-cli"), _heartbeat("part-cli", 1, old), NOW)
    result = CliRunner().invoke(
        app, ["cloud", "partitions", "--database-url", url, "--heartbeat-days", "90", "--full"]
    )
    assert result.exit_code == 0, result.output
    assert "행 삭제 1개" in result.output
    assert "rows deleted 1" in result.output
    assert "settled floors raised 1" in result.output
    assert "저장 하한 갱신 1개" in result.output
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
