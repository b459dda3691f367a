"""The whole cloud in-process against the real Mosquitto: MQTT in, store, webhook, API, SSE."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from cloud.alerts import verify
from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store import Alert, AlertStatus, DeadLetter, Device, Event
from protocol import CommandType, commands_topic, decode_command, events_topic, status_topic
from protocol.release import version
from tests.cloud.helpers import (
    MqttPeer,
    WebhookReceiver,
    emergency,
    new_device_id,
    wait_until,
)

SECRET = "e2e-secret"
TOKEN = "e2e-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def service(
    database_url: str, mqtt_broker: tuple[str, int], receiver: WebhookReceiver
) -> Iterator[CloudService]:
    host, port = mqtt_broker
    settings = CloudSettings(
        database_url=database_url,
        mqtt_host=host,
        mqtt_port=port,
        # Our own group: parallel test sessions on the shared broker must not take our messages.
        mqtt_share_group=f"test-{uuid.uuid4().hex[:10]}",
        webhook_urls=[receiver.url],
        webhook_secret=SecretStr(SECRET),
        webhook_backoff_s=0.01,
        dispatcher_poll_s=0.05,
        api_token=SecretStr(TOKEN),
        http_port=0,
        sse_poll_s=0.05,
    )
    svc = CloudService(settings)
    svc.start(mqtt_wait_s=10)
    try:
        assert svc.worker is not None
        assert svc.worker.wait_subscribed(10), "the cloud could not subscribe on Mosquitto"
        svc.start_api()
        yield svc
    finally:
        svc.stop()


@pytest.fixture
def robot(mqtt_broker: tuple[str, int]) -> Iterator[MqttPeer]:
    peer = MqttPeer(*mqtt_broker)
    yield peer
    peer.close()


def test_emergency_over_mqtt_is_stored_alerted_and_webhooked(
    service: CloudService, robot: MqttPeer, receiver: WebhookReceiver
) -> None:
    dev = new_device_id()
    robot.publish(events_topic(dev), emergency(dev, 1))

    # The shared broker may carry other devices' alerts too: take this device's webhook.
    [got] = wait_until(
        lambda: [r for r in receiver.received if json.loads(r.body).get("device_id") == dev],
        what="the webhook",
    )
    assert verify(
        SECRET,
        got.headers["X-Dolbom-Timestamp"],
        got.body,
        got.headers["X-Dolbom-Signature"],
        datetime.now(UTC),
    )
    assert json.loads(got.body)["device_id"] == dev
    with service.sessions() as s:
        assert s.scalars(select(Event.seq).where(Event.device_id == dev)).all() == [1]
        alert = s.scalars(select(Alert).where(Alert.device_id == dev)).one()
    assert alert.kind == "emergency"

    def notified() -> bool:
        with service.sessions() as s:
            return s.get_one(Alert, alert.id).status is AlertStatus.NOTIFIED

    wait_until(notified, what="the alert to be notified")


def test_bad_message_is_dead_lettered_and_ingest_keeps_going(
    service: CloudService, robot: MqttPeer
) -> None:
    dev = new_device_id()
    robot.publish(events_topic(dev), b"this is not json")
    robot.publish(events_topic(dev), emergency(dev, 1))

    def stored() -> bool:
        with service.sessions() as s:
            return s.scalars(select(Event).where(Event.device_id == dev)).first() is not None

    wait_until(stored, what="the good event")
    with service.sessions() as s:
        letters = s.scalars(select(DeadLetter).where(DeadLetter.topic == events_topic(dev))).all()
    assert [d.raw for d in letters] == [b"this is not json"]
    assert "not JSON" in letters[0].reason


def test_status_message_updates_online(service: CloudService, robot: MqttPeer) -> None:
    dev = new_device_id()
    robot.publish(status_topic(dev), b"offline")

    def offline() -> bool:
        with service.sessions() as s:
            device = s.get(Device, dev)
            return device is not None and not device.online

    wait_until(offline, what="the device to be offline")


def test_ack_over_the_api_sends_alert_ack_to_the_robot(
    service: CloudService, robot: MqttPeer, mqtt_broker: tuple[str, int]
) -> None:
    dev = new_device_id()
    listener = MqttPeer(*mqtt_broker, subscribe=[commands_topic(dev)])
    try:
        robot.publish(events_topic(dev), emergency(dev, 1))

        def alert_id() -> int | None:
            with service.sessions() as s:
                return s.scalars(select(Alert.id).where(Alert.device_id == dev)).first()

        aid = wait_until(alert_id, what="the alert")
        r = httpx.post(
            f"{service.api_url}/alerts/{aid}/ack", json={"by": "딸"}, headers=AUTH, timeout=10
        )
        assert r.status_code == 200, r.text
        assert r.json()["command_published"] is True

        [(topic, raw)] = wait_until(lambda: listener.messages, what="the command")
    finally:
        listener.close()
    command = decode_command(raw)
    assert topic == commands_topic(dev)
    assert command.type is CommandType.ALERT_ACK
    assert command.device_id == dev
    assert command.payload["alert_id"] == aid
    assert command.payload["by"] == "딸"


def test_healthz_reports_db_and_mqtt(service: CloudService) -> None:
    r = httpx.get(f"{service.api_url}/healthz", timeout=10)
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "db": True,
        "mqtt": True,
        "ingest": "ok",
        "version": version(),
    }


def test_sse_stream_yields_a_new_alert(service: CloudService, robot: MqttPeer) -> None:
    dev = new_device_id()
    with (
        httpx.Client(timeout=10) as http,
        http.stream("GET", f"{service.api_url}/alerts/stream", headers=AUTH) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        robot.publish(events_topic(dev), emergency(dev, 1))
        event = None
        for line in lines:
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            if line.startswith("data:"):
                data = json.loads(line.removeprefix("data:"))
                if data["device_id"] == dev:
                    break
    assert event == "alert"
    assert (data["kind"], data["status"]) in {("emergency", "open"), ("emergency", "notified")}
