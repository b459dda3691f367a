"""Nothing is lost: broker restarts and kill -9 of the robot, against private Mosquitto brokers."""

import json
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from protocol import EventType, decode_envelope, events_topic
from protocol.events import HeartbeatPayload
from tests.helpers.device_proc import BASE_TS, priority_of
from tests.helpers.device_process import DeviceProcess
from tests.helpers.mosquitto import private_mosquitto
from tests.helpers.mqtt import Received, Recorder
from tests.helpers.ports import free_port
from tests.helpers.tls import make_test_ca

WAIT_S = 30.0

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


def new_device_id() -> str:
    return f"test-durable-{uuid.uuid4().hex[:10]}"


def persistence(tmp_path: Path) -> str:
    """Mosquitto config that keeps sessions and queued messages across a broker restart."""
    folder = tmp_path / "mosquitto-db"
    folder.mkdir(exist_ok=True)
    return f"persistence true\npersistence_location {folder}/\n"


def dedupe(messages: list[Received]) -> dict[int, bytes]:
    """What the cloud store keeps: one event per (device_id, seq); same seq means same bytes."""
    by_seq: dict[int, set[bytes]] = defaultdict(set)
    for m in messages:
        by_seq[decode_envelope(m.payload).seq].add(m.payload)
    assert all(len(raw) == 1 for raw in by_seq.values()), "a seq was reused for other bytes"
    return {seq: next(iter(raw)) for seq, raw in by_seq.items()}


def uptimes(stored: dict[int, bytes]) -> list[int]:
    return sorted(int(json.loads(raw)["payload"]["uptime_s"]) for raw in stored.values())


def test_link_reconnects_by_itself_and_drains_critical_first_after_a_broker_restart(
    tmp_path: Path,
) -> None:
    device_id = new_device_id()
    topic = events_topic(device_id)
    port = free_port()
    conf = persistence(tmp_path)
    outbox = Outbox(tmp_path / "outbox.sqlite3", device_id)
    mqtt = MqttConfig(port=port, protocol="5", reconnect_min_s=0.05, reconnect_max_s=0.5)
    link = MqttLink(device_id, mqtt, outbox)
    recorder = Recorder(port, [topic], protocol="3.1.1", persistent=True)
    try:
        with private_mosquitto(conf, port=port):
            recorder.start()
            link.start()
            assert link.wait_connected(WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while link.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not link.connected

        expected = []
        for i in range(60):  # queued while the broker is down
            env = outbox.append(
                EventType.HEARTBEAT,
                HeartbeatPayload(uptime_s=i, agent_version="t", outbox_pending=0),
                ts=BASE_TS,
                priority=priority_of(i),
            )
            expected.append((env.priority.rank, env.seq))
            link.notify()
        assert outbox.pending_count() == 60

        with private_mosquitto(conf, port=port):
            assert link.wait_connected(WAIT_S)
            assert recorder.wait_for(lambda ms: len(ms) >= 60, WAIT_S)
            deadline = time.monotonic() + WAIT_S
            while outbox.pending_count() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert outbox.pending_count() == 0
        got = [decode_envelope(m.payload).seq for m in recorder.snapshot(topic)]
        assert got == [seq for _, seq in sorted(expected)]
        assert link.connections == 2
    finally:
        link.stop()
        recorder.stop()
        outbox.close()


def child_args(db: Path, device_id: str, port: int, *extra: str) -> list[str]:
    return ["--db", str(db), "--device-id", device_id, "--port", str(port), *extra]


def test_kill9_while_events_are_queued_loses_nothing(tmp_path: Path) -> None:
    device_id = new_device_id()
    db = tmp_path / "robot" / "outbox.sqlite3"
    port = free_port()  # nothing listens yet: the broker is unreachable
    total = 200
    with DeviceProcess(*child_args(db, device_id, port, "--count", str(total))) as child:
        assert child.wait_count("appended", 1, WAIT_S), child.stderr_text()
        child.kill9()
    with Outbox(db, device_id) as box:
        assert box.pending_count() == total

    with (
        private_mosquitto(port=port),
        Recorder(port, [events_topic(device_id)]) as rec,
        DeviceProcess(
            *child_args(db, device_id, port, "--start", str(total), "--count", "10"),
            "--exit-when-drained",
        ) as again,
    ):
        assert again.wait(WAIT_S) == 0, again.stderr_text()
        assert rec.wait_for(lambda ms: len(dedupe(ms)) >= total + 10, WAIT_S)
        stored = dedupe(rec.snapshot())
    assert sorted(stored) == list(range(1, total + 11))
    assert uptimes(stored) == list(range(total + 10))


def test_kill9_while_draining_loses_nothing(tmp_path: Path) -> None:
    device_id = new_device_id()
    db = tmp_path / "robot" / "outbox.sqlite3"
    total = 300
    with private_mosquitto() as port, Recorder(port, [events_topic(device_id)]) as rec:
        args = child_args(db, device_id, port, "--count", str(total), "--ack-delay-s", "0.01")
        with DeviceProcess(*args) as child:
            assert child.wait_count("acked", 20, WAIT_S), child.stderr_text()
            child.kill9()
            acked_before_kill = child.count("acked")
        with Outbox(db, device_id) as box:
            left = box.pending_count()
        assert 0 < left < total, "the kill must land mid-drain"
        assert left <= total - acked_before_kill

        more = child_args(db, device_id, port, "--start", str(total), "--count", "10")
        with DeviceProcess(*more, "--exit-when-drained") as again:
            assert again.wait(WAIT_S) == 0, again.stderr_text()
        assert rec.wait_for(lambda ms: len(dedupe(ms)) >= total + 10, WAIT_S)
        stored = dedupe(rec.snapshot())
    assert sorted(stored) == list(range(1, total + 11))
    assert uptimes(stored) == list(range(total + 10))


def test_event_the_broker_refuses_stays_queued(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    device_id = new_device_id()
    acl = tmp_path / "acl"
    acl.write_text(  # the device may announce its status but not publish events
        "pattern write dolbom/v1/devices/%u/status\npattern read dolbom/v1/devices/%u/commands\n"
    )
    with private_mosquitto(f"acl_file {acl}\n") as port:
        outbox = Outbox(tmp_path / "outbox.sqlite3", device_id)
        mqtt = MqttConfig(port=port, protocol="5", reconnect_min_s=0.05, reconnect_max_s=0.5)
        acked: list[int] = []
        link = MqttLink(device_id, mqtt, outbox, on_acked=acked.append)
        try:
            outbox.append(
                EventType.HEARTBEAT,
                HeartbeatPayload(uptime_s=1, agent_version="t", outbox_pending=0),
                ts=BASE_TS,
            )
            link.start()
            assert link.wait_connected(WAIT_S)
            deadline = time.monotonic() + WAIT_S
            while "refused event 1" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.02)
            assert "Not authorized" in caplog.text
            assert outbox.pending_count() == 1
            assert acked == []
        finally:
            link.stop()
            outbox.close()


def test_link_speaks_tls_with_a_ca_file(tmp_path: Path) -> None:
    tls = make_test_ca(tmp_path / "tls")
    device_id = new_device_id()
    with private_mosquitto(tls.mosquitto_conf()) as port:
        outbox = Outbox(tmp_path / "outbox.sqlite3", device_id)
        mqtt = MqttConfig(port=port, tls=True, ca_file=str(tls.ca_file), reconnect_min_s=0.05)
        link = MqttLink(device_id, mqtt, outbox)
        try:
            outbox.append(
                EventType.HEARTBEAT,
                HeartbeatPayload(uptime_s=1, agent_version="t", outbox_pending=0),
                ts=BASE_TS,
            )
            link.start()
            assert link.wait_connected(WAIT_S)
            deadline = time.monotonic() + WAIT_S
            while outbox.pending_count() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert outbox.pending_count() == 0
        finally:
            link.stop()
            outbox.close()
