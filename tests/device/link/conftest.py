"""Brokers for the link tests: the machine's Mosquitto (MQTT 5), rumqttd (a second MQTT 5
implementation, issue 16) and the embedded amqtt (3.1.1)."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import pytest

from dolbom.embedded_broker import EmbeddedBroker
from tests.helpers.mosquitto import system_mosquitto_port
from tests.helpers.rumqttd import private_rumqttd


@dataclass(frozen=True)
class BrokerSpec:
    """Where a test's broker listens and which MQTT version to speak to it."""

    name: str
    port: int
    protocol: Literal["5", "3.1.1"]


@pytest.fixture(scope="session")
def rumqttd_port() -> Iterator[int]:
    """One rumqttd for the session: tests keep apart by their own device ids."""
    with private_rumqttd() as port:
        yield port


@pytest.fixture(params=["mosquitto", "rumqttd", "amqtt"])
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerSpec]:
    if request.param == "mosquitto":
        yield BrokerSpec("mosquitto", system_mosquitto_port(), "5")
    elif request.param == "rumqttd":
        yield BrokerSpec("rumqttd", request.getfixturevalue("rumqttd_port"), "5")
    else:
        with EmbeddedBroker() as embedded:
            yield BrokerSpec("amqtt", embedded.port, "3.1.1")


@pytest.fixture
def device_id() -> str:
    """A fresh device id: the system broker is shared with other tests and people."""
    return f"test-link-{uuid.uuid4().hex[:12]}"
