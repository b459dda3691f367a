"""The MQTT link: drains the outbox to the broker (critical first) and answers the cloud's commands.

Threads: `start()` runs one link thread that connects, reconnects with jittered backoff and
publishes; each connection gets a fresh paho client whose own network thread delivers the
callbacks. The outbox is the single source of truth. A PUBACK only marks an event sent: it
leaves the outbox when the cloud's retained report on `.../stored` (protocol/delivery.py) says
it is stored. A sent event with no report in time is sent again (backoff doubling up to the
outbox's `resend_max_s`), and every reconnect makes the unreported ones due within seconds, so
events a broker dropped (a full queue for an offline cloud) are re-sent until stored.
Duplicates are harmless because the cloud dedupes on (device_id, epoch, seq).
"""

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device.config import MqttConfig
from device.link.backoff import Random, next_delay
from device.outbox import Outbox
from protocol import (
    Command,
    CommandResult,
    ProtocolError,
    commands_topic,
    decode_command,
    events_topic,
    results_topic,
    status_topic,
    validate_device_id,
)
from protocol.delivery import StoredReport, decode_stored
from protocol.topics import STATUS_OFFLINE, STATUS_ONLINE, stored_topic

log = logging.getLogger(__name__)

DEFAULT_MAX_INFLIGHT = 16
_IDLE_RECHECK_S = 5.0  # a cheap safety re-check of the outbox when nothing woke the link
_STOP_PUBLISH_TIMEOUT_S = 2.0
_ERROR_PAUSE_S = 1.0
_RECONNECT_RESEND_S = 5.0  # after a (re)connect, unreported events are re-sent within this

CommandHandler = Callable[[Command], CommandResult]
AckHook = Callable[[int], None]


@dataclass
class _Session:
    """One connection's state; a reconnect starts a fresh client and a fresh session."""

    client: paho.Client
    ready: bool = False  # CONNACK accepted
    lost: bool = False
    seq_by_mid: dict[int, int | None] = field(default_factory=dict)  # None: not an event
    early: dict[int, ReasonCode] = field(default_factory=dict)  # PUBACKs that beat publish()
    in_flight: set[int] = field(default_factory=set)  # event seqs sent, PUBACK pending
    refused: set[int] = field(default_factory=set)  # seqs the broker refused: retry next session
    commands: deque[Command] = field(default_factory=deque)
    reports: deque[StoredReport] = field(default_factory=deque)  # from the cloud, to apply


class MqttLink:
    """Keeps one robot connected to the broker and its outbox drained, forever, until stopped."""

    def __init__(
        self,
        device_id: str,
        mqtt: MqttConfig,
        outbox: Outbox,
        on_command: CommandHandler | None = None,
        client_id: str | None = None,
        *,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        on_acked: AckHook | None = None,
        rng: Random | None = None,
    ) -> None:
        self.device_id = validate_device_id(device_id)
        self.mqtt = mqtt
        self.outbox = outbox
        self.on_command = on_command
        self.on_acked = on_acked
        self.client_id = client_id or device_id
        self.username = mqtt.username or device_id
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight}")
        self.max_inflight = max_inflight
        self._rng: Random = rng or random.Random()
        self._events_topic = events_topic(device_id)
        self._status_topic = status_topic(device_id)
        self._commands_topic = commands_topic(device_id)
        self._results_topic = results_topic(device_id)
        self._stored_topic = stored_topic(device_id)
        self._cond = threading.Condition()
        self._dirty = False
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        # Commands are answered in order on their own thread: a slow one (a model download)
        # must never hold up the drain of the outbox, where an emergency may be waiting.
        self._commands: ThreadPoolExecutor | None = None
        self._results: deque[CommandResult] = deque()  # answered, to publish on the link thread
        self.last_ack_monotonic: float | None = None
        self.connections = 0  # successful CONNACKs so far
        self.confirmed = 0  # events the cloud reported stored (and the outbox forgot)
        self.resent = 0  # sent events re-sent because no stored report came in time
        self._cloud_heard_at: float | None = None  # wall time of the last report for our epoch

    # -- public API -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the link thread; it connects and reconnects by itself."""
        if self._thread is not None:
            raise RuntimeError("the link is already started")
        self._stopping.clear()
        self._commands = ThreadPoolExecutor(
            1, thread_name_prefix=f"dolbom-commands-{self.device_id}"
        )
        self._thread = threading.Thread(
            target=self._run, name=f"dolbom-link-{self.device_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish `offline` (retained) if connected, disconnect, and end the link thread."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake()
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("the MQTT link thread did not stop within %.1f s", timeout_s)
        self._thread = None
        if self._commands is not None:
            self._commands.shutdown(wait=False, cancel_futures=True)
            self._commands = None

    def notify(self) -> None:
        """Wake the drain: something was appended to the outbox (thread-safe, cheap)."""
        self._wake()

    @property
    def connected(self) -> bool:
        """True while the broker has accepted the connection."""
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected or `timeout_s` passed; return whether connected."""
        return self._connected.wait(timeout_s)

    def __enter__(self) -> "MqttLink":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the link thread --------------------------------------------------------------------

    def _wake(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                session = self._connect(quiet=attempt > 0)
                if session is not None:
                    try:
                        self._serve(session)
                    finally:
                        self._close(session, graceful=self._stopping.is_set())
                    if session.ready:
                        attempt = 0
            except Exception:  # the link must outlive any surprise; the outbox keeps the events
                log.exception("the MQTT link hit an unexpected error; it will reconnect")
                self._connected.clear()
            if self._stopping.is_set():
                break
            delay_s = next_delay(
                attempt, self.mqtt.reconnect_min_s, self.mqtt.reconnect_max_s, self._rng
            )
            attempt += 1
            log.info("reconnecting to %s:%d in %.2f s", self.mqtt.host, self.mqtt.port, delay_s)
            self._stopping.wait(delay_s)

    def _new_client(self) -> paho.Client:
        v5 = self.mqtt.protocol == "5"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else True,
            reconnect_on_failure=False,
        )
        client.username_pw_set(self.username, self.mqtt.password)
        client.will_set(self._status_topic, STATUS_OFFLINE, qos=1, retain=True)
        if self.mqtt.tls:
            client.tls_set(ca_certs=self.mqtt.ca_file)
        client.max_inflight_messages_set(self.max_inflight + 8)  # + status and results
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect(self, *, quiet: bool) -> _Session | None:
        try:
            client = self._new_client()
            session = _Session(client)
            client.user_data_set(session)
            if self.mqtt.protocol == "5":
                client.connect(
                    self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s, clean_start=True
                )
            else:
                client.connect(self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s)
        except (OSError, ValueError) as e:
            level = logging.INFO if quiet else logging.WARNING  # one warning per outage
            log.log(
                level, "cannot reach the broker at %s:%d: %s", self.mqtt.host, self.mqtt.port, e
            )
            return None
        client.loop_start()
        return session

    def _serve(self, session: _Session) -> None:
        while True:
            idle_s = self._idle_s()
            with self._cond:
                if not self._dirty:
                    self._cond.wait(idle_s)
                self._dirty = False
                if self._stopping.is_set() or session.lost:
                    return
                if not session.ready:
                    continue
                reports = list(session.reports)
                session.reports.clear()
                commands = list(session.commands)
                session.commands.clear()
                results = list(self._results)
                self._results.clear()
                exclude = session.in_flight | session.refused
                free = self.max_inflight - len(session.in_flight)
            try:
                self._apply_reports(reports)
                requeued = self.outbox.requeue_due(self._cloud_heard_at)
                if requeued:
                    self.resent += requeued
                    log.info("%d sent events have no stored report yet; sending again", requeued)
                    with self._cond:
                        exclude = session.in_flight | session.refused
                for command in commands:
                    self._answer(command)
                for result in results:
                    payload = result.model_dump_json().encode("utf-8")
                    self._publish(session, self._results_topic, payload, seq=None)
                if free > 0:
                    self._send_pending(session, free, exclude)
            except Exception:
                log.exception("the MQTT link failed to drain the outbox; retrying")
                self._stopping.wait(_ERROR_PAUSE_S)
                self._wake()

    def _idle_s(self) -> float:
        """How long the link may sleep: until the next resend is due, at most the idle recheck."""
        due = self.outbox.next_resend_at()
        if due is None:
            return _IDLE_RECHECK_S
        return min(_IDLE_RECHECK_S, max(0.05, due - time.time()))

    def _apply_reports(self, reports: list[StoredReport]) -> None:
        for report in reports:
            if report.epoch == self.outbox.epoch:
                self._cloud_heard_at = time.time()
            confirmed = self.outbox.confirm(report)
            if confirmed:
                self.confirmed += confirmed
                # The cloud is storing again: what it has not reported soon is re-sent soon,
                # not after a backoff that grew while it was away.
                self.outbox.expedite(self.outbox.limits.resend_after_s)
                log.debug(
                    "the cloud stored %d more events (up to #%d)", confirmed, report.stored_up_to
                )
            elif report.epoch != self.outbox.epoch:
                log.debug(
                    "ignored a stored report for epoch %d (ours is %d)",
                    report.epoch,
                    self.outbox.epoch,
                )

    def _send_pending(self, session: _Session, free: int, exclude: set[int]) -> None:
        for record in self.outbox.pending_records(free, exclude=exclude):
            with self._cond:
                if session.lost or self._stopping.is_set():
                    return
                session.in_flight.add(record.seq)
            if not self._publish(session, self._events_topic, record.data, seq=record.seq):
                with self._cond:
                    session.in_flight.discard(record.seq)
                return

    def _answer(self, command: Command) -> None:
        if self._commands is None:
            return
        try:
            self._commands.submit(self._answer_now, command)
        except RuntimeError:  # shut down: the link is stopping
            log.debug("command %s not answered: the link is stopping", command.command_id)

    def _answer_now(self, command: Command) -> None:
        """On the commands thread; the result is published by the link thread."""
        if self.on_command is None:
            result = self._result(command, ok=False, detail="this device takes no commands")
        else:
            try:
                result = self.on_command(command)
            except Exception as e:
                log.exception("command %s (%s) failed", command.command_id, command.type)
                result = self._result(command, ok=False, detail=f"{type(e).__name__}: {e}")
        with self._cond:
            self._results.append(result)
        self._wake()

    def _result(self, command: Command, *, ok: bool, detail: str) -> CommandResult:
        return CommandResult(
            command_id=command.command_id,
            device_id=self.device_id,
            ts=datetime.now(UTC),
            ok=ok,
            detail=detail[:500],
        )

    def _publish(
        self,
        session: _Session,
        topic: str,
        payload: bytes,
        *,
        seq: int | None,
        retain: bool = False,
    ) -> bool:
        """QoS 1 publish whose PUBACK is matched to `seq` even if it arrives before we return."""
        info = session.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("publish on %s not sent: %s", topic, paho.error_string(info.rc))
            return False
        with self._cond:
            early = session.early.pop(info.mid, None)
            if early is None:
                session.seq_by_mid[info.mid] = seq
                return True
        self._settle(session, seq, early)
        return True

    def _settle(self, session: _Session, seq: int | None, reason: ReasonCode) -> None:
        if seq is None:
            return
        ok = not reason.is_failure
        if ok:
            try:
                self.outbox.ack(seq)
            except Exception:
                log.exception("cannot mark event %d delivered; it will be sent again", seq)
            self.last_ack_monotonic = time.monotonic()
            if self.on_acked is not None:
                try:
                    self.on_acked(seq)
                except Exception:
                    log.exception("the on_acked hook failed for event %d", seq)
        else:
            log.error(
                "the broker refused event %d (%s); it stays queued and is retried after reconnect",
                seq,
                reason,
            )
        with self._cond:
            session.in_flight.discard(seq)
            if not ok:
                session.refused.add(seq)
            self._dirty = True
            self._cond.notify_all()

    def _close(self, session: _Session, *, graceful: bool) -> None:
        self._connected.clear()
        client = session.client
        if graceful and session.ready and not session.lost:
            info = client.publish(self._status_topic, STATUS_OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(_STOP_PUBLISH_TIMEOUT_S)
            except (RuntimeError, ValueError) as e:
                log.warning("could not publish offline before disconnecting: %s", e)
        client.disconnect()
        client.loop_stop()
        # Break the client <-> session cycle so the client (and its wake-up socket pair) is
        # freed now, not by a later garbage collection that finds its sockets unclosed.
        client.user_data_set(None)

    # -- paho callbacks (run in the connection's network thread) -----------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        session: _Session = userdata
        if reason_code.is_failure:
            log.warning(
                "the broker at %s:%d refused the connection: %s",
                self.mqtt.host,
                self.mqtt.port,
                reason_code,
            )
            return
        try:
            client.subscribe([(self._commands_topic, 1), (self._stored_topic, 1)])
            self._publish(session, self._status_topic, STATUS_ONLINE, seq=None, retain=True)
            self.outbox.expedite(min(_RECONNECT_RESEND_S, self.outbox.limits.resend_after_s))
        except Exception:
            log.exception("cannot subscribe or announce online")
        with self._cond:
            session.ready = True
            self.connections += 1
            self._dirty = True
            self._cond.notify_all()
        self._connected.set()
        log.info(
            "connected to %s:%d as %s (MQTT %s)",
            self.mqtt.host,
            self.mqtt.port,
            self.client_id,
            self.mqtt.protocol,
        )

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        session: _Session = userdata
        self._connected.clear()
        with self._cond:
            was_ready = session.ready
            session.lost = True
            self._dirty = True
            self._cond.notify_all()
        if self._stopping.is_set():
            log.info("disconnected from %s:%d (stopping)", self.mqtt.host, self.mqtt.port)
        elif was_ready:
            why = (
                f"the broker sent DISCONNECT ({reason_code})"
                if flags.is_disconnect_packet_from_server
                else f"connection lost ({reason_code})"
            )
            log.warning("disconnected from %s:%d: %s", self.mqtt.host, self.mqtt.port, why)
        else:
            log.warning(
                "connection to %s:%d closed before it was accepted: %s",
                self.mqtt.host,
                self.mqtt.port,
                reason_code,
            )

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        session: _Session = userdata
        with self._cond:
            if mid not in session.seq_by_mid:
                session.early[mid] = reason_code
                return
            seq = session.seq_by_mid.pop(mid)
        self._settle(session, seq, reason_code)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        session: _Session = userdata
        if message.topic == self._stored_topic:
            self._on_stored(session, bytes(message.payload))
            return
        try:
            command = decode_command(bytes(message.payload))
        except ProtocolError as e:
            log.warning("ignored a malformed command on %s: %s", message.topic, e)
            return
        if command.device_id != self.device_id:
            log.warning(
                "ignored command %s addressed to %r, not to this device",
                command.command_id,
                command.device_id,
            )
            return
        with self._cond:
            session.commands.append(command)
            self._dirty = True
            self._cond.notify_all()

    def _on_stored(self, session: _Session, raw: bytes) -> None:
        if not raw:  # a cleared retained report
            return
        try:
            report = decode_stored(raw)
        except ProtocolError as e:
            log.warning("ignored a malformed stored report: %s", e)
            return
        with self._cond:
            session.reports.append(report)
            self._dirty = True
            self._cond.notify_all()
