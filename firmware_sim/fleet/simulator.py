"""Thousands of simulated robots in one process: paho-mqtt clients driven by one asyncio loop.

A thread per client does not scale to 10,000 robots, so every client runs on paho's external
loop API (as in paho's examples/loop_asyncio.py): the loop watches each client's socket and
calls `loop_read` / `loop_write` when it is ready, and one ticker calls `loop_misc` (keepalive)
for all clients once a second. The TCP connect itself is done by asyncio (`sock_connect`) and
the connected socket handed to paho, because paho's own connect blocks, which would stall
every other robot while a busy broker's listen queue is full.

Each robot behaves like the real one's link (device/link/mqtt.py): its MQTT client id and
username are its device id; it keeps an outbox of unacknowledged events in seq order and
sends at most `max_inflight` at a time with QoS 1; an event leaves the outbox only on its
PUBACK; a new connection is a fresh client with a clean session that re-sends whatever is
still in the outbox, in order; a retained `online` status on connect and a retained `offline`
last will; jittered exponential backoff after an unexpected disconnect.
"""

import asyncio
import contextlib
import heapq
import logging
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from device.link.backoff import next_delay
from firmware_sim.fleet.config import FleetConfig, FleetError
from firmware_sim.fleet.mix import DeviceState, EventMix
from firmware_sim.fleet.report import ApiReport, FleetReport
from firmware_sim.fleet.stats import ProcessUsage, Samples, raise_fd_limit
from protocol import events_topic, status_topic
from protocol.topics import STATUS_OFFLINE, STATUS_ONLINE

log = logging.getLogger(__name__)

KEPT_UP_LAG_S = 1.0
"""The schedule is kept when the p99 delay from an event's due time to its creation is below."""

_TICK_S = 0.25  # the loop-lag probe
_EMIT_SLICE_S = 0.02  # the scheduler yields to socket I/O at least this often
_MISC_EVERY_TICKS = 20  # paho's keepalive check every 5 s (keepalive >= 15 s)
_PROGRESS_EVERY_S = 5.0
_RECONNECT_MIN_S = 1.0
_RECONNECT_MAX_S = 30.0
_STOP_TIMEOUT_S = 10.0
_FD_MARGIN = 64  # the loop's own descriptors, the log, the API client

Progress = Callable[[str], None]


class Observer(Protocol):
    """Watches the cloud while the fleet runs (firmware_sim.fleet.observer.CloudObserver)."""

    async def prepare(self, device_ids: list[str], progress: Progress) -> None:
        """Before connecting: make the fleet visible to the observer."""

    async def collect(
        self, first_published: Mapping[tuple[str, int], float], acked: int, progress: Progress
    ) -> ApiReport:
        """After the run: what the cloud stored and alerted, given when each event was sent."""


class _Client(paho.Client):
    """paho's client, given a socket that asyncio has already connected (see the module doc)."""

    preconnected: socket.socket | None = None
    writer_on = False  # the loop watches the socket for writability

    def _create_socket_connection(self) -> socket.socket:
        sock, self.preconnected = self.preconnected, None
        if sock is None:
            raise OSError("no connected socket was handed to the MQTT client")
        return sock


_CLOSE_READS = 10_000


def _close_socket(client: paho.Client) -> None:
    """Close the client's connection without a DISCONNECT through paho's public loop: shut the
    socket down and let paho read the end of it, so paho closes it and its socket callbacks
    unregister it from the asyncio loop."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        for _ in range(_CLOSE_READS):  # packets already received come first, then the end
            if client.socket() is None:
                break
            client.loop_read()


@dataclass(slots=True)
class _Pending:
    """One event in a robot's outbox."""

    seq: int
    raw: bytes
    alarm: bool
    created: float  # loop time it was created
    published: float = 0.0  # loop time of its latest publish
    attempts: int = 0


@dataclass(eq=False)
class SimDevice:
    """One simulated robot: its plan, its outbox and its current connection."""

    index: int
    device_id: str
    rng: random.Random
    state: DeviceState
    phase_s: float
    offline_planned: bool = False
    storm_planned: bool = False
    seq: int = 0
    outbox: dict[int, _Pending] = field(default_factory=dict)  # insertion order is seq order
    to_send: deque[int] = field(default_factory=deque)
    by_mid: dict[int, int | None] = field(default_factory=dict)  # mid -> seq (None: status)
    inflight: int = 0
    client: _Client | None = None
    connected: bool = False
    connecting: bool = False
    wanted_online: bool = True
    attempt: int = 0
    connack: "asyncio.Future[bool] | None" = None
    connections: int = 0
    backlog_on_return: int = 0
    seq_at_return: int = 0

    def __post_init__(self) -> None:
        self.events_topic = events_topic(self.device_id)
        self.status_topic = status_topic(self.device_id)


@dataclass
class _Counters:
    created: int = 0
    published: int = 0
    resent: int = 0
    acked: int = 0
    refused: int = 0
    pending: int = 0
    alarms: int = 0
    connects: int = 0
    connect_failures: int = 0
    unexpected_disconnects: int = 0
    by_type: Counter[str] = field(default_factory=Counter)


class FleetSimulator:
    """One fleet, run once by `run()`; see the module doc for how each robot behaves."""

    def __init__(
        self,
        config: FleetConfig,
        *,
        progress: Progress | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.config = config
        self.progress = progress or (lambda _msg: None)
        self.observer = observer
        self.mix = EventMix()
        self.counters = _Counters()
        self.ack_latency = Samples()
        self.schedule_lag = Samples()
        self.loop_lag = Samples()
        self.first_published_wall: dict[tuple[str, int], float] = {}
        self.devices: list[SimDevice] = []
        self._running_loop: asyncio.AbstractEventLoop | None = None
        self._connect_sem: asyncio.Semaphore | None = None
        self._stopping = False
        self._measuring = False  # the loop-lag probe records during the run phase only
        self._error: BaseException | None = None
        self._open_sockets = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._plan()

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._running_loop
        if loop is None:
            raise RuntimeError("the fleet simulator is not running")
        return loop

    # -- the plan (pure) ------------------------------------------------------------------------

    def _plan(self) -> None:
        c = self.config
        rng = random.Random(f"fleet:{c.seed}")
        now = datetime.now(UTC)
        n_offline = round(c.devices * c.offline_share)
        n_storm = min(c.devices - n_offline, round(c.devices * c.storm_share))
        order = list(range(c.devices))
        rng.shuffle(order)
        offline = set(order[:n_offline])
        storm = set(order[n_offline : n_offline + n_storm])
        for i in range(c.devices):
            dev_rng = random.Random(f"fleet:{c.seed}:{i}")
            self.devices.append(
                SimDevice(
                    index=i,
                    device_id=c.device_id(i),
                    rng=dev_rng,
                    state=self.mix.new_state(dev_rng, now),
                    phase_s=rng.uniform(0.0, c.period_s),
                    offline_planned=i in offline,
                    storm_planned=i in storm,
                )
            )

    # -- running --------------------------------------------------------------------------------

    def run(self) -> FleetReport:
        """Connect the fleet, run it for `duration_s`, drain, disconnect; return the report."""
        return asyncio.run(self.run_async())

    async def run_async(self) -> FleetReport:
        """`run` inside a running loop (this loop must not be shared with other heavy work)."""
        c = self.config
        fd_limit = raise_fd_limit(c.devices + _FD_MARGIN)
        if fd_limit < c.devices + _FD_MARGIN:
            raise FleetError(
                f"{c.devices} devices need about {c.devices + _FD_MARGIN} file descriptors but"
                f" this process may open only {fd_limit} (the hard limit): raise it"
                " (`ulimit -Hn`, or LimitNOFILE in systemd) or simulate fewer devices"
            )
        self._running_loop = asyncio.get_running_loop()
        self._connect_sem = asyncio.Semaphore(c.connect_concurrency)
        usage0 = ProcessUsage.now()
        if self.observer is not None:
            await self.observer.prepare([d.device_id for d in self.devices], self.progress)
        ticker = self._spawn(self._ticker())
        try:
            connect_s = await self._connect_all()
            connected = sum(d.connected for d in self.devices)
            self.progress(f"{connected}/{c.devices} devices connected in {connect_s:.1f} s")
            run_usage0 = ProcessUsage.now()
            run_t0 = time.monotonic()
            self._measuring = True
            run_info = await self._run_phase()
            self._measuring = False
            run_wall = time.monotonic() - run_t0
            run_usage1 = ProcessUsage.now()
            drain_s, drained = await self._drain()
            await self._disconnect_all()
        finally:
            self._stopping = True
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await self._close_everything()
        if self._error is not None:
            raise FleetError(f"the simulator failed: {self._error!r}") from self._error
        usage1 = ProcessUsage.now()
        api: ApiReport | None = None
        if self.observer is not None:
            api = await self.observer.collect(
                self.first_published_wall, self.counters.acked, self.progress
            )
        return self._report(
            connect_s=connect_s,
            connected_at_start=connected,
            run_wall_s=run_wall,
            run_cpu_s=run_usage1.cpu_s - run_usage0.cpu_s,
            total_cpu_s=usage1.cpu_s - usage0.cpu_s,
            usage=usage1,
            fd_limit=fd_limit,
            drain_s=drain_s,
            drained=drained,
            api=api,
            **run_info,
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _connect_all(self) -> float:
        """Try every robot once; the ones refused keep retrying while the others wait, bounded."""
        t0 = time.monotonic()
        done = 0
        c = self.config
        last = t0

        async def first(dev: SimDevice) -> None:
            nonlocal done, last
            await self._connect(dev, retry=False)
            done += 1
            now = time.monotonic()
            if now - last >= _PROGRESS_EVERY_S:
                last = now
                self.progress(f"connecting: {done}/{c.devices}")

        await asyncio.gather(*(first(d) for d in self.devices))
        if not any(d.connected for d in self.devices):
            raise FleetError(
                f"no device could connect to {c.broker.url}: is the broker running there and"
                " does it accept anonymous MQTT clients?"
            )
        for d in self.devices:
            if not d.connected:
                self._spawn(self._connect(d))
        await _wait_until(lambda: all(d.connected for d in self.devices), c.connect_phase_s)
        return time.monotonic() - t0

    async def _run_phase(self) -> dict[str, Any]:
        """Publish on schedule; drop the offline share and the storm share at their moments."""
        c = self.config
        loop = self._loop
        t0 = loop.time()
        end = t0 + c.duration_s
        heap = [(t0 + d.phase_s, d.index) for d in self.devices]
        heapq.heapify(heap)
        offline = [d for d in self.devices if d.offline_planned]
        storm = [d for d in self.devices if d.storm_planned]
        offline_at = t0 + c.offline_at * c.duration_s if offline else None
        return_at = t0 + c.return_at * c.duration_s if offline else None
        storm_at = t0 + c.storm_at * c.duration_s if storm else None
        info: dict[str, Any] = {
            "offline_devices": len(offline),
            "storm_devices": len(storm),
            "storm_recovery_s": None,
            "offline_drain_s": None,
        }
        next_progress = t0 + _PROGRESS_EVERY_S
        while self._error is None:
            now = loop.time()
            if offline_at is not None and now >= offline_at:
                offline_at = None
                self.progress(f"{len(offline)} devices go offline (their will says so)")
                for d in offline:
                    self._drop(d)
            if return_at is not None and offline_at is None and now >= return_at:
                return_at = None
                backlog = sum(len(d.outbox) for d in offline)
                self.progress(f"{len(offline)} devices come back with {backlog} queued events")
                self._spawn(self._come_back(offline, info))
            if storm_at is not None and now >= storm_at:
                storm_at = None
                self.progress(f"reconnect storm: {len(storm)} devices drop at once")
                for d in storm:
                    self._drop(d)
                self._spawn(self._storm_return(storm, info))
            if now >= end:
                break
            # Emit what is due, but only for a slice: the loop must also read PUBACKs.
            slice_end = now + _EMIT_SLICE_S
            while heap and heap[0][0] <= now and heap[0][0] < end and now < slice_end:
                due, index = heapq.heappop(heap)
                self._emit(self.devices[index], due, now)
                heapq.heappush(heap, (due + c.period_s, index))
                now = loop.time()
            if now >= next_progress:
                next_progress += _PROGRESS_EVERY_S
                k = self.counters
                self.progress(
                    f"t={now - t0:5.0f} s  created {k.created}  acked {k.acked}"
                    f"  pending {k.pending}  connected {sum(d.connected for d in self.devices)}"
                )
            wake = min(heap[0][0] if heap else end, end, next_progress)
            for mark in (offline_at, return_at, storm_at):
                if mark is not None:
                    wake = min(wake, mark)
            await asyncio.sleep(max(0.0, wake - loop.time()))
        # The returns still in progress keep running through the drain and fill `info` then.
        return info

    def _emit(self, dev: SimDevice, due: float, now: float) -> None:
        """Create the device's next event, put it in its outbox, send it if connected."""
        dev.seq += 1
        event = self.mix.next_event(dev.device_id, dev.seq, dev.state, dev.rng, datetime.now(UTC))
        dev.outbox[dev.seq] = _Pending(dev.seq, event.raw, event.alarm, now)
        k = self.counters
        k.created += 1
        k.pending += 1
        k.by_type[event.type.value] += 1
        k.alarms += event.alarm
        self.schedule_lag.add(now - due)
        client = dev.client
        if dev.connected and client is not None:
            dev.to_send.append(dev.seq)
            self._pump(dev)  # a send can find the connection lost: then dev.client is None
            self._flush(client)

    async def _come_back(self, devices: list[SimDevice], info: dict[str, Any]) -> None:
        """Reconnect `devices` all at once; note when each has drained what it queued offline."""
        loop = self._loop
        t0 = loop.time()
        for d in devices:
            d.backlog_on_return = len(d.outbox)
            d.seq_at_return = d.seq
            d.wanted_online = True
        await asyncio.gather(*(self._connect(d) for d in devices))

        def drained(d: SimDevice) -> bool:
            return not d.outbox or next(iter(d.outbox)) > d.seq_at_return

        await _wait_until(lambda: all(drained(d) for d in devices), None, 0.02)
        info["offline_drain_s"] = round(loop.time() - t0, 3)

    async def _storm_return(self, devices: list[SimDevice], info: dict[str, Any]) -> None:
        await asyncio.sleep(self.config.storm_down_s)
        loop = self._loop
        t0 = loop.time()
        for d in devices:
            d.wanted_online = True
        await asyncio.gather(*(self._connect(d) for d in devices))
        info["storm_recovery_s"] = round(loop.time() - t0, 3)

    async def _drain(self) -> tuple[float, bool]:
        """Wait for the last PUBACKs (bounded); return the time it took and whether all came."""
        t0 = time.monotonic()
        if self.counters.pending:
            self.progress(f"waiting for {self.counters.pending} acknowledgements…")
        await _wait_until(
            lambda: not self.counters.pending or self._error is not None,
            self.config.drain_timeout_s,
        )
        return time.monotonic() - t0, self.counters.pending == 0

    async def _disconnect_all(self) -> None:
        """Graceful goodbye: publish `offline` (retained), then DISCONNECT (no will)."""
        self._stopping = True
        for d in self.devices:
            d.wanted_online = False
            client = d.client
            if client is not None and d.connected:
                info = client.publish(d.status_topic, STATUS_OFFLINE, qos=1, retain=True)
                d.by_mid[info.mid] = None
                client.disconnect()
                self._flush(client)
        await _wait_until(lambda: self._open_sockets == 0, _STOP_TIMEOUT_S)

    async def _close_everything(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for d in self.devices:
            client, d.client = d.client, None  # paho's disconnect callback ignores it now
            if client is not None:
                _close_socket(client)
                d.connected = False

    # -- connections ----------------------------------------------------------------------------

    async def _connect(self, dev: SimDevice, *, retry: bool = True) -> None:
        """One connection attempt now; on failure, retry with backoff while the device wants to."""
        sem = self._connect_sem
        assert sem is not None
        c = self.config
        while dev.wanted_online and not dev.connected and not self._stopping:
            if dev.connecting:
                return
            dev.connecting = True
            try:
                async with sem:
                    ok = await self._handshake(dev)
            finally:
                dev.connecting = False
            if ok or not dev.wanted_online or self._stopping:
                return
            self.counters.connect_failures += 1
            if not retry:
                return
            delay = next_delay(dev.attempt, _RECONNECT_MIN_S, _RECONNECT_MAX_S, dev.rng)
            dev.attempt += 1
            await asyncio.sleep(min(delay, c.connect_timeout_s))

    async def _handshake(self, dev: SimDevice) -> bool:
        loop = self._loop
        c = self.config
        family = socket.AF_INET6 if ":" in c.broker.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.wait_for(
                loop.sock_connect(sock, (c.broker.host, c.broker.port)), c.connect_timeout_s
            )
        except (OSError, TimeoutError) as e:
            sock.close()
            log.debug("%s: TCP connect failed: %s", dev.device_id, e)
            return False
        except BaseException:  # cancelled at shutdown: the socket is not paho's yet
            sock.close()
            raise
        client = self._new_client(dev)
        client.preconnected = sock
        dev.client = client
        dev.connack = loop.create_future()
        try:
            if c.mqtt_protocol == "5":
                client.connect_async(c.broker.host, c.broker.port, c.keepalive_s, clean_start=True)
            else:
                client.connect_async(c.broker.host, c.broker.port, c.keepalive_s)
            client.reconnect()
            self._flush(client)
            ok = await asyncio.wait_for(dev.connack, c.connect_timeout_s)
        except (OSError, TimeoutError) as e:
            log.debug("%s: MQTT connect failed: %s", dev.device_id, e)
            ok = False
        finally:
            dev.connack = None
        if not ok:
            if dev.client is client:
                dev.client = None
            _close_socket(client)
            sock.close()
        return ok

    def _new_client(self, dev: SimDevice) -> _Client:
        c = self.config
        v5 = c.mqtt_protocol == "5"
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=dev.device_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else True,
            userdata=dev,
        )
        client.username_pw_set(dev.device_id)
        client.will_set(dev.status_topic, STATUS_OFFLINE, qos=1, retain=True)
        client.max_inflight_messages_set(c.max_inflight + 2)  # our window + the status message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _drop(self, dev: SimDevice) -> None:
        """Lose the network abruptly (no DISCONNECT): the broker publishes the last will."""
        dev.wanted_online = False
        client = dev.client
        sock = client.socket() if client is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # the reader sees EOF; paho reports the loss

    # -- paho callbacks (all on the loop's thread) ----------------------------------------------

    def _on_socket_open(self, client: paho.Client, dev: SimDevice, sock: Any) -> None:
        loop = self._loop
        assert isinstance(client, _Client)
        self._open_sockets += 1
        client.writer_on = False
        loop.add_reader(sock, self._io, client, True)

    def _on_socket_close(self, client: paho.Client, dev: SimDevice, sock: Any) -> None:
        loop = self._loop
        assert isinstance(client, _Client)
        self._open_sockets -= 1
        loop.remove_reader(sock)
        if client.writer_on:
            loop.remove_writer(sock)
            client.writer_on = False

    def _io(self, client: _Client, readable: bool) -> None:
        """The socket is readable (or writable): let paho work, then send what it queued."""
        try:
            if readable:
                client.loop_read()
            self._flush(client)
        except Exception as e:
            self._fail(e)

    def _flush(self, client: _Client) -> None:
        """Write what paho has queued; watch for writability only while the socket is full.

        With no write-registration callback paho writes at once when called outside its own
        callbacks and only queues inside them (on_connect, on_publish), so each read ends here.
        """
        if client.want_write():
            client.loop_write()
        sock = client.socket()
        if sock is None:
            return
        want = client.want_write()
        if want != client.writer_on:
            loop = self._loop
            if want:
                loop.add_writer(sock, self._io, client, False)
            else:
                loop.remove_writer(sock)
            client.writer_on = want

    def _fail(self, error: Exception) -> None:
        """A bug in our callbacks stops the run instead of being lost in the loop's log."""
        if self._error is None:
            log.error("fleet simulator callback failed", exc_info=error)
            self._error = error

    def _on_connect(
        self, client: paho.Client, dev: SimDevice, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        future = dev.connack
        if client is not dev.client:
            return
        if rc.is_failure:
            log.debug("%s: broker refused the connection: %s", dev.device_id, rc)
            if future is not None and not future.done():
                future.set_result(False)
            return
        dev.connected = True
        dev.attempt = 0
        dev.connections += 1
        self.counters.connects += 1
        info = client.publish(dev.status_topic, STATUS_ONLINE, qos=1, retain=True)
        dev.by_mid = {info.mid: None}
        dev.inflight = 0
        dev.to_send = deque(dev.outbox)  # a fresh session re-sends every unacknowledged event
        if future is not None and not future.done():
            future.set_result(True)
        self._pump(dev)

    def _on_disconnect(
        self, client: paho.Client, dev: SimDevice, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if client is not dev.client:
            return
        was_connected = dev.connected
        dev.connected = False
        dev.client = None
        dev.by_mid = {}
        dev.inflight = 0
        future = dev.connack
        if future is not None and not future.done():
            future.set_result(False)
        if not was_connected or self._stopping:
            return
        if dev.wanted_online:
            # Not ours: the broker or the network dropped us. Come back like a robot does.
            self.counters.unexpected_disconnects += 1
            self._spawn(self._reconnect_later(dev))

    async def _reconnect_later(self, dev: SimDevice) -> None:
        await asyncio.sleep(next_delay(dev.attempt, _RECONNECT_MIN_S, _RECONNECT_MAX_S, dev.rng))
        dev.attempt += 1
        await self._connect(dev)

    def _on_publish(
        self, client: paho.Client, dev: SimDevice, mid: int, rc: ReasonCode, props: Any
    ) -> None:
        if client is not dev.client or mid not in dev.by_mid:
            return
        seq = dev.by_mid.pop(mid)
        if seq is None:
            return  # our status message
        dev.inflight -= 1
        pending = dev.outbox.pop(seq, None)
        if pending is None:
            return
        k = self.counters
        k.pending -= 1
        if rc.is_failure:
            k.refused += 1
            log.debug("%s: broker refused event %d: %s", dev.device_id, seq, rc)
        else:
            k.acked += 1
            loop = self._loop
            self.ack_latency.add(loop.time() - pending.published)
        self._pump(dev)

    def _pump(self, dev: SimDevice) -> None:
        """Send queued events in seq order while the in-flight window has room."""
        client = dev.client
        if client is None or not dev.connected:
            return
        loop = self._loop
        k = self.counters
        limit = self.config.max_inflight
        record = self.observer is not None
        while dev.to_send and dev.inflight < limit and dev.client is client:
            seq = dev.to_send.popleft()
            pending = dev.outbox.get(seq)
            if pending is None:
                continue
            info = client.publish(dev.events_topic, pending.raw, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                dev.to_send.appendleft(seq)
                return
            dev.by_mid[info.mid] = seq
            dev.inflight += 1
            pending.published = loop.time()
            k.published += 1
            if pending.attempts:
                k.resent += 1
            elif record:
                self.first_published_wall[(dev.device_id, seq)] = time.time()
            pending.attempts += 1

    # -- the probe ------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        """Measure how late the loop wakes (its lag), and run paho's keepalive for every client."""
        loop = self._loop
        n = 0
        while True:
            expected = loop.time() + _TICK_S
            await asyncio.sleep(_TICK_S)
            if self._measuring:
                self.loop_lag.add(max(0.0, loop.time() - expected))
            n += 1
            if n % _MISC_EVERY_TICKS == 0:
                for d in self.devices:
                    client = d.client
                    if client is not None and d.connected:
                        try:
                            client.loop_misc()
                            if client.want_write():
                                self._flush(client)
                        except Exception as e:
                            self._fail(e)

    # -- the report -----------------------------------------------------------------------------

    def _report(
        self,
        *,
        connect_s: float,
        connected_at_start: int,
        run_wall_s: float,
        run_cpu_s: float,
        total_cpu_s: float,
        usage: ProcessUsage,
        fd_limit: int,
        drain_s: float,
        drained: bool,
        api: ApiReport | None,
        offline_devices: int,
        storm_devices: int,
        storm_recovery_s: float | None,
        offline_drain_s: float | None,
    ) -> FleetReport:
        c = self.config
        k = self.counters
        lag = self.schedule_lag.summary()
        offline = [d for d in self.devices if d.offline_planned]
        return FleetReport(
            devices=c.devices,
            rate_hz=c.rate_hz,
            duration_s=c.duration_s,
            broker=c.broker.url,
            mqtt_protocol=c.mqtt_protocol,
            prefix=c.prefix,
            seed=c.seed,
            connected_at_start=connected_at_start,
            connect_s=round(connect_s, 3),
            connects=k.connects,
            connect_failures=k.connect_failures,
            unexpected_disconnects=k.unexpected_disconnects,
            created=k.created,
            published=k.published,
            resent=k.resent,
            acked=k.acked,
            refused=k.refused,
            unacked=k.pending,
            alarms=k.alarms,
            by_type=dict(sorted(k.by_type.items())),
            target_rate_msg_s=round(c.devices * c.rate_hz, 2),
            achieved_rate_msg_s=round(k.created / run_wall_s, 2) if run_wall_s else 0.0,
            ack_latency_s=self.ack_latency.summary(),
            schedule_lag_s=lag,
            loop_lag_s=self.loop_lag.summary(),
            kept_up=lag["p99"] is not None and lag["p99"] <= KEPT_UP_LAG_S,
            run_cpu_s=round(run_cpu_s, 2),
            run_cpu_share=round(run_cpu_s / run_wall_s, 3) if run_wall_s else 0.0,
            total_cpu_s=round(total_cpu_s, 2),
            rss_mb=usage.rss_mb,
            peak_rss_mb=usage.peak_rss_mb,
            fd_limit=fd_limit,
            offline_devices=offline_devices,
            offline_backlog_max=max((d.backlog_on_return for d in offline), default=0),
            offline_drain_s=offline_drain_s,
            storm_devices=storm_devices,
            storm_recovery_s=storm_recovery_s,
            drain_s=round(drain_s, 3),
            all_acked=drained,
            api=api,
        )


async def _wait_until(
    predicate: Callable[[], bool], timeout_s: float | None, poll_s: float = 0.05
) -> bool:
    """Poll `predicate` on the loop until it holds or `timeout_s` passes; return whether it held."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_s)
