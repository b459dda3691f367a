"""A test-side MQTT client that records what it receives and waits for it with a deadline."""

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.cloud.helpers import wait_until

_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Received:
    """One message as the recorder saw it."""

    topic: str
    payload: bytes
    retain: bool


class Recorder:
    """Subscribes (QoS 1) to `topics` on 127.0.0.1:`port` and keeps every message it receives.

    `persistent=True` keeps the session (and the messages queued for it) across disconnects
    and, with a broker that persists, across broker restarts.
    """

    def __init__(
        self,
        port: int,
        topics: Sequence[str],
        *,
        protocol: Literal["5", "3.1.1"] = "5",
        host: str = "127.0.0.1",
        client_id: str | None = None,
        persistent: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.topics = host, port, list(topics)
        v5 = protocol == "5"
        if persistent and v5:
            raise ValueError("persistent recorders speak MQTT 3.1.1 (clean_session=False)")
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-recorder-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else not persistent,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(1, 2)  # it reconnects by itself after a broker restart
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if not rc.is_failure:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, rcs: list[ReasonCode], props: Any
    ) -> None:
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def start(self) -> "Recorder":
        """Connect and return once the subscriptions are active."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(_CONNECT_TIMEOUT_S):
            self.stop()
            raise TimeoutError(f"recorder could not subscribe on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        """Disconnect and end the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self, topic: str | None = None) -> list[Received]:
        """The messages so far (on `topic` only, if given)."""
        with self._cond:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout_s: float = 10.0
    ) -> bool:
        """Block until `predicate(messages)` holds or `timeout_s` passes; return whether it held."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate(list(self.messages)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish QoS 1 and wait (bounded) for the broker's acknowledgement."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(_CONNECT_TIMEOUT_S)


def clear_retained(
    port: int, topic: str, host: str = "127.0.0.1", protocol: Literal["5", "3.1.1"] = "3.1.1"
) -> None:
    """Remove a retained message so tests leave the shared broker as they found it."""
    version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=version)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(_CONNECT_TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()


def forget_session(host: str, port: int, client_id: str) -> None:
    """Connect once with a clean start and no expiry, so the broker drops a persistent session."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.connect(host, port, clean_start=True)
    client.loop_start()
    try:
        wait_until(client.is_connected, what="a clean connection")
    finally:
        client.disconnect()
        client.loop_stop()


__all__ = ["Received", "Recorder", "clear_retained", "forget_session"]
