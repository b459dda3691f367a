"""`BufferedClient` on the real broker: buffered reads keep every packet whole and in order;
`ack_many` acknowledges a batch (the broker redelivers nothing after a reconnect) and an
unacknowledged message is redelivered, as with paho's own `ack`."""

import struct
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud.ingest.mqttclient import BufferedClient
from tests.cloud.helpers import MqttPeer, wait_until


class Subscriber:
    """A persistent MQTT 5 session with manual acks on a `BufferedClient`."""

    def __init__(self, host: str, port: int, client_id: str, topic: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 300
        props.ReceiveMaximum = 1000
        self.client.connect(host, port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        self.client.subscribe([(topic, SubscribeOptions(qos=1))])
        assert self.subscribed.wait(10), "could not subscribe"

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def received(self) -> list[mqtt.MQTTMessage]:
        with self.lock:
            return list(self.messages)

    def at_least(self, n: int) -> list[mqtt.MQTTMessage] | None:
        got = self.received()
        return got if len(got) >= n else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def names() -> tuple[str, str]:
    token = uuid.uuid4().hex[:10]
    return f"test-buffered-{token}", f"test/buffered/{token}"


def _payload(i: int) -> bytes:
    # Sizes vary (and one is larger than a 64 KiB read), so packets straddle read boundaries.
    size = 70_000 if i == 137 else 1 + (i * 37) % 900
    return f"{i:05d}:".encode() + bytes([65 + i % 26]) * size


def test_buffered_reads_keep_every_packet_whole_and_acks_in_one_write_settle_them(
    mqtt_broker: tuple[str, int], names: tuple[str, str]
) -> None:
    host, port = mqtt_broker
    client_id, topic = names
    sub = Subscriber(host, port, client_id, topic)
    robot = MqttPeer(host, port)
    count = 400
    try:
        for i in range(count):
            robot.publish(topic, _payload(i))
        got = wait_until(
            lambda: sub.at_least(count),
            timeout_s=30,
            what="every message",
        )
        assert [bytes(m.payload) for m in got] == [_payload(i) for i in range(count)]
        assert sub.client.ack_many([m.mid for m in got]) == mqtt.MQTT_ERR_SUCCESS
        # A ping round trip after the acks: the broker has read them before it answers.
        sub.client.publish(f"{topic}/probe", b"x", qos=1).wait_for_publish(10)
    finally:
        sub.close()
        robot.close()
    again = Subscriber(host, port, client_id, topic)
    try:
        again.client.publish(f"{topic}/probe", b"y", qos=1).wait_for_publish(10)
        assert again.received() == []  # every message was acknowledged: nothing redelivered
    finally:
        again.client.unsubscribe(topic)
        again.close()


def test_a_message_left_unacknowledged_is_redelivered(
    mqtt_broker: tuple[str, int], names: tuple[str, str]
) -> None:
    host, port = mqtt_broker
    client_id, topic = names
    sub = Subscriber(host, port, client_id, topic)
    robot = MqttPeer(host, port)
    try:
        for i in range(3):
            robot.publish(topic, _payload(i))
        got = wait_until(lambda: sub.at_least(3), what="3 messages")
        sub.client.ack_many([got[0].mid, got[2].mid])  # the middle one stays unacknowledged
        sub.client.publish(f"{topic}/probe", b"x", qos=1).wait_for_publish(10)
    finally:
        sub.close()
        robot.close()
    again = Subscriber(host, port, client_id, topic)
    try:
        redelivered = wait_until(again.received, what="the redelivery")
        assert [bytes(m.payload) for m in redelivered] == [_payload(1)]
        assert redelivered[0].dup
        again.client.ack_many([redelivered[0].mid])
    finally:
        again.client.unsubscribe(topic)
        again.close()


def test_ack_many_without_a_connection_says_so() -> None:
    client = BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    assert client.ack_many([]) == mqtt.MQTT_ERR_SUCCESS
    assert client.ack_many([1, 2]) == mqtt.MQTT_ERR_NO_CONN


def _publish_packet(
    topic: bytes, mid: int, payload: bytes, props: bytes = b"\x00", *, qos: int = 1, flags: int = 0
) -> tuple[int, bytes]:
    """(fixed header byte, rest after the remaining length) of an MQTT 5 PUBLISH."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    return 0x30 | (qos << 1) | flags, body + props + payload


def _decoded(client: mqtt.Client, header: int, packet: bytes) -> list[mqtt.MQTTMessage]:
    got: list[mqtt.MQTTMessage] = []
    client.on_message = lambda _c, _u, m: got.append(m)
    client._in_packet = {"command": header, "packet": packet}  # type: ignore[typeddict-item]
    assert client._handle_publish() == mqtt.MQTT_ERR_SUCCESS
    return got


@pytest.mark.parametrize(
    ("topic", "props", "qos", "flags"),
    [
        (b"dolbom/v1/devices/r-1/events", b"\x00", 1, 0),  # the fast path
        (b"dolbom/v1/devices/r-1/events", b"\x00", 1, 0x08 | 0x01),  # DUP and RETAIN
        (b"dolbom/v1/devices/r-\xed\x9a\xa8/events", b"\x00", 1, 0),  # UTF-8 topic
        (b"t", b"\x07\x26\x00\x01k\x00\x01v", 1, 0),  # a user property: paho's decoder
        (b"t", b"\x03\x23\x00\x05", 1, 0),  # a topic alias beside a topic
        (b"t", b"\x00", 0, 0),  # QoS 0: paho's decoder
    ],
)
def test_fast_publish_decoding_matches_paho(
    topic: bytes, props: bytes, qos: int, flags: int
) -> None:
    """The properties-free QoS 1 PUBLISH is decoded like paho decodes it; others by paho."""
    header, packet = _publish_packet(topic, 4242, b'{"v":1}', props, qos=qos, flags=flags)
    ours = BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    [a] = _decoded(ours, header, packet)
    [b] = _decoded(paho, header, packet)
    assert (a.topic, bytes(a.payload), a.mid, a.qos, a.dup, a.retain) == (
        b.topic,
        bytes(b.payload),
        b.mid,
        b.qos,
        b.dup,
        b.retain,
    )
    assert a.payload == b'{"v":1}'
    assert a.mid == (4242 if qos else 0)
    if props != b"\x00":  # properties are kept where a message carries them
        assert a.properties is not None
        assert str(a.properties) == str(b.properties)
