"""The outbox keeps events until the cloud reports them stored; epochs, caps, size limit."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.agent import Agent
from device.config import DeviceConfig
from device.errors import EventTooLargeError
from device.outbox import Outbox, OutboxLimits
from protocol import EventType, Priority
from protocol.delivery import SEQS_DROPPED_CODE, StoredReport, parse_seq_ranges
from protocol.events import EmergencyPayload, HeartbeatPayload, SelfTest, TriggerSource
from tests.device.test_agent import FakeSource, RecordingSpeaker, ScriptedEars

DEVICE = "robot-unit"
TS = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


class Wall:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def beat(box: Outbox, n: int = 1) -> list[int]:
    payload = HeartbeatPayload(uptime_s=1, agent_version="t", outbox_pending=0)
    return [box.append(EventType.HEARTBEAT, payload, ts=TS).seq for _ in range(n)]


def sos(box: Outbox) -> int:
    payload = EmergencyPayload(trigger=TriggerSource.BUTTON)
    return box.append(EventType.EMERGENCY, payload, ts=TS).seq


def test_a_new_outbox_takes_a_random_positive_epoch_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, DEVICE) as box:
        epoch = box.epoch
        beat(box)
        assert box.pending()[0].epoch == epoch
    assert 0 < epoch < 2**62
    with Outbox(path, DEVICE) as again:
        assert again.epoch == epoch
    with Outbox(tmp_path / "other.sqlite3", DEVICE) as other:
        assert other.epoch != epoch


def test_an_outbox_from_before_epochs_keeps_epoch_zero(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE seq_counter (device_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);"
        "CREATE TABLE outbox (device_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " rank INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (device_id, seq));"
        "INSERT INTO seq_counter VALUES ('robot-unit', 7);"
    )
    db.close()
    with Outbox(path, DEVICE) as box:
        assert box.epoch == 0
        assert beat(box) == [8]


def test_puback_keeps_the_event_until_a_stored_report_covers_it(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3", DEVICE) as box:
        seqs = beat(box, 5)
        for seq in seqs:
            box.ack(seq)
        assert box.pending_count() == 0
        assert box.unconfirmed_count() == 5
        assert box.confirm(StoredReport(epoch=box.epoch + 1, stored_up_to=5)) == 0
        report = StoredReport(epoch=box.epoch, stored_up_to=4, missing=((2, 3),))
        assert box.confirm(report) == 2  # 1 and 4
        assert box.held_count() == 3


def test_an_unreported_event_is_resent_with_a_growing_delay(tmp_path: Path) -> None:
    wall = Wall()
    limits = OutboxLimits(resend_after_s=10.0, resend_max_s=25.0)
    with Outbox(tmp_path / "o.sqlite3", DEVICE, limits=limits, wall=wall) as box:
        (seq,) = beat(box)
        delays = []
        for _ in range(4):
            box.ack(seq)
            sent = wall.t
            while box.requeue_due(cloud_heard_at=wall.t) == 0:  # the cloud reports, not this
                wall.t += 1.0
            delays.append(wall.t - sent)
        assert delays == [10.0, 20.0, 25.0, 25.0]
        assert [r.seq for r in box.pending_records(5)] == [seq]


def test_expedite_makes_a_long_backoff_due_soon(tmp_path: Path) -> None:
    wall = Wall()
    limits = OutboxLimits(resend_after_s=100.0, resend_max_s=1000.0)
    with Outbox(tmp_path / "o.sqlite3", DEVICE, limits=limits, wall=wall) as box:
        (seq,) = beat(box)
        box.ack(seq)
        box.expedite(2.0)
        wall.t += 2.0
        assert box.requeue_due(cloud_heard_at=wall.t) == 1


def test_while_the_cloud_is_silent_events_are_resent_only_every_resend_max(
    tmp_path: Path,
) -> None:
    wall = Wall()
    limits = OutboxLimits(resend_after_s=10.0, resend_max_s=300.0)
    with Outbox(tmp_path / "o.sqlite3", DEVICE, limits=limits, wall=wall) as box:
        (seq,) = beat(box)
        box.ack(seq)
        heard_before = wall.t - 1.0  # the last report came before this event was sent
        wall.t += 299.0
        assert box.requeue_due(cloud_heard_at=heard_before) == 0
        wall.t += 1.0
        assert box.requeue_due(cloud_heard_at=heard_before) == 1


def test_caps_prune_oldest_routine_events_never_safety_and_declare_them(tmp_path: Path) -> None:
    limits = OutboxLimits(max_rows=20)
    with Outbox(tmp_path / "o.sqlite3", DEVICE, limits=limits) as box:
        safety = [sos(box) for _ in range(5)]
        beat(box, 30)
        held = {e.seq: e for e in box.pending(1000)}
        assert box.held_count() <= 20
        assert set(safety) <= set(held)
        declared = [
            parse_seq_ranges(e.payload["detail"])
            for e in held.values()
            if e.type is EventType.DEVICE_FAULT and e.payload["code"] == SEQS_DROPPED_CODE
        ]
        dropped = {s for ranges in declared for a, b in ranges for s in range(a, b + 1)}
        assert dropped
        assert not dropped & set(held)
        assert box.pruned == len(dropped)
        assert all(
            e.priority is Priority.HIGH
            for e in held.values()
            if e.seq not in safety and e.type is EventType.DEVICE_FAULT
        )


def test_an_event_over_64_kib_is_refused_and_reported_as_a_device_fault(tmp_path: Path) -> None:
    # Payload models bound their fields; a bug that bypasses them must still not get through.
    huge = HeartbeatPayload.model_construct(
        uptime_s=1,
        agent_version="t",
        outbox_pending=0,
        self_tests=[SelfTest(name=f"t{i}", ok=True, detail="x" * 190) for i in range(400)],
    )
    with Outbox(tmp_path / "o.sqlite3", DEVICE) as box:
        with pytest.raises(EventTooLargeError, match="exceeds the 65536-byte limit"):
            box.append(EventType.HEARTBEAT, huge, ts=TS)
        (fault,) = box.pending()
        assert fault.type is EventType.DEVICE_FAULT
        assert fault.payload["code"] == "event_too_large"
        assert fault.seq == 1


def test_the_agent_survives_an_oversized_event_and_the_fault_is_queued(tmp_path: Path) -> None:
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    with Outbox(config.outbox_path, config.device_id) as box:
        agent = Agent(
            config,
            source=FakeSource(),
            listener=ScriptedEars([]),
            speaker=RecordingSpeaker(),
            outbox=box,
            link=None,
        )
        huge = HeartbeatPayload.model_construct(
            uptime_s=1,
            agent_version="t",
            outbox_pending=0,
            self_tests=[SelfTest(name=f"t{i}", ok=True, detail="x" * 190) for i in range(400)],
        )
        agent.emit(EventType.HEARTBEAT, huge)  # no exception reaches the stage that emitted
        (fault,) = box.pending()
        assert fault.payload["code"] == "event_too_large"
