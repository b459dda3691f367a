"""The durable outbox: seqs never reused, critical first, acks remove, WAL, thread-safe."""

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device.errors import DeviceError, OutboxError
from device.outbox import Outbox, OutboxLimits
from protocol import EventType, Priority, ProtocolError, decode_envelope
from protocol.events import BatteryPayload, EmergencyPayload, HeartbeatPayload, TriggerSource

TS = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
DEVICE = "robot-outbox-1"


def heartbeat(uptime_s: float = 1.0) -> HeartbeatPayload:
    return HeartbeatPayload(uptime_s=uptime_s, agent_version="t", outbox_pending=0)


def emergency() -> EmergencyPayload:
    return EmergencyPayload(trigger=TriggerSource.BUTTON)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", DEVICE)


def test_folder_is_created_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "outbox.sqlite3"
    Outbox(path, DEVICE).close()
    assert path.exists()


def test_seqs_are_monotonic_from_one(outbox: Outbox) -> None:
    seqs = [outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS).seq for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]


def test_seq_is_never_reused_after_all_acked_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, DEVICE) as box:
        for _ in range(3):
            box.append(EventType.HEARTBEAT, heartbeat(), ts=TS)
        for env in box.pending():
            box.ack(env.seq)
        assert box.pending_count() == 0
    with Outbox(path, DEVICE) as box:
        assert box.append(EventType.HEARTBEAT, heartbeat(), ts=TS).seq == 4
        assert box.last_seq() == 4


def test_unacked_events_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, DEVICE) as box:
        sent = [box.append(EventType.HEARTBEAT, heartbeat(i), ts=TS) for i in range(3)]
    with Outbox(path, DEVICE) as box:
        assert box.pending() == sent


def test_pending_is_critical_first_then_by_seq(outbox: Outbox) -> None:
    outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS)  # 1 low
    outbox.append(EventType.BATTERY, BatteryPayload(level_pct=50, charging=False), ts=TS)  # 2
    outbox.append(EventType.EMERGENCY, emergency(), ts=TS)  # 3 critical
    outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS, priority=Priority.HIGH)  # 4 high
    outbox.append(EventType.EMERGENCY, emergency(), ts=TS)  # 5 critical
    order = [(e.seq, e.priority) for e in outbox.pending()]
    assert order == [
        (3, Priority.CRITICAL),
        (5, Priority.CRITICAL),
        (4, Priority.HIGH),
        (2, Priority.NORMAL),
        (1, Priority.LOW),
    ]


def test_pending_respects_limit_and_exclusions(outbox: Outbox) -> None:
    for i in range(6):
        outbox.append(EventType.HEARTBEAT, heartbeat(i), ts=TS)
    assert [r.seq for r in outbox.pending_records(2)] == [1, 2]
    assert [r.seq for r in outbox.pending_records(3, exclude={1, 3})] == [2, 4, 5]
    assert outbox.pending_records(0) == []


def test_ack_removes_only_that_event(outbox: Outbox) -> None:
    for _ in range(3):
        outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS)
    outbox.ack(2)
    outbox.ack(2)  # a duplicate PUBACK is harmless
    outbox.ack(99)
    assert [e.seq for e in outbox.pending()] == [1, 3]
    assert outbox.pending_count() == 2


def test_stored_bytes_are_the_encoded_envelope(outbox: Outbox) -> None:
    env = outbox.append(EventType.EMERGENCY, emergency(), ts=TS)
    (record,) = outbox.pending_records(1)
    assert decode_envelope(record.data) == env
    assert record.priority is Priority.CRITICAL


def test_file_is_in_wal_mode_with_full_sync(outbox: Outbox) -> None:
    outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS)
    assert outbox.journal_mode() == "wal"
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    other = sqlite3.connect(outbox.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persisted in file
    finally:
        other.close()


def test_wrong_payload_type_raises_and_does_not_consume_a_seq(outbox: Outbox) -> None:
    with pytest.raises(ProtocolError):
        outbox.append(EventType.EMERGENCY, heartbeat(), ts=TS)
    assert outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS).seq == 1
    assert outbox.pending_count() == 1


def test_each_device_has_its_own_seq(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, "robot-a") as a, Outbox(path, "robot-b") as b:
        a.append(EventType.HEARTBEAT, heartbeat(), ts=TS)
        a.append(EventType.HEARTBEAT, heartbeat(), ts=TS)
        assert b.append(EventType.HEARTBEAT, heartbeat(), ts=TS).seq == 1
        assert b.pending_count() == 1


def test_corrupt_file_gives_a_clear_error_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    garbage = b"this is not a database at all\x00" * 200
    path.write_bytes(garbage)
    with pytest.raises(OutboxError, match="unreadable") as info:
        Outbox(path, DEVICE)
    assert isinstance(info.value, DeviceError)
    assert str(path) in str(info.value)
    assert path.read_bytes() == garbage


def test_unopenable_folder_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError, match="folder"):
        Outbox(blocker / "outbox.sqlite3", DEVICE)


def test_concurrent_append_and_ack_from_two_threads(outbox: Outbox) -> None:
    total = 400
    appended: list[int] = []
    acked: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def producer() -> None:
        try:
            for i in range(total):
                prio = Priority.CRITICAL if i % 7 == 0 else None
                env = outbox.append(EventType.HEARTBEAT, heartbeat(i), ts=TS, priority=prio)
                appended.append(env.seq)
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    def consumer() -> None:
        try:
            while not (done.is_set() and outbox.pending_count() == 0):
                for record in outbox.pending_records(16):
                    outbox.ack(record.seq)
                    acked.append(record.seq)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert appended == list(range(1, total + 1))
    assert sorted(acked) == appended
    assert outbox.pending_count() == 0


def test_health_of_an_empty_outbox_is_ok_and_writes(outbox: Outbox) -> None:
    health = outbox.health(TS)
    assert (health.ok, health.writable, health.pending, health.oldest_pending_age_s) == (
        True,
        True,
        0,
        0.0,
    )
    with sqlite3.connect(outbox.path) as db:  # the check went through to the file
        [(stamp,)] = db.execute("SELECT value FROM meta WHERE key = 'checked_at'").fetchall()
    assert stamp == TS.isoformat()


def test_health_measures_the_oldest_unsent_event_only(outbox: Outbox) -> None:
    first = outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS - timedelta(hours=3))
    outbox.append(EventType.HEARTBEAT, heartbeat(), ts=TS - timedelta(minutes=10))
    health = outbox.health(TS)
    assert (health.pending, health.oldest_pending_age_s) == (2, 3 * 3600.0)
    assert not health.ok
    assert "oldest unsent event waits 10800 s (limit 3600 s)" in health.detail
    outbox.ack(first.seq)  # the broker took it: what still waits is 10 minutes old
    health = outbox.health(TS)
    assert (health.ok, health.pending, health.oldest_pending_age_s) == (True, 1, 600.0)


def test_health_fails_when_the_caps_are_nearly_reached(tmp_path: Path) -> None:
    small = Outbox(tmp_path / "o.sqlite3", DEVICE, limits=OutboxLimits(max_rows=10))
    for i in range(9):
        small.ack(small.append(EventType.HEARTBEAT, heartbeat(i), ts=TS).seq)
    health = small.health(TS)
    assert (health.pending, health.fill) == (0, 0.9)
    assert not health.ok
    assert "90% full" in health.detail


def test_health_fails_when_the_store_cannot_be_written(outbox: Outbox) -> None:
    other = sqlite3.connect(outbox.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        health = outbox.health(TS)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (health.writable, health.ok) == (False, False)
    assert health.detail.startswith("not writable")
    assert outbox.health(TS).ok  # and the check recovers with the store


def test_a_non_positive_backlog_age_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_pending_age_s"):
        OutboxLimits(max_pending_age_s=0)
