"""One robot cannot hurt another (issue 14 items 6, 7, 8), on the committed broker config.

A private Mosquitto runs deploy/mosquitto/{mosquitto.conf,cloud-listener.conf} (TLS lines
dropped): robots on their listener (client id = username), the cloud workers on theirs. Robot A
attacks; robot B's 100 events must all be stored by a real ingest worker into PostgreSQL.
"""

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest import IngestWorker
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import Event
from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox, OutboxLimits
from protocol import EventType, events_topic
from protocol.events import HeartbeatPayload
from protocol.topics import EVENTS_SUBSCRIPTION
from tests.cloud.helpers import wait_until
from tests.deploy.deployed_broker import DeployedBroker, deployed_mosquitto

pytestmark = pytest.mark.mosquitto

TS = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
WAIT_S = 60.0
FAST = OutboxLimits(resend_after_s=1.0, resend_max_s=2.0)


@pytest.fixture(scope="module")
def sessions(pg_url: str) -> Iterator[sessionmaker[Session]]:
    migrate(pg_url)
    engine = make_engine(pg_url)
    yield make_session_factory(engine)
    engine.dispose()


class Fleet:
    """Robots A and B (fresh ids) and the cloud's user on the deployed broker."""

    def __init__(self, tmp: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.a, self.b = f"robot-a-{tag}", f"robot-b-{tag}"
        self.pw = {self.a: "pw-a", self.b: "pw-b", "dolbom-cloud": "pw-cloud"}
        self.group = f"g{uuid.uuid4().hex}"  # the cloud's secret share group
        self.tmp = tmp

    def settings(self, broker: DeployedBroker, **extra: Any) -> CloudSettings:
        values: dict[str, Any] = {
            "mqtt_port": broker.cloud_port,
            "mqtt_protocol": "5",
            "mqtt_username": "dolbom-cloud",
            "mqtt_password": self.pw["dolbom-cloud"],
            "mqtt_share_group": self.group,
        }
        return CloudSettings(**(values | extra))


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return Fleet(tmp_path)


@pytest.fixture
def broker(fleet: Fleet) -> Iterator[DeployedBroker]:
    robots = {fleet.a: fleet.pw[fleet.a], fleet.b: fleet.pw[fleet.b]}
    with deployed_mosquitto(fleet.tmp / "broker", robots, {"dolbom-cloud": "pw-cloud"}) as b:
        yield b


class Raw:
    """A hand-driven MQTT 5 client (the attacker), recording what it receives."""

    def __init__(self, port: int, user: str, password: str, client_id: str) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.username_pw_set(user, password)
        self.connack: list[ReasonCode] = []
        self.received: list[str] = []
        self.acks: list[ReasonCode] = []
        self.disconnected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(rc)
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.append(rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self.connack, what="CONNACK")

    @property
    def accepted(self) -> bool:
        return not self.connack[0].is_failure

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _robot(fleet: Fleet, broker: DeployedBroker, device: str, tmp: Path) -> tuple[Outbox, MqttLink]:
    outbox = Outbox(tmp / f"{device}.sqlite3", device, limits=FAST)
    mqtt = MqttConfig(
        port=broker.robot_port,
        protocol="5",
        password=fleet.pw[device],
        reconnect_min_s=0.05,
        reconnect_max_s=0.5,
    )
    return outbox, MqttLink(device, mqtt, outbox)


def _send_and_count(
    sessions: sessionmaker[Session], outbox: Outbox, link: MqttLink, n: int = 100
) -> int:
    for i in range(n):
        payload = HeartbeatPayload(uptime_s=i, agent_version="t", outbox_pending=0)
        outbox.append(EventType.HEARTBEAT, payload, ts=TS)
    link.notify()
    wait_until(lambda: outbox.held_count() == 0, WAIT_S, "every event reported stored")
    with sessions() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    Event.device_id == outbox.device_id, Event.epoch == outbox.epoch
                )
            )
            or 0
        )


@pytest.mark.parametrize("group", ["ingest", "leaked"])
def test_a_robot_joining_a_shared_subscription_reads_nothing_and_takes_nothing(
    group: str,
    fleet: Fleet,
    broker: DeployedBroker,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    # "ingest": the default name a robot would guess; "leaked": the cloud's secret group itself.
    name = fleet.group if group == "leaked" else "ingest"
    worker = IngestWorker(fleet.settings(broker), sessions)
    assert worker.start(wait_s=10)
    spy = Raw(broker.robot_port, fleet.a, fleet.pw[fleet.a], fleet.a)
    outbox, link = _robot(fleet, broker, fleet.b, tmp_path)
    try:
        spy.client.subscribe(f"$share/{name}/{EVENTS_SUBSCRIPTION}", qos=1)
        spy.client.subscribe(EVENTS_SUBSCRIPTION, qos=1)
        link.start()
        assert _send_and_count(sessions, outbox, link) == 100
        assert spy.received == []  # the ACL's read check: nothing of B's reaches A
        if group == "leaked":
            # Mosquitto handed A's share of B's events to nobody; B re-sent them until stored.
            assert link.resent > 0
    finally:
        link.stop()
        spy.close()
        worker.stop()
        outbox.close()


def test_a_robot_cannot_take_another_robots_client_id(
    fleet: Fleet, broker: DeployedBroker, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    worker = IngestWorker(fleet.settings(broker), sessions)
    assert worker.start(wait_s=10)
    outbox, link = _robot(fleet, broker, fleet.b, tmp_path)
    link.start()
    try:
        assert link.wait_connected(10)
        thief = Raw(broker.robot_port, fleet.a, fleet.pw[fleet.a], client_id=fleet.b)
        assert thief.accepted  # connected, but as itself: its client id is its username
        assert _send_and_count(sessions, outbox, link) == 100
        assert link.connections == 1  # B was never kicked off
        assert f"as {fleet.a} (p5" in broker.log_text()
        thief.close()
    finally:
        link.stop()
        worker.stop()
        outbox.close()


def test_a_robot_cannot_take_the_clouds_client_id_or_listener(
    fleet: Fleet, broker: DeployedBroker, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    cloud_id = f"dolbom-ingest-test-{uuid.uuid4().hex[:8]}"
    worker = IngestWorker(fleet.settings(broker, mqtt_client_id=cloud_id), sessions)
    assert worker.start(wait_s=10)
    outbox, link = _robot(fleet, broker, fleet.b, tmp_path)
    link.start()
    try:
        # On the cloud's listener a robot's credentials are refused outright.
        refused = Raw(broker.cloud_port, fleet.a, fleet.pw[fleet.a], client_id=cloud_id)
        assert not refused.accepted
        refused.close()
        # On the robots' listener the cloud's id is replaced by the robot's username.
        thief = Raw(broker.robot_port, fleet.a, fleet.pw[fleet.a], client_id=cloud_id)
        assert thief.accepted
        assert _send_and_count(sessions, outbox, link) == 100
        assert worker.connected
        assert worker.health().ok
        thief.close()
    finally:
        link.stop()
        worker.stop()
        outbox.close()


def test_a_1_mb_publish_is_refused_and_no_one_else_is_dropped(
    fleet: Fleet, broker: DeployedBroker, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    worker = IngestWorker(fleet.settings(broker), sessions)
    assert worker.start(wait_s=10)
    outbox, link = _robot(fleet, broker, fleet.b, tmp_path)
    link.start()
    try:
        assert link.wait_connected(10)
        # Over message_size_limit, under max_packet_size: the broker drops the message and says
        # so in its PUBACK (reason 149); it does not forward it to anyone.
        sender = Raw(broker.robot_port, fleet.a, fleet.pw[fleet.a], fleet.a)
        sender.client.publish(events_topic(fleet.a), b"x" * 200_000, qos=1)
        wait_until(lambda: "Dropped too large PUBLISH" in broker.log_text(), what="the refusal")
        wait_until(lambda: "(m1, rc149)" in broker.log_text(), what="the error PUBACK")
        sender.close()
        # A 1 MB packet is over max_packet_size: only its sender is disconnected.
        attacker = Raw(broker.robot_port, fleet.a, fleet.pw[fleet.a], fleet.a)
        attacker.client.publish(events_topic(fleet.a), b"x" * 1_000_000, qos=1)
        assert attacker.disconnected.wait(10)
        attacker.close()
        assert _send_and_count(sessions, outbox, link) == 100
        assert link.connections == 1
        assert worker.connected
        with sessions() as s:
            assert s.scalar(select(func.count()).where(Event.device_id == fleet.a)) == 0
    finally:
        link.stop()
        worker.stop()
        outbox.close()
