"""`IngestWorker` on the real Mosquitto over MQTT 3.1.1, plain subscription (the demo's mode)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest import IngestWorker, events_subscription
from cloud.settings import CloudSettings
from cloud.store import Event
from protocol import SHARED_EVENTS_SUBSCRIPTION, events_topic
from tests.cloud.helpers import MqttPeer, emergency, new_device_id, wait_until


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
