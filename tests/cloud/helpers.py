"""Test helpers for the cloud: envelopes, a real HTTP webhook receiver, polling."""

import http.server
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from protocol import EventType, encode, make_envelope
from protocol.events import (
    CountdownOutcome,
    EmergencyPayload,
    FallPayload,
    HeartbeatPayload,
    SelfTest,
    TriggerSource,
)

T = TypeVar("T")
NOW = datetime(2026, 11, 27, 2, 13, 38, 123000, tzinfo=UTC)


def new_device_id() -> str:
    """A device id no other test (or test session on the shared broker) uses."""
    return f"t-{uuid.uuid4().hex[:12]}"


def emergency(device_id: str, seq: int, *, countdown: str = "skipped") -> bytes:
    """An encoded emergency envelope."""
    payload = EmergencyPayload(trigger=TriggerSource.VOICE, countdown=CountdownOutcome(countdown))
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.EMERGENCY, ts=NOW))


def fall(device_id: str, seq: int, countdown: str = "silence") -> bytes:
    """An encoded fall envelope."""
    payload = FallPayload(confidence=0.9, countdown=CountdownOutcome(countdown))
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.FALL, ts=NOW))


def heartbeat(device_id: str, seq: int) -> bytes:
    """An encoded heartbeat with one failed self-test."""
    payload = HeartbeatPayload(
        uptime_s=12.5,
        agent_version="0.1.0",
        outbox_pending=0,
        self_tests=[SelfTest(name="mic", ok=True), SelfTest(name="imu", ok=False)],
    )
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.HEARTBEAT, ts=NOW))


def as_dict(raw: bytes) -> dict[str, Any]:
    """Decode an encoded envelope to edit it."""
    data: dict[str, Any] = json.loads(raw)
    return data


def wait_until(fn: Callable[[], T | None], timeout_s: float = 10.0, what: str = "condition") -> T:
    """Poll `fn` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records POSTs and fails on demand."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.attempts = 0
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.attempts += 1
                    fail = receiver.always_fail or receiver.attempts <= receiver.fail_first
                    if not fail:
                        receiver.received.append(
                            Received(self.path, dict(self.headers.items()), body)
                        )
                self.send_response(500 if fail else 200)
                reply = b"receiver down" if fail else b"ok"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class MqttPeer:
    """A paho-mqtt 2 client playing a robot on the real broker: publishes, collects messages."""

    def __init__(self, host: str, port: int, subscribe: list[str] | None = None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-peer-{uuid.uuid4().hex[:10]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, bytes(m.payload))
        )
        self._client.on_subscribe = lambda *_a: self._subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        if subscribe:
            self._client.subscribe([(t, 1) for t in subscribe])
            if not self._subscribed.wait(10):
                raise AssertionError("test peer could not subscribe")

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        info = self._client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()
