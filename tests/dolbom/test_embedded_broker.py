"""The demo's embedded amqtt broker: starts on a free port, relays MQTT 3.1.1, stops cleanly."""

import threading

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dolbom.embedded_broker import EmbeddedBroker, EmbeddedBrokerError
from tests.helpers.mqtt import Recorder
from tests.helpers.ports import free_port, is_listening


def test_picks_a_free_port_and_relays_a_message() -> None:
    with EmbeddedBroker() as broker:
        assert broker.port > 0
        assert is_listening(broker.port)
        with Recorder(broker.port, ["demo/#"], protocol="3.1.1") as rec:
            rec.publish("demo/hello", b"hi")
            assert rec.wait_for(lambda ms: any(m.payload == b"hi" for m in ms), 10)


def test_keeps_retained_messages_for_late_subscribers() -> None:
    with EmbeddedBroker() as broker:
        with Recorder(broker.port, ["other/#"], protocol="3.1.1") as pub:
            pub.publish("demo/status", b"online", retain=True)
        with Recorder(broker.port, ["demo/#"], protocol="3.1.1") as late:
            assert late.wait_for(lambda ms: any(m.retain and m.payload == b"online" for m in ms))


def test_listens_on_the_port_it_was_given() -> None:
    port = free_port()
    with EmbeddedBroker(port=port) as broker:
        assert broker.port == port
        assert is_listening(port)


def test_stop_leaves_nothing_listening_or_running() -> None:
    before = {t.name for t in threading.enumerate()}
    broker = EmbeddedBroker()
    broker.start()
    port = broker.port
    broker.stop()
    assert not is_listening(port)
    assert {t.name for t in threading.enumerate()} <= before
    broker.stop()  # idempotent


def test_busy_port_gives_a_clear_error() -> None:
    with EmbeddedBroker() as first, pytest.raises(EmbeddedBrokerError, match="could not listen"):
        EmbeddedBroker(port=first.port).start()


def test_refuses_mqtt5_clients() -> None:
    refused = threading.Event()

    def on_connect(
        client: paho.Client, userdata: object, flags: object, rc: object, p: object
    ) -> None:
        refused.set()  # pragma: no cover - amqtt never accepts an MQTT 5 CONNECT

    def on_disconnect(client: paho.Client, *args: object) -> None:
        refused.set()

    with EmbeddedBroker() as broker:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        connected = threading.Event()
        client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
        client.on_disconnect = on_disconnect
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        try:
            assert refused.wait(10)
            assert not connected.is_set()
        finally:
            client.disconnect()
            client.loop_stop()
