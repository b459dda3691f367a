"""End-to-end delivery on a real Mosquitto and PostgreSQL: nothing a broker drops is lost.

A private broker with a tiny per-session queue (`max_queued_messages 10`) stands in for an
hour-long ingest outage of a fleet: the cloud's persistent session is offline while a robot
sends 40 events, so the broker keeps 10 and drops 30 after acknowledging them. When the cloud
returns it stores the 10 and reports them; the robot re-sends the rest until all are stored.
"""

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest import IngestWorker
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import Event
from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox, OutboxLimits
from protocol import EventType
from protocol.events import HeartbeatPayload
from protocol.topics import EVENTS_SUBSCRIPTION
from tests.cloud.helpers import new_device_id, wait_until
from tests.helpers.mosquitto import private_mosquitto

pytestmark = pytest.mark.mosquitto

TS = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
FAST = OutboxLimits(resend_after_s=1.0, resend_max_s=2.0)
WAIT_S = 60.0


@pytest.fixture(scope="module")
def sessions(pg_url: str) -> Iterator[sessionmaker[Session]]:
    migrate(pg_url)
    engine = make_engine(pg_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def tiny_queue_broker() -> Iterator[int]:
    with private_mosquitto("max_queued_messages 10\n") as port:
        yield port


def _settings(port: int, client_id: str, group: str) -> CloudSettings:
    return CloudSettings(
        mqtt_port=port,
        mqtt_protocol="5",
        mqtt_share_group=group,
        mqtt_client_id=client_id,
        mqtt_session="persistent",
    )


def _leave_offline_session(port: int, client_id: str, group: str) -> None:
    """What a crashed worker leaves: a persistent session, subscribed, with nobody connected."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    try:
        info = client.subscribe(f"$share/{group}/{EVENTS_SUBSCRIPTION}", qos=1)
        assert info[0] == paho.MQTT_ERR_SUCCESS
        wait_until(lambda: client.is_connected(), what="the session's connect")
        client.publish("t/barrier", b"", qos=1).wait_for_publish(10)  # SUBACK came before
    finally:
        client.loop_stop()
        sock = client.socket()
        assert sock is not None
        sock.close()  # no DISCONNECT: like a kill -9


def _stored(sessions: sessionmaker[Session], device_id: str, epoch: int) -> int:
    with sessions() as s:
        return int(
            s.scalar(select(func.count()).where(Event.device_id == device_id, Event.epoch == epoch))
            or 0
        )


def _link(device_id: str, port: int, outbox: Outbox) -> MqttLink:
    mqtt = MqttConfig(port=port, protocol="5", reconnect_min_s=0.05, reconnect_max_s=0.5)
    return MqttLink(device_id, mqtt, outbox)


def _heartbeats(outbox: Outbox, n: int) -> None:
    for i in range(n):
        payload = HeartbeatPayload(uptime_s=i, agent_version="t", outbox_pending=0)
        outbox.append(EventType.HEARTBEAT, payload, ts=TS)


def test_events_the_broker_dropped_during_an_outage_are_resent_until_stored(
    tiny_queue_broker: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    port = tiny_queue_broker
    group = f"g{uuid.uuid4().hex[:10]}"
    client_id = f"dolbom-ingest-test-{uuid.uuid4().hex[:8]}"
    _leave_offline_session(port, client_id, group)
    device = new_device_id()
    outbox = Outbox(tmp_path / "outbox.sqlite3", device, limits=FAST)
    link = _link(device, port, outbox)
    link.start()
    worker: IngestWorker | None = None
    try:
        _heartbeats(outbox, 40)
        link.notify()
        # Every event was PUBACKed by the broker, which can queue only 10 for the cloud.
        wait_until(lambda: outbox.pending_count() == 0 and link.resent, WAIT_S, "PUBACKs")
        assert outbox.held_count() == 40  # a PUBACK is not "stored": all still held
        worker = IngestWorker(_settings(port, client_id, group), sessions)
        assert worker.start(wait_s=10)
        wait_until(lambda: _stored(sessions, device, outbox.epoch) == 40, WAIT_S, "40 stored")
        wait_until(lambda: outbox.held_count() == 0, WAIT_S, "the robot to forget them")
        assert link.confirmed >= 40
    finally:
        link.stop()
        if worker is not None:
            worker.stop()
        outbox.close()


def test_a_robot_whose_outbox_was_reset_is_heard(
    tiny_queue_broker: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    port = tiny_queue_broker
    group = f"g{uuid.uuid4().hex[:10]}"
    worker = IngestWorker(
        CloudSettings(mqtt_port=port, mqtt_protocol="5", mqtt_share_group=group), sessions
    )
    assert worker.start(wait_s=10)
    device = new_device_id()
    path = tmp_path / "outbox.sqlite3"
    try:
        with Outbox(path, device, limits=FAST) as first:
            old_epoch = first.epoch
            with _link(device, port, first):
                _heartbeats(first, 5)
                wait_until(lambda: first.held_count() == 0, WAIT_S, "the first 5 stored")
        # The agent's advice for an unreadable outbox: move it aside and start a new one.
        aside = tmp_path / "aside"
        aside.mkdir()
        for f in tmp_path.glob("outbox.sqlite3*"):
            shutil.move(f, aside / f.name)
        with Outbox(path, device, limits=FAST) as fresh:
            assert fresh.epoch != old_epoch
            assert fresh.last_seq() == 0
            with _link(device, port, fresh):
                _heartbeats(fresh, 33)
                wait_until(lambda: fresh.held_count() == 0, WAIT_S, "33 stored and reported")
            assert _stored(sessions, device, fresh.epoch) == 33
        assert _stored(sessions, device, old_epoch) == 5
    finally:
        worker.stop()
