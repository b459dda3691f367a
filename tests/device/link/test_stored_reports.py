"""The link forgets events only when the cloud's stored report covers them (Mosquitto and amqtt)."""

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox, OutboxLimits
from protocol import EventType
from protocol.delivery import StoredReport, encode_stored
from protocol.events import HeartbeatPayload
from protocol.topics import stored_topic
from tests.device.link.conftest import BrokerSpec
from tests.helpers.mqtt import Recorder

TS = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
WAIT_S = 15.0


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def robot(
    tmp_path: Path, device_id: str, broker: BrokerSpec
) -> Iterator[tuple[Outbox, MqttLink, Recorder]]:
    outbox = Outbox(tmp_path / "outbox.sqlite3", device_id, limits=OutboxLimits())
    mqtt = MqttConfig(
        port=broker.port, protocol=broker.protocol, reconnect_min_s=0.05, reconnect_max_s=0.5
    )
    link = MqttLink(device_id, mqtt, outbox)
    cloud = Recorder(broker.port, ["t/none"], protocol=broker.protocol)
    with cloud:
        try:
            yield outbox, link, cloud
        finally:
            link.stop()
            cloud.publish(stored_topic(device_id), b"", retain=True)  # leave no retained report
    outbox.close()


def _send(outbox: Outbox, link: MqttLink, n: int) -> None:
    for i in range(n):
        payload = HeartbeatPayload(uptime_s=i, agent_version="t", outbox_pending=0)
        outbox.append(EventType.HEARTBEAT, payload, ts=TS)
    link.notify()


def test_events_stay_after_puback_and_go_when_reported_stored(
    robot: tuple[Outbox, MqttLink, Recorder],
) -> None:
    outbox, link, cloud = robot
    link.start()
    _send(outbox, link, 5)
    assert wait_until(lambda: outbox.pending_count() == 0)  # all PUBACKed
    assert outbox.held_count() == 5
    topic = stored_topic(outbox.device_id)
    cloud.publish(topic, b"not json", retain=True)  # ignored, the link lives on
    cloud.publish(topic, encode_stored(StoredReport(epoch=outbox.epoch + 1, stored_up_to=5)))
    report = StoredReport(epoch=outbox.epoch, stored_up_to=5, missing=((4, 4),))
    cloud.publish(topic, encode_stored(report), retain=True)
    assert wait_until(lambda: outbox.held_count() == 1)  # #4 is still missing in the cloud
    assert link.confirmed == 4
    cloud.publish(topic, encode_stored(StoredReport(epoch=outbox.epoch, stored_up_to=5)))
    assert wait_until(lambda: outbox.held_count() == 0)
    assert link.confirmed == 5


def test_a_retained_report_confirms_on_reconnect(
    robot: tuple[Outbox, MqttLink, Recorder],
) -> None:
    outbox, link, cloud = robot
    _send(outbox, link, 3)
    cloud.publish(
        stored_topic(outbox.device_id),
        encode_stored(StoredReport(epoch=outbox.epoch, stored_up_to=3)),
        retain=True,
    )
    link.start()  # the cloud already has them (say, from an earlier outbox copy): forgotten
    assert wait_until(lambda: outbox.held_count() == 0)
