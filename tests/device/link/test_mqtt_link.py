"""The MQTT link against real brokers: Mosquitto (MQTT 5) and the embedded amqtt (MQTT 3.1.1)."""

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from protocol import (
    Command,
    CommandResult,
    CommandType,
    EventType,
    Priority,
    commands_topic,
    decode_envelope,
    decode_result,
    events_topic,
    results_topic,
    status_topic,
)
from protocol.events import EmergencyPayload, HeartbeatPayload, TriggerSource
from tests.device.link.conftest import BrokerSpec
from tests.helpers.device_proc import priority_of
from tests.helpers.device_process import DeviceProcess
from tests.helpers.mqtt import Received, Recorder, clear_retained

TS = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
WAIT_S = 15.0


def heartbeat(i: int) -> HeartbeatPayload:
    return HeartbeatPayload(uptime_s=i, agent_version="t", outbox_pending=0)


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Robot:
    """An outbox and a link for one test device, torn down by the fixture."""

    def __init__(self, tmp_path: Path, device_id: str, broker: BrokerSpec) -> None:
        self.device_id = device_id
        self.broker = broker
        self.outbox = Outbox(tmp_path / "outbox.sqlite3", device_id)
        self.link: MqttLink | None = None

    def make_link(self, **kwargs: object) -> MqttLink:
        mqtt = MqttConfig(
            port=self.broker.port,
            protocol=self.broker.protocol,
            reconnect_min_s=0.05,
            reconnect_max_s=0.5,
        )
        self.link = MqttLink(self.device_id, mqtt, self.outbox, **kwargs)  # type: ignore[arg-type]
        return self.link

    def append(self, i: int, priority: Priority | None = None) -> int:
        env = self.outbox.append(EventType.HEARTBEAT, heartbeat(i), ts=TS, priority=priority)
        return env.seq

    def recorder(self, *topics: str, persistent: bool = False) -> Recorder:
        return Recorder(
            self.broker.port, list(topics), protocol=self.broker.protocol, persistent=persistent
        )


@pytest.fixture
def robot(tmp_path: Path, device_id: str, broker: BrokerSpec) -> Iterator[Robot]:
    r = Robot(tmp_path, device_id, broker)
    yield r
    if r.link is not None:
        r.link.stop()
    r.outbox.close()
    clear_retained(broker.port, status_topic(device_id), protocol=broker.protocol)


def seqs_of(messages: list[Received]) -> list[int]:
    return [decode_envelope(m.payload).seq for m in messages]


def test_events_arrive_critical_first_then_in_seq_order(robot: Robot) -> None:
    expected = []
    for i in range(40):
        prio = priority_of(i)
        seq = robot.append(i, prio)
        expected.append((prio.rank, seq))
    topic = events_topic(robot.device_id)
    with robot.recorder(topic) as rec:
        robot.make_link().start()
        assert rec.wait_for(lambda ms: len(ms) >= 40, WAIT_S)
        got = seqs_of(rec.snapshot(topic))
    assert got == [seq for _, seq in sorted(expected)]
    assert wait_until(lambda: robot.outbox.pending_count() == 0)


def test_event_appended_while_connected_is_sent_after_notify(robot: Robot) -> None:
    topic = events_topic(robot.device_id)
    with robot.recorder(topic) as rec:
        link = robot.make_link()
        link.start()
        assert link.wait_connected(WAIT_S)
        seq = robot.append(7)
        link.notify()
        assert rec.wait_for(lambda ms: seqs_of(ms) == [seq], WAIT_S)
    assert wait_until(lambda: robot.outbox.pending_count() == 0)
    assert link.last_ack_monotonic is not None


def test_critical_event_appended_during_a_drain_goes_next(robot: Robot) -> None:
    low = [robot.append(i, Priority.LOW) for i in range(5)]
    critical: list[int] = []

    def on_acked(seq: int) -> None:
        if not critical:  # the first low event just got its PUBACK: an alarm is raised now
            env = robot.outbox.append(
                EventType.EMERGENCY, EmergencyPayload(trigger=TriggerSource.BUTTON), ts=TS
            )
            critical.append(env.seq)
            link.notify()

    topic = events_topic(robot.device_id)
    with robot.recorder(topic) as rec:
        link = robot.make_link(max_inflight=1, on_acked=on_acked)
        link.start()
        assert rec.wait_for(lambda ms: len(ms) >= 6, WAIT_S)
        got = seqs_of(rec.snapshot(topic))
    assert got == [low[0], critical[0], *low[1:]]


def test_online_is_retained_after_connect(robot: Robot) -> None:
    link = robot.make_link()
    link.start()
    assert link.wait_connected(WAIT_S)
    # Connected means "online" is on its way, not yet at the broker: see it arrive first.
    with robot.recorder(status_topic(robot.device_id)) as first:
        assert first.wait_for(lambda ms: any(m.payload == b"online" for m in ms))
    with robot.recorder(status_topic(robot.device_id)) as late:
        assert late.wait_for(lambda ms: any(m.retain and m.payload == b"online" for m in ms))


def test_stop_publishes_offline_retained(robot: Robot) -> None:
    link = robot.make_link()
    link.start()
    assert link.wait_connected(WAIT_S)
    link.stop()
    assert not link.connected
    with robot.recorder(status_topic(robot.device_id)) as late:
        assert late.wait_for(lambda ms: any(m.retain and m.payload == b"offline" for m in ms))


def test_last_will_says_offline_when_the_device_process_dies(robot: Robot, tmp_path: Path) -> None:
    topic = status_topic(robot.device_id)
    args = ["--db", str(tmp_path / "child.sqlite3"), "--device-id", robot.device_id]
    args += ["--port", str(robot.broker.port), "--protocol", robot.broker.protocol]
    with robot.recorder(topic) as rec, DeviceProcess(*args) as child:
        assert child.wait_count("connected", 1, WAIT_S), child.stderr_text()
        assert rec.wait_for(lambda ms: [m.payload for m in ms][-1:] == [b"online"], WAIT_S)
        child.kill9()
        assert rec.wait_for(lambda ms: [m.payload for m in ms][-1:] == [b"offline"], WAIT_S)


def command(device_id: str, command_id: str = "cmd-1") -> Command:
    return Command(
        command_id=command_id,
        device_id=device_id,
        ts=TS + timedelta(seconds=1),
        type=CommandType.ALERT_ACK,
        payload={"alert_id": "a-1", "who": "daughter"},
    )


def wait_online(rec: Recorder, device_id: str) -> bool:
    """The link subscribes before it announces online, so commands sent after this reach it."""
    topic = status_topic(device_id)
    return rec.wait_for(lambda ms: any(m.topic == topic and m.payload == b"online" for m in ms))


def test_command_is_answered_with_a_result(robot: Robot) -> None:
    handled: list[Command] = []

    def on_command(cmd: Command) -> CommandResult:
        handled.append(cmd)
        return CommandResult(
            command_id=cmd.command_id, device_id=cmd.device_id, ts=TS, ok=True, detail="told"
        )

    results = results_topic(robot.device_id)
    with robot.recorder(results, status_topic(robot.device_id)) as rec:
        robot.make_link(on_command=on_command).start()
        assert wait_online(rec, robot.device_id)
        sent = command(robot.device_id)
        rec.publish(commands_topic(robot.device_id), sent.model_dump_json().encode())
        assert rec.wait_for(lambda ms: any(m.topic == results for m in ms), WAIT_S)
        result = decode_result(rec.snapshot(results)[0].payload)
    assert handled == [sent]
    assert (result.command_id, result.device_id, result.ok, result.detail) == (
        "cmd-1",
        robot.device_id,
        True,
        "told",
    )


def test_malformed_and_misaddressed_commands_are_ignored(robot: Robot) -> None:
    handled: list[str] = []
    seen = threading.Event()

    def on_command(cmd: Command) -> CommandResult:
        handled.append(cmd.command_id)
        seen.set()
        return CommandResult(command_id=cmd.command_id, device_id=cmd.device_id, ts=TS, ok=True)

    results = results_topic(robot.device_id)
    topic = commands_topic(robot.device_id)
    with robot.recorder(results, status_topic(robot.device_id)) as rec:
        robot.make_link(on_command=on_command).start()
        assert wait_online(rec, robot.device_id)
        rec.publish(topic, b"{not json")
        rec.publish(topic, b'{"v": 1, "command_id": "x"}')
        rec.publish(topic, command("someone-else", "cmd-foreign").model_dump_json().encode())
        rec.publish(topic, command(robot.device_id, "cmd-good").model_dump_json().encode())
        assert rec.wait_for(lambda ms: any(m.topic == results for m in ms), WAIT_S)
        assert seen.wait(WAIT_S)
        ids = [decode_result(m.payload).command_id for m in rec.snapshot(results)]
    assert handled == ["cmd-good"]
    assert ids == ["cmd-good"]


def test_a_slow_command_does_not_hold_up_an_emergency(robot: Robot) -> None:
    """A model download may take seconds: events keep flowing while the command runs."""
    started, release = threading.Event(), threading.Event()

    def on_command(cmd: Command) -> CommandResult:
        started.set()
        release.wait(WAIT_S)  # a long download
        return CommandResult(command_id=cmd.command_id, device_id=cmd.device_id, ts=TS, ok=True)

    events, results = events_topic(robot.device_id), results_topic(robot.device_id)
    with robot.recorder(events, results, status_topic(robot.device_id)) as rec:
        link = robot.make_link(on_command=on_command)
        link.start()
        assert wait_online(rec, robot.device_id)
        rec.publish(
            commands_topic(robot.device_id), command(robot.device_id).model_dump_json().encode()
        )
        assert started.wait(WAIT_S)
        seq = robot.append(1, Priority.CRITICAL)
        link.notify()
        assert rec.wait_for(lambda ms: seq in seqs_of([m for m in ms if m.topic == events]))
        assert not rec.snapshot(results)  # the command is still running
        release.set()
        assert rec.wait_for(lambda ms: any(m.topic == results for m in ms), WAIT_S)
        assert decode_result(rec.snapshot(results)[0].payload).ok


def test_a_failing_command_handler_is_reported_not_fatal(robot: Robot) -> None:
    def on_command(cmd: Command) -> CommandResult:
        raise RuntimeError("schedule store is full")

    results = results_topic(robot.device_id)
    with robot.recorder(results, status_topic(robot.device_id)) as rec:
        link = robot.make_link(on_command=on_command)
        link.start()
        assert wait_online(rec, robot.device_id)
        rec.publish(
            commands_topic(robot.device_id), command(robot.device_id).model_dump_json().encode()
        )
        assert rec.wait_for(lambda ms: any(m.topic == results for m in ms), WAIT_S)
        result = decode_result(rec.snapshot(results)[0].payload)
        assert not result.ok
        assert "schedule store is full" in result.detail
        robot.append(1)  # the link still drains afterwards
        link.notify()
        assert wait_until(lambda: robot.outbox.pending_count() == 0)
    assert link.connected
