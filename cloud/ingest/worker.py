"""The MQTT side of ingest: a paho-mqtt 2 client that feeds `ingest_message` and sends commands."""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.service import AlertChange, AlertEngine
from cloud.errors import CommandNotSentError
from cloud.ingest.handler import IngestOutcome, dead_letter, ingest_message
from cloud.settings import CloudSettings
from protocol import STATUS_SUBSCRIPTION, Command, commands_topic
from protocol.topics import EVENTS_SUBSCRIPTION

log = logging.getLogger(__name__)

_DB_RETRIES = 3
_SESSION_EXPIRY_S = 24 * 3600


class CommandPublisher(Protocol):
    """Sends a command to one device (the MQTT worker, or a fake in unit tests)."""

    def publish_command(self, device_id: str, command: Command) -> None: ...


def events_subscription(settings: CloudSettings) -> str:
    """`$share/<group>/dolbom/v1/devices/+/events`, or the plain filter for brokers without it."""
    if settings.mqtt_shared:
        return f"$share/{settings.mqtt_share_group}/{EVENTS_SUBSCRIPTION}"
    return EVENTS_SUBSCRIPTION


class IngestWorker:
    """Subscribes to events and status, stores every message, never dies on a bad one."""

    def __init__(
        self,
        settings: CloudSettings,
        session_factory: sessionmaker[Session],
        *,
        alerts: AlertEngine | None = None,
        on_alert: Callable[[AlertChange], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._alerts = alerts or AlertEngine(settings.webhook_urls)
        self._on_alert = on_alert
        self._clock = clock
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._started = False
        self._v5 = settings.mqtt_protocol == "5"
        self._persistent = bool(settings.mqtt_client_id)
        client_id = settings.mqtt_client_id or (
            f"dolbom-cloud-{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        self.client_id = client_id
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else not self._persistent,
            manual_ack=True,
        )
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            self._client.username_pw_set(settings.mqtt_username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def start(self, wait_s: float | None = None) -> bool:
        """Connect in the background, reconnecting forever; wait up to `wait_s` to subscribe."""
        s = self._settings
        properties = None
        if self._v5 and self._persistent:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = _SESSION_EXPIRY_S
        if self._v5:
            self._client.connect_async(
                s.mqtt_host,
                s.mqtt_port,
                s.mqtt_keepalive_s,
                clean_start=not self._persistent,
                properties=properties,
            )
        else:
            self._client.connect_async(s.mqtt_host, s.mqtt_port, s.mqtt_keepalive_s)
        self._client.loop_start()
        self._started = True
        wait = s.mqtt_connect_timeout_s if wait_s is None else wait_s
        ok = self.wait_subscribed(wait)
        if not ok:
            log.warning(
                "MQTT broker %s:%d not reachable yet; will keep retrying", s.mqtt_host, s.mqtt_port
            )
        return ok

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Block until the subscriptions are granted (or the timeout passes)."""
        return self._subscribed.wait(timeout_s)

    def stop(self) -> None:
        """Disconnect and join paho's network thread."""
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._subscribed.clear()

    def publish_command(self, device_id: str, command: Command) -> None:
        """Send a command at QoS 1; while disconnected paho queues it until the next connect."""
        payload = command.model_dump_json().encode("utf-8")
        info = self._client.publish(commands_topic(device_id), payload, qos=1)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            log.warning("broker down: command %s queued for %s", command.command_id, device_id)
        elif info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise CommandNotSentError(
                f"command {command.command_id} for {device_id} not sent:"
                f" {mqtt.error_string(info.rc)}"
            )

    def handle(self, topic: str, raw: bytes) -> IngestOutcome | None:
        """Ingest and commit one message; None only when the store stayed unavailable."""
        for attempt in range(_DB_RETRIES):
            now = self._clock()
            try:
                with self._sessions() as session, session.begin():
                    outcome = ingest_message(session, topic, raw, now, alerts=self._alerts)
            except SQLAlchemyError as e:
                log.error("store error ingesting %s (attempt %d): %s", topic, attempt + 1, e)
                time.sleep(0.2 * 2**attempt)
                continue
            except Exception as e:
                log.exception("bug while ingesting a message on %s", topic)
                return self._dead_letter_bug(topic, raw, e)
            if outcome.alert is not None and self._on_alert is not None:
                self._on_alert(outcome.alert)
            return outcome
        return None

    def _dead_letter_bug(self, topic: str, raw: bytes, error: Exception) -> IngestOutcome | None:
        try:
            with self._sessions() as session, session.begin():
                return dead_letter(
                    session,
                    topic,
                    raw,
                    f"internal error: {type(error).__name__}: {error}",
                    self._clock(),
                )
        except SQLAlchemyError:
            log.exception("could not dead-letter a message on %s", topic)
            return None

    # paho callbacks (run on paho's network thread)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        self._connected.set()
        topics = [events_subscription(self._settings), STATUS_SUBSCRIPTION]
        log.info(
            "MQTT connected to %s:%d; subscribing %s",
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            ", ".join(topics),
        )
        if self._v5:
            client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])
        else:
            client.subscribe([(t, 1) for t in topics])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if self._started:
            log.warning("MQTT disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            outcome = self.handle(message.topic, bytes(message.payload))
        except Exception:
            log.exception("unexpected error on %s", message.topic)
            outcome = None
        if outcome is None:
            log.error("message on %s left unacknowledged; the broker redelivers it", message.topic)
            return
        if message.qos > 0:
            client.ack(message.mid, message.qos)
