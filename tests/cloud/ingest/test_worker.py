"""`IngestWorker` on the real Mosquitto: MQTT 3.1.1 plain (the demo), MQTT 5 shared, a crash."""

import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertChange
from cloud.ingest import IngestWorker, events_subscription
from cloud.settings import CloudSettings
from cloud.store import Alert, DeadLetter, Event
from protocol import SHARED_EVENTS_SUBSCRIPTION, events_topic
from tests.cloud.helpers import MqttPeer, emergency, heartbeat, new_device_id, wait_until
from tests.helpers.mqtt import forget_session

ROOT = Path(__file__).resolve().parents[3]


def test_subscription_is_shared_by_default_and_plain_when_asked() -> None:
    assert events_subscription(CloudSettings()) == SHARED_EVENTS_SUBSCRIPTION
    assert events_subscription(CloudSettings(mqtt_shared=False)) == "dolbom/v1/devices/+/events"


def test_webhook_urls_accept_json_or_commas() -> None:
    assert CloudSettings(webhook_urls='["http://a", "http://b"]').webhook_urls == [  # type: ignore[arg-type]
        "http://a",
        "http://b",
    ]
    assert CloudSettings(webhook_urls="http://a, http://b").webhook_urls == [  # type: ignore[arg-type]
        "http://a",
        "http://b",
    ]


@pytest.fixture
def worker(sessions: sessionmaker[Session], mqtt_broker: tuple[str, int]) -> Iterator[IngestWorker]:
    host, port = mqtt_broker
    settings = CloudSettings(
        mqtt_host=host, mqtt_port=port, mqtt_protocol="3.1.1", mqtt_shared=False
    )
    w = IngestWorker(settings, sessions)
    assert w.start(wait_s=10), "could not subscribe on Mosquitto over MQTT 3.1.1"
    yield w
    w.stop()
    assert not w.connected


def test_mqtt_311_plain_subscription_stores_events(
    worker: IngestWorker, sessions: sessionmaker[Session], mqtt_broker: tuple[str, int]
) -> None:
    assert worker.connected
    dev = new_device_id()
    robot = MqttPeer(*mqtt_broker)
    try:
        robot.publish(events_topic(dev), emergency(dev, 1))
        robot.publish(events_topic(dev), emergency(dev, 1))  # redelivery: stored once

        def seqs() -> list[int]:
            with sessions() as s:
                return list(s.scalars(select(Event.seq).where(Event.device_id == dev)))

        assert wait_until(seqs, what="the event") == [1]
    finally:
        robot.close()


def _mqtt5_settings(host: str, port: int, **overrides: Any) -> CloudSettings:
    """MQTT 5 on a share group of this test's own (the shared broker may carry other traffic)."""
    values: dict[str, Any] = {
        "mqtt_host": host,
        "mqtt_port": port,
        "mqtt_protocol": "5",
        "mqtt_share_group": f"test-{uuid.uuid4().hex[:10]}",
    }
    return CloudSettings(**(values | overrides))


def test_mqtt5_burst_is_stored_and_acknowledged_batch_by_batch(
    sessions: sessionmaker[Session], mqtt_broker: tuple[str, int]
) -> None:
    fleet = [new_device_id() for _ in range(5)]
    sos = new_device_id()
    alerts: list[AlertChange] = []
    # The broker sends at most 5 unacknowledged messages: all 51 arrive only if acks flow.
    settings = _mqtt5_settings(*mqtt_broker, ingest_receive_maximum=5)
    worker = IngestWorker(settings, sessions, on_alert=alerts.append)
    assert worker.start(wait_s=10), "could not subscribe on Mosquitto over MQTT 5"
    robot = MqttPeer(*mqtt_broker)
    try:
        for seq in range(1, 11):
            for dev in fleet:
                robot.publish(events_topic(dev), heartbeat(dev, seq))
        robot.publish(events_topic(fleet[0]), b'{"v": 1, "device_id"')
        robot.publish(events_topic(sos), emergency(sos, 1))
        robot.publish(events_topic(fleet[1]), heartbeat(fleet[1], 3))  # a redelivery

        ours = [*fleet, sos]

        def stored() -> int | None:
            with sessions() as s:
                n = s.scalar(
                    select(func.count()).select_from(Event).where(Event.device_id.in_(ours))
                )
                return n if n == 51 else None

        wait_until(stored, what="all 51 events")
        wait_until(lambda: alerts, what="the emergency's alert")
        with sessions() as s:
            alert = s.get_one(Alert, alerts[0].alert_id)
            assert alert.device_id == sos

        def letters() -> int | None:  # the bad message may sit in a later batch than the sos
            with sessions() as s:
                rows = s.scalars(
                    select(DeadLetter).where(DeadLetter.topic == events_topic(fleet[0]))
                ).all()
                return len(rows) or None

        assert wait_until(letters, what="the dead letter") == 1
    finally:
        robot.close()
        worker.stop()


def test_a_crash_before_commit_leaves_the_message_unacknowledged_and_redelivered(
    sessions: sessionmaker[Session], mqtt_broker: tuple[str, int]
) -> None:
    host, port = mqtt_broker
    client_id = f"test-crash-{uuid.uuid4().hex[:10]}"
    group = f"test-{uuid.uuid4().hex[:10]}"
    dev = new_device_id()
    lines: queue.Queue[str] = queue.Queue()
    crashing = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.cloud.ingest.crash_worker",
            host,
            str(port),
            client_id,
            group,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert crashing.stdout is not None
    out = crashing.stdout

    def read() -> None:
        for line in out:
            lines.put(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    worker: IngestWorker | None = None
    robot = MqttPeer(host, port)
    try:
        assert _next_line(lines) == "subscribed"
        robot.publish(events_topic(dev), emergency(dev, 1))
        for _ in range(2):  # received, and still held after a failed round of commits
            while dev not in _next_line(lines).split():
                pass
        crashing.kill()
        crashing.wait(10)

        settings = _mqtt5_settings(host, port, mqtt_share_group=group, mqtt_client_id=client_id)
        worker = IngestWorker(settings, sessions)
        assert worker.start(wait_s=10)

        def seqs() -> list[int]:
            with sessions() as s:
                return list(s.scalars(select(Event.seq).where(Event.device_id == dev)))

        assert wait_until(seqs, what="the redelivered event") == [1]
    finally:
        robot.close()
        if crashing.poll() is None:
            crashing.kill()
        crashing.wait(10)
        reader.join(10)
        out.close()
        if worker is not None:
            worker.stop()
        forget_session(host, port, client_id)


def _next_line(lines: "queue.Queue[str]") -> str:
    try:
        return lines.get(timeout=20)
    except queue.Empty:
        raise AssertionError("the crashing worker said nothing") from None
