"""The MQTT side of ingest: paho-mqtt 2 queues messages; one thread stores them in batches.

paho's network thread only enqueues. The ingest thread takes a batch (up to
`ingest_batch_max` messages, waiting up to `ingest_batch_wait_s` unless a critical event is
in hand), stores it in one transaction, the most urgent devices first, and only after the
commit acknowledges each message to the broker: a crash before the commit means the broker
redelivers (to a persistent session), never that it forgets a message it had accepted.

On PostgreSQL critical messages have a thread and a store connection of their own (the urgent
lane): an emergency is stored and its alert committed while the routine thread's step is still
open, instead of waiting for that step's commit. The routine thread commits at its next step
when one arrives and starts no transaction while the lane stores, so an emergency whose robot
has rows in that step waits for one step at most (the robot's row lock); acknowledgements
still go out in arrival order (`AckOrder`).
SQLite has one writer: there the one thread yields to a critical message between steps.

Every message ends stored or dead-lettered, and acknowledged: an exception from one message is
caught at the per-message boundary (parse in paho's thread, store in the ingest thread). The
session is persistent by default, under a client id stable across restarts
(`dolbom-ingest-<hostname>-<worker_id>`) that a lease in the store keeps to one live worker.
`health()` says whether the ingest loop is alive and making progress.
"""

import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import Connection
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from cloud import metrics
from cloud.alerts.service import AlertChange, AlertEngine
from cloud.errors import CloudError, CommandNotSentError
from cloud.ingest.ackorder import AckOrder
from cloud.ingest.batch import StepPace, processing_order, store_batch
from cloud.ingest.handler import (
    IngestOutcome,
    ParsedMessage,
    dead_letter,
    parse_any,
    store_message,
)
from cloud.ingest.inbox import Inbox, Received
from cloud.ingest.lease import ClientIdLease
from cloud.ingest.mqttclient import BufferedClient
from cloud.ingest.stored import StoredPublisher
from cloud.settings import CloudSettings
from protocol import STATUS_SUBSCRIPTION, Command, commands_topic
from protocol.topics import EVENTS_SUBSCRIPTION

log = logging.getLogger(__name__)

_DB_RETRIES = 3
_RETRY_PAUSE_S = 1.0
_POLL_S = 0.1


def _concurrent(session_factory: sessionmaker[Session]) -> bool:
    """True when the store takes writes from two connections at once (not SQLite)."""
    bind = session_factory.kw.get("bind")
    return bind is not None and bind.dialect.name != "sqlite"


class _OwnConnection:
    """The urgent lane's store connection, held between its transactions: a pool checkout pings
    the store first (`pool_pre_ping`), one round trip more for every emergency. A connection the
    store dropped fails the next statement instead, SQLAlchemy invalidates it, and the retry
    opens another at once (`IngestWorker.handle_batch`).

    The routine thread keeps the pool: held for it too, PostgreSQL used 0.20-0.25 CPU-s per
    1,000 events stored against 0.13-0.19 for the code before (five drains each, load 5-9), and
    0.17 with only the lane's held (two drains against 0.15-0.16).
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._conn: Connection | None = None

    def session(self) -> Session:
        """A session on the held connection (opened first if there is none or it was dropped)."""
        conn = self._conn
        if conn is None or conn.invalidated or conn.closed:
            self.close()
            conn = self._conn = self._sessions.kw["bind"].connect()
            # psycopg prepares a statement on the server after its 5th run on a connection; on
            # this held connection that raised PostgreSQL's CPU per event stored (docs/scale.md).
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and hasattr(dbapi, "prepare_threshold"):
                dbapi.prepare_threshold = None
        return self._sessions(bind=conn)

    def warm(self) -> None:
        """Open the connection now, so the first message does not wait for it."""
        try:
            self.session().close()
        except SQLAlchemyError as e:
            log.warning("ingest: store not reachable yet: %s", e)

    def close(self) -> None:
        """Give the connection back (the next `session` opens another)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError:
                log.debug("ingest: closing a dropped connection failed", exc_info=True)


class _ArrivalWatch:
    """The routine thread's `yield_to` beside an urgent lane: true once a critical message has
    arrived since the batch began (the lane stores it; the routine step commits so the lane
    never waits long for a robot's row lock)."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._seen = inbox.urgent_arrivals()
        self.fired = False

    def __call__(self) -> bool:
        self.fired = self.fired or self._inbox.urgent_arrivals() != self._seen
        return self.fired


def is_transient(error: SQLAlchemyError) -> bool:
    """True for store errors worth retrying (connection lost, locked, deadlock), not bad data."""
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError):
        return True
    if isinstance(error, PoolTimeoutError):
        return True
    return bool(getattr(error, "connection_invalidated", False))


def default_client_id(settings: CloudSettings, hostname: str | None = None) -> str:
    """The MQTT client id: DOLBOM_MQTT_CLIENT_ID, else `dolbom-ingest-<host>-<worker_id>`.

    Stable across restarts of the same worker (so its persistent session survives a crash) and
    distinct between workers of one host as long as each has its own DOLBOM_WORKER_ID. With
    `mqtt_session="clean"` (development) a random id, since nothing is kept anyway.
    """
    if settings.mqtt_client_id:
        return settings.mqtt_client_id
    if settings.mqtt_session == "clean":
        return f"dolbom-ingest-clean-{uuid.uuid4().hex[:16]}"
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", hostname or socket.gethostname())[:64]
    return f"dolbom-ingest-{host}-{settings.worker_id}"


@dataclass(frozen=True, slots=True)
class IngestHealth:
    """`ok`, `stuck` (messages wait, none stored for a while), `dead` (a loop ended), `stopped`."""

    state: str
    detail: str = ""
    stuck_for_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True only for a running, progressing worker."""
        return self.state == "ok"


class CommandPublisher(Protocol):
    """Sends a command to one device (the MQTT worker, or a fake in unit tests)."""

    def publish_command(self, device_id: str, command: Command) -> None: ...


def events_subscription(settings: CloudSettings) -> str:
    """`$share/<group>/dolbom/v1/devices/+/events`, or the plain filter for brokers without it."""
    if settings.mqtt_shared:
        return f"$share/{settings.mqtt_share_group}/{EVENTS_SUBSCRIPTION}"
    return EVENTS_SUBSCRIPTION


class IngestWorker:
    """Subscribes to events and status, stores every message in batches, never dies on a bad one."""

    def __init__(
        self,
        settings: CloudSettings,
        session_factory: sessionmaker[Session],
        *,
        alerts: AlertEngine | None = None,
        on_alert: Callable[[AlertChange], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        urgent_lane: bool | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        # The urgent lane needs a store with concurrent writers: PostgreSQL, not SQLite.
        self._urgent_lane = urgent_lane if urgent_lane is not None else _concurrent(session_factory)
        self._alerts = alerts or AlertEngine(settings.webhook_urls)
        self._on_alert = on_alert
        self._clock = clock
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._unsubscribed = threading.Event()
        self._started = False
        self._inbox = Inbox(settings.ingest_queue_max, urgent_lane=self._urgent_lane)
        self._pace = StepPace()  # routine rows per step: what fits in 50 ms at the last rate
        self._draining = threading.Event()
        self._drain_until = 0.0
        self._ingest_thread: threading.Thread | None = None
        self._urgent_thread: threading.Thread | None = None
        self._thread_store = threading.local()  # the urgent lane's `_OwnConnection`
        # Bumped on every connect and disconnect: a mid is only acknowledged on its connection.
        self._generation = 0
        self._ack_lock = threading.Lock()
        self._ack_order = AckOrder()  # acks in arrival order, however storage reordered them
        self._v5 = settings.mqtt_protocol == "5"
        self._persistent = settings.mqtt_session == "persistent" or bool(settings.mqtt_client_id)
        client_id = default_client_id(settings)
        self.client_id = client_id
        self._lease = (
            ClientIdLease(session_factory, client_id, settings.ingest_lease_ttl_s)
            if self._persistent
            else None
        )
        # Health (monotonic seconds, injectable for tests): the loop's last turn, the last
        # time nothing waited or something was stored, and how many messages are in hand.
        self._monotonic = monotonic
        self._beat = monotonic()
        self._progress = monotonic()
        self._in_hand = 0
        self._urgent_in_hand = 0
        self._failure: str | None = None
        self._next_renew = 0.0
        self._client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else not self._persistent,
            manual_ack=True,
        )
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            self._client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls:
            try:
                self._client.tls_set(ca_certs=settings.mqtt_ca_file)
            except (OSError, ValueError) as e:
                raise CloudError(
                    f"cannot use DOLBOM_MQTT_CA_FILE={settings.mqtt_ca_file!r} for TLS: {e}"
                ) from None
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._client.on_message = self._on_message
        # -- end-to-end delivery (H5, issue 14 item 2b): retained stored reports per device --
        self.stored = StoredPublisher(
            session_factory,
            lambda topic, payload: self._client.publish(topic, payload, qos=1, retain=True),
        )
        # -- end of the delivery hook --

    @property
    def waiting(self) -> int:
        """Messages received and not yet stored or dead-lettered (queued or in hand)."""
        return len(self._inbox) + self._in_hand + self._urgent_in_hand

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def start(self, wait_s: float | None = None) -> bool:
        """Start the ingest thread, connect in the background (reconnecting forever), wait."""
        s = self._settings
        if self._lease is not None:
            try:
                self._lease.acquire()  # LeaseHeldError: another live worker has this id
            except SQLAlchemyError as e:
                log.warning("store unreachable; client id %s taken unleased: %s", self.client_id, e)
        self._draining.clear()
        self._failure = None
        self._beat = self._progress = self._monotonic()
        self._next_renew = self._beat + s.ingest_lease_ttl_s / 3
        self.start_store_threads()
        self.stored.start()  # delivery hook (H5): stored reports
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.ReceiveMaximum = s.ingest_receive_maximum
            if self._persistent:
                properties.SessionExpiryInterval = s.mqtt_session_expiry_s
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

    def start_store_threads(self) -> None:
        """The ingest thread and, with the urgent lane, the critical messages' thread (`start`
        does this; tests without a broker call it alone)."""
        self._ingest_thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._ingest_thread.start()
        if self._urgent_lane:
            self._urgent_thread = threading.Thread(
                target=self._run_urgent, name="ingest-urgent", daemon=True
            )
            self._urgent_thread.start()

    def join_store_threads(self, timeout_s: float) -> None:
        """Let the store threads finish what is in hand (at most `timeout_s`), then join them."""
        self._drain_until = time.monotonic() + timeout_s
        self._draining.set()
        for thread in (self._ingest_thread, self._urgent_thread):
            if thread is not None:
                thread.join(timeout_s + 1.0)
        self._ingest_thread = self._urgent_thread = None

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Block until the subscriptions are granted (or the timeout passes)."""
        return self._subscribed.wait(timeout_s)

    def stop(self) -> None:
        """Unsubscribe, store and acknowledge what is in hand, then disconnect and join."""
        if not self._started:
            return
        self._started = False
        timeout_s = self._settings.ingest_stop_timeout_s
        if self.connected:
            self._unsubscribed.clear()
            self._client.unsubscribe(self._topics())
            self._unsubscribed.wait(min(2.0, timeout_s))
        self.join_store_threads(timeout_s)
        self.stored.stop()  # delivery hook (H5): last stored reports before disconnecting
        left = len(self._inbox)
        if left:
            log.warning("stopping with %d messages unacknowledged; the broker keeps them", left)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._subscribed.clear()
        self._inbox = Inbox(self._settings.ingest_queue_max, urgent_lane=self._urgent_lane)
        if self._lease is not None:
            self._lease.release()

    def health(self) -> IngestHealth:
        """Dead when the ingest or the network thread ended; stuck when messages wait (in the
        inbox or in hand) and none was stored for `ingest_stuck_s`."""
        if not self._started:
            return IngestHealth("stopped")
        thread = self._ingest_thread
        if thread is None or not thread.is_alive():
            return IngestHealth("dead", self._failure or "the ingest thread ended")
        urgent = self._urgent_thread
        if self._urgent_lane and (urgent is None or not urgent.is_alive()):
            return IngestHealth("dead", self._failure or "the urgent ingest thread ended")
        network = getattr(self._client, "_thread", None)
        if network is None or not network.is_alive():
            return IngestHealth("dead", "the MQTT network thread ended")
        now = self._monotonic()
        waiting = self.waiting
        idle_for = now - self._progress
        if waiting and idle_for > self._settings.ingest_stuck_s:
            return IngestHealth(
                "stuck", f"{waiting} messages wait; none stored for {idle_for:.0f} s", idle_for
            )
        beat_age = now - self._beat
        if beat_age > self._settings.ingest_stuck_s:
            return IngestHealth(
                "stuck", f"the ingest loop has not turned for {beat_age:.0f} s", beat_age
            )
        return IngestHealth("ok")

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

    # storing

    def handle(self, topic: str, raw: bytes) -> IngestOutcome | None:
        """Ingest and commit one message; None only when the store stayed unavailable."""
        return self.handle_batch([Received(parse_any(topic, raw))])[0]

    def handle_batch(
        self, batch: Sequence[Received], *, yield_to: Callable[[], bool] | None = None
    ) -> list[IngestOutcome | None]:
        """Store a batch in one transaction, then tell `on_alert`; outcomes in `batch` order.

        An outcome is None when the store stayed unavailable, or when `yield_to` said to stop
        early (a critical message waits): those messages must not be acknowledged yet. A
        message that breaks the batch's transaction sends the batch through one transaction
        per message, where that message alone is dead-lettered.
        """
        messages = [r.message for r in batch]
        if not messages:
            return []
        for attempt in range(_DB_RETRIES):
            started = time.monotonic()
            try:
                with self._session() as session, session.begin():
                    stored = store_batch(
                        session,
                        messages,
                        self._clock(),
                        alerts=self._alerts,
                        yield_to=yield_to,
                        pace=self._pace,
                    )
            except SQLAlchemyError as e:
                if not is_transient(e):
                    log.warning("batch of %d refused (%s); one by one", len(messages), e)
                    return self._one_by_one(messages)
                log.error(
                    "store error on a batch of %d (attempt %d): %s", len(messages), attempt + 1, e
                )
                if attempt or not getattr(e, "connection_invalidated", False):
                    time.sleep(0.2 * 2**attempt)  # a dropped connection is replaced at once
                continue
            except Exception:
                log.exception("batch of %d failed; one by one", len(messages))
                return self._one_by_one(messages)
            done = time.monotonic()
            outcomes: list[IngestOutcome | None] = [None] * len(messages)
            for i, outcome in stored:
                outcomes[i] = outcome
                self._notify(outcome)
                metrics.INGEST_MESSAGES.labels(outcome.outcome.value).inc()
                if outcome.alert is not None and batch[i].urgent and batch[i].received_s:
                    metrics.ALERT_LATENCY_SECONDS.observe(done - batch[i].received_s)
            if stored:
                metrics.INGEST_BATCH_SIZE.observe(len(stored))
                metrics.INGEST_STORE_SECONDS.observe(done - started)
            return outcomes
        return [None] * len(messages)

    def _one_by_one(self, messages: Sequence[ParsedMessage]) -> list[IngestOutcome | None]:
        outcomes: list[IngestOutcome | None] = [None] * len(messages)
        for i in processing_order(messages):
            outcome = self._store_one(messages[i])
            outcomes[i] = outcome
            if outcome is not None:
                self._notify(outcome)
                metrics.INGEST_MESSAGES.labels(outcome.outcome.value).inc()
        return outcomes

    def _store_one(self, message: ParsedMessage) -> IngestOutcome | None:
        for attempt in range(_DB_RETRIES):
            try:
                with self._session() as session, session.begin():
                    return store_message(session, message, self._clock(), alerts=self._alerts)
            except SQLAlchemyError as e:
                if not is_transient(e):
                    log.error("store refused a message on %s: %s", message.topic, e)
                    return self._dead_letter_bug(message, e, "store refused it")
                log.error("store error on %s (attempt %d): %s", message.topic, attempt + 1, e)
                time.sleep(0.2 * 2**attempt)
            except Exception as e:
                log.exception("bug while ingesting a message on %s", message.topic)
                return self._dead_letter_bug(message, e)
        return None

    def _dead_letter_bug(
        self, message: ParsedMessage, error: Exception, what: str = "internal error"
    ) -> IngestOutcome | None:
        try:
            with self._session() as session, session.begin():
                return dead_letter(
                    session,
                    message.topic,
                    message.raw,
                    f"{what}: {type(error).__name__}: {error}",
                    self._clock(),
                )
        except SQLAlchemyError:
            log.exception("could not dead-letter a message on %s", message.topic)
            return None

    def _session(self) -> Session:
        """A session on this thread's own connection (the urgent lane's), else a pooled one."""
        own: _OwnConnection | None = getattr(self._thread_store, "own", None)
        return own.session() if own is not None else self._sessions()

    def _notify(self, outcome: IngestOutcome) -> None:
        if outcome.alert is None or self._on_alert is None:
            return
        try:
            self._on_alert(outcome.alert)
        except Exception:
            log.exception("on_alert failed for alert %d", outcome.alert.alert_id)

    # the ingest thread

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # the thread ends; health() says dead, serve exits
            self._failure = f"the ingest loop died: {type(e).__name__}: {e}"
            log.critical("%s", self._failure, exc_info=True)

    def _hold_connection(self) -> _OwnConnection:
        """This thread's own store connection (the urgent lane's)."""
        own = _OwnConnection(self._sessions)
        self._thread_store.own = own
        own.warm()
        return own

    def _loop(self) -> None:
        while True:
            self._turn()
            if self._failure is not None:
                raise RuntimeError(self._failure)
            try:
                batch = self._collect()
            except Exception:
                log.exception("ingest inbox failed; retrying")
                batch = None
            if batch is None:
                if self._draining.is_set():
                    return
                continue
            self._in_hand = len(batch)
            try:
                self._process(batch)
            except Exception:
                log.exception("ingest batch of %d failed; left unacknowledged", len(batch))
            finally:
                self._in_hand = 0
            if self._draining.is_set() and time.monotonic() > self._drain_until:
                return

    def _turn(self) -> None:
        """Once per loop turn: heartbeat, progress when nothing waits, renew the lease."""
        now = self._monotonic()
        self._beat = now
        metrics.INGEST_WAITING.set(self.waiting)
        metrics.INGEST_CONNECTED.set(1 if self.connected else 0)
        if not self.waiting:
            self._progress = now
        if self._lease is None or now < self._next_renew:
            return
        self._next_renew = now + self._settings.ingest_lease_ttl_s / 3
        try:
            if not self._lease.renew():
                self._failure = f"another worker took over the client id {self.client_id!r}"
                log.critical("%s; ingest stops", self._failure)
        except SQLAlchemyError as e:
            log.warning("could not renew the lease of %s: %s", self.client_id, e)

    def _collect(self) -> list[Received] | None:
        """The next batch: critical messages at once, else what fills in `ingest_batch_wait_s`."""
        s = self._settings
        batch = self._inbox.take(s.ingest_batch_max, _POLL_S, s.ingest_batch_wait_s)
        return batch or None

    def _process(self, batch: list[Received]) -> None:
        """Store, then acknowledge; yield to critical messages; retry on store errors."""
        stack = [batch]  # a critical batch goes on top of the batch it interrupted
        lane = self._urgent_lane
        while stack:
            pending = stack[-1]
            if lane:
                self._wait_lane_idle()
            watch = _ArrivalWatch(self._inbox) if lane else None
            if watch is not None:  # commit at the next step once a critical message arrives
                pending, later = self._inbox.held_back(pending)
                if later:  # their robot's emergency goes first, and its row stays free for it
                    self._inbox.requeue(later)
                    self._in_hand -= len(later)
                    if not pending:
                        stack.pop()
                        continue
                    stack[-1] = pending
                outcomes = self.handle_batch(pending, yield_to=watch)
            else:
                outcomes = self.handle_batch(
                    pending, yield_to=None if pending[0].urgent else self._inbox.urgent_waiting
                )
            rest = self._settle(pending, outcomes)
            done = len(pending) - len(rest)
            if rest:
                stack[-1] = rest
            else:
                stack.pop()
            if watch is not None and watch.fired:
                continue  # the urgent lane has it; go on with the rest in a new transaction
            if not lane and not pending[0].urgent and self._inbox.urgent_waiting():
                urgent = self._inbox.take(self._settings.ingest_batch_max, 0.0, 0.0)
                if urgent:
                    stack.append(urgent)
                    continue
            if rest and not done:
                log.error("store unavailable: %d messages wait unacknowledged", len(rest))
                if self._draining.wait(_RETRY_PAUSE_S):
                    return

    def _wait_lane_idle(self) -> None:
        """The routine thread starts no transaction while the lane stores: on two shared cores
        a routine step beside it took the lane's CPU and GIL (measured: emergency p95 2.0-4.2 s
        with both running at once, 0.5-1.4 s for the one-thread path, load 9-35)."""
        while not self._inbox.wait_lane_idle(_POLL_S):
            if self._failure is not None:  # the lane died: the loop ends, health says dead
                return
            if self._draining.is_set() and time.monotonic() > self._drain_until:
                return

    def _settle(
        self, pending: Sequence[Received], outcomes: Sequence[IngestOutcome | None]
    ) -> list[Received]:
        """Note and acknowledge what was stored; the messages still to store."""
        # -- delivery hook (H5): committed events → the devices' stored reports --
        self.stored.note(
            (r.message.envelope.device_id, r.message.envelope.epoch)
            for r, o in zip(pending, outcomes, strict=True)
            if o is not None and r.message.envelope is not None
        )
        # -- end of the delivery hook --
        settled = [r for r, o in zip(pending, outcomes, strict=True) if o is not None]
        self._ack(settled)
        if settled:
            self._progress = self._beat = self._monotonic()
        return [r for r, o in zip(pending, outcomes, strict=True) if o is None]

    # the urgent lane's thread (PostgreSQL)

    def _store_urgent(self, group: list[Received]) -> None:
        pending = group
        while pending:
            rest = self._settle(pending, self.handle_batch(pending))
            if rest and len(rest) == len(pending):
                log.error("store unavailable: %d critical messages wait", len(rest))
                if self._draining.wait(_RETRY_PAUSE_S):
                    return  # left unacknowledged: the broker sends them again
            pending = rest

    def _run_urgent(self) -> None:
        own = self._hold_connection()
        try:
            self._urgent_loop()
        except BaseException as e:  # the thread ends; health() says dead, serve exits
            self._failure = f"the urgent ingest loop died: {type(e).__name__}: {e}"
            log.critical("%s", self._failure, exc_info=True)
        finally:
            own.close()

    def _urgent_loop(self) -> None:
        """Critical messages, each batch in its own transaction on its own connection, at once."""
        while True:
            try:
                batch = self._inbox.take_urgent(self._settings.ingest_batch_max, _POLL_S)
            except Exception:
                log.exception("ingest inbox failed (urgent lane); retrying")
                batch = []
            if not batch:
                if self._draining.is_set():
                    return
                continue
            # One transaction for what came together. No deadlock with the routine thread: every
            # batch locks its robots in id order first (`store_batch`), and the routine thread
            # never stores a robot of the lane's (`Inbox.held_back`), so the lane may wait for
            # the routine step that holds a robot's row (until its commit, at the next step) but
            # the routine thread never waits for the lane.
            self._urgent_in_hand = len(batch)
            try:
                self._store_urgent(batch)
            except Exception:
                log.exception("critical batch of %d failed; left unacknowledged", len(batch))
            finally:
                self._urgent_in_hand = 0
                self._inbox.release(batch)
            if self._draining.is_set() and time.monotonic() > self._drain_until:
                return

    def _ack(self, settled: Sequence[Received]) -> None:
        """Acknowledge stored messages: QoS 1 in one write, of this connection only."""
        with self._ack_lock:
            # A message of a connection that is gone: the broker redelivers or has forgotten it.
            generation = self._generation
            ready = self._ack_order.settle(
                generation, [r.mid for r in settled if r.generation == generation and r.qos]
            )
            # In arrival order (MQTT-4.6.0-2): PUBACKs in one write up to each PUBREC.
            run: list[int] = []
            for mid, qos in ready:
                if qos == 1:
                    run.append(mid)
                    continue
                self._client.ack_many(run)
                run = []
                self._client.ack(mid, qos)
            self._client.ack_many(run)

    def _topics(self) -> list[str]:
        return [events_subscription(self._settings), STATUS_SUBSCRIPTION]

    # paho callbacks (run on paho's network thread)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self._ack_lock:
            self._generation += 1
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        if self._persistent:  # the broker sends them again; they could not be acked anyway
            dropped = self._inbox.drop_before(self._generation)
            if dropped:
                log.info("dropped %d queued messages of the last connection (redelivered)", dropped)
        self._connected.set()
        topics = self._topics()
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

    def _on_unsubscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        _reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        self._unsubscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self._ack_lock:
            self._generation += 1
        self._connected.clear()
        self._subscribed.clear()
        if self._started:
            log.warning("MQTT disconnected (%s); reconnecting", reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._enqueue(message)
        except Exception:  # paho's thread must survive any one message
            log.exception("could not queue a message on %r", getattr(message, "topic", "?"))

    def _enqueue(self, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # paho decodes the topic lazily
            topic = bytes(message._topic).decode("utf-8", "replace")
        parsed = parse_any(topic, bytes(message.payload))
        if message.dup:
            parsed = replace(parsed, redelivered=True)
        item = Received(
            parsed,
            message.mid,
            message.qos,
            self._generation,
            time.monotonic(),
        )
        self._ack_order.received(item.generation, item.mid, item.qos)
        # A redelivery is queued at once, full or not: after a reconnect Mosquitto resends every
        # unacknowledged message at once, past the receive window, and a paho thread waiting
        # here for room sends no keepalive, so the broker drops us and resends them all again
        # (seen: a 30,000-event drain stalled in that loop). Their number is what the broker had
        # in flight to us. Otherwise waits only when the broker sends more than the inbox holds
        # (an MQTT 3.1.1 broker configured past it); a message never queued is never
        # acknowledged, so not lost.
        if parsed.redelivered and self._inbox.put(item, timeout_s=0, force=True):
            return
        while not self._inbox.put(item, timeout_s=1.0):
            if not self._started:
                return
            log.warning("ingest inbox full (%d); waiting", self._settings.ingest_queue_max)
