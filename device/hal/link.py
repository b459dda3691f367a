"""The serial link to the MCU: a reader thread, reliable sends with retries, reconnection.

Transport only: bytes in → messages out through a callback, messages in → frames out. It
opens the port with pyserial (`serial_for_url`: a UART on a Pi, a PTY in simulation),
asks the MCU to introduce itself, acknowledges the MCU's reliable frames (dropping
retransmitted duplicates), retries its own reliable frames until acknowledged, and reopens
the port when it goes away. Health decisions are in device.hal.health.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import serial  # type: ignore[import-untyped]  # pyserial ships no type hints

from device.hal.codec import DecoderStats, FrameDecoder, encode_frame
from device.hal.messages import RELIABLE_TYPES, Ack, AckStatus, HelloRequest, Message

log = logging.getLogger(__name__)

RETRY_S = 0.25  # wait for an ACK this long before sending the same frame again
MAX_ATTEMPTS = 4
REOPEN_MIN_S = 0.2
REOPEN_MAX_S = 5.0
READ_CHUNK = 4096
RECENT_SEQS = 32  # the MCU's reliable seqs remembered to drop retransmitted duplicates
READ_TIMEOUT_S = 0.05  # the port's read timeout
STALL_S = 0.1  # a read (or a reopen wait) overrunning its timeout by more was a host stall


class Port(Protocol):
    """The part of a pyserial port the link uses (tests may pass a fake)."""

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes, waiting at most the port's timeout."""

    def write(self, data: bytes, /) -> int | None:
        """Write all of `data`."""

    def close(self) -> None:
        """Release the port."""

    @property
    def in_waiting(self) -> int:
        """Bytes ready to read."""


def open_serial(url: str, baudrate: int) -> Port:
    """Open a UART, a PTY or any pyserial URL, with a short read timeout."""
    port: Port = serial.serial_for_url(
        url, baudrate=baudrate, timeout=READ_TIMEOUT_S, write_timeout=1.0
    )
    return port


@dataclass
class _Pending:
    message: Message
    frame: bytes
    attempts: int
    due_s: float


@dataclass(frozen=True)
class Delivery:
    """The fate of a reliable frame the host sent: acknowledged, refused or never answered."""

    message: Message
    status: AckStatus | None  # None: no ACK after MAX_ATTEMPTS


class McuLink:
    """Talks to the MCU on one serial port; callbacks run on the link's reader thread."""

    def __init__(
        self,
        url: str,
        baudrate: int,
        on_message: Callable[[Message], None],
        *,
        on_delivery: Callable[[Delivery], None] | None = None,
        on_port: Callable[[bool, str], None] | None = None,
        opener: Callable[[str, int], Port] = open_serial,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self._on_message = on_message
        self._on_delivery = on_delivery
        self._on_port = on_port
        self._opener = opener
        self._decoder = FrameDecoder()
        self._port: Port | None = None
        self._lock = threading.Lock()  # guards _port writes, _seq and _pending
        self._seq = 0
        self._pending: dict[int, _Pending] = {}
        self._recent_rx: dict[int, None] = {}  # insertion-ordered set of (type << 16 | seq)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.opened = threading.Event()
        self.open_error: str | None = None
        self.reopens = 0
        self._listened_s = 0.0  # wall seconds of listening since the last good frame

    @property
    def stats(self) -> DecoderStats:
        """The decoder's counters (good and bad frames by reason)."""
        return self._decoder.stats

    def listened_in_vain_s(self) -> float:
        """Wall seconds the reader kept listening (or reopening) since the last good frame.

        A stalled host (CPU contention, a slow disk) stalls the reader too; that is not a
        silent MCU, so silence is only declared when the reader was listening meanwhile. A
        read that overran its timeout by more than STALL_S counts only as long as its timeout:
        the time the whole process stood still was no listening (in a faster-than-real-time
        simulation a 0.6 s stall is minutes of simulated time the firmware had no chance to
        fill).
        """
        return self._listened_s

    def _listened(self, started: float, expected_s: float) -> None:
        self._listened_s += min(time.monotonic() - started, expected_s + STALL_S)

    @property
    def connected(self) -> bool:
        """The port is open."""
        return self._port is not None

    def start(self) -> None:
        """Start the reader thread (it opens the port, and reopens it when it goes away)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="hal-link", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._close("stopped")

    def send(self, message: Message) -> Message:
        """Send a message with the next seq (thread-safe); reliable types are retried."""
        with self._lock:
            self._seq = (self._seq + 1) & 0xFFFF
            numbered = _with_seq(message, self._seq)
            frame = encode_frame(numbered)
            if numbered.TYPE in RELIABLE_TYPES:
                self._pending[numbered.seq] = _Pending(
                    numbered, frame, 1, time.monotonic() + RETRY_S
                )
            self._write(frame)
        return numbered

    def _write(self, frame: bytes) -> None:
        port = self._port
        if port is None:
            return  # reliable frames are retried once the port is back
        try:
            port.write(frame)
        except (serial.SerialException, OSError) as e:
            log.warning("serial write to %s failed: %s", self.url, e)

    # -- the reader thread ----------------------------------------------------------------
    def _run(self) -> None:
        delay = REOPEN_MIN_S
        while not self._stop.is_set():
            if self._port is None:
                if not self._open():
                    waited_from = time.monotonic()
                    self._stop.wait(delay)
                    self._listened(waited_from, delay)
                    delay = min(delay * 2, REOPEN_MAX_S)
                    continue
                delay = REOPEN_MIN_S
            port = self._port
            assert port is not None
            read_from = time.monotonic()
            try:
                data = port.read(max(1, min(port.in_waiting, READ_CHUNK)))
            except (serial.SerialException, OSError, TypeError) as e:
                # TypeError: pyserial's read on a port closed under it by another thread
                self._close(f"port lost: {e}")
                continue
            self._listened(read_from, READ_TIMEOUT_S)
            if data:
                for message in self._decoder.feed(data):
                    self._listened_s = 0.0
                    self._receive(message)
            self._retry_due()

    def _open(self) -> bool:
        try:
            port = self._opener(self.url, self.baudrate)
        except (serial.SerialException, OSError, ValueError) as e:
            if self.open_error != str(e):
                log.warning("can't open serial port %s: %s", self.url, e)
            self.open_error = str(e)
            return False
        self._decoder.reset()
        with self._lock:
            self._port = port
        self.open_error = None
        self.opened.set()
        if self._on_port is not None:
            self._on_port(True, f"opened {self.url}")
        log.info("serial port %s open", self.url)
        self.send(HelloRequest())
        with self._lock:
            for pending in self._pending.values():
                self._write(pending.frame)
        return True

    def _close(self, why: str) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is None:
            return
        self.reopens += 1
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()
        log.warning("serial port %s closed: %s", self.url, why)
        if self._on_port is not None:
            self._on_port(False, why)

    def _receive(self, message: Message) -> None:
        if isinstance(message, Ack):
            with self._lock:
                pending = self._pending.pop(message.acked_seq, None)
            if pending is not None and message.acked_type == pending.message.TYPE:
                self._deliver(Delivery(pending.message, message.status))
            return
        if message.TYPE in RELIABLE_TYPES:
            self.send(Ack(message.TYPE, message.seq))
            key = message.TYPE << 16 | message.seq
            if key in self._recent_rx:
                return  # a retransmission of a frame we already took
            self._recent_rx[key] = None
            if len(self._recent_rx) > RECENT_SEQS:
                del self._recent_rx[next(iter(self._recent_rx))]
        self._on_message(message)

    def forget_received(self) -> None:
        """The MCU restarted: its seqs start again, so earlier ones are no duplicates."""
        self._recent_rx.clear()

    def _retry_due(self) -> None:
        now = time.monotonic()
        failed: list[_Pending] = []
        with self._lock:
            for seq, pending in list(self._pending.items()):
                if pending.due_s > now:
                    continue
                if pending.attempts >= MAX_ATTEMPTS:
                    failed.append(self._pending.pop(seq))
                    continue
                pending.attempts += 1
                pending.due_s = now + RETRY_S
                self._write(pending.frame)
        for pending in failed:
            self._deliver(Delivery(pending.message, None))

    def _deliver(self, delivery: Delivery) -> None:
        if self._on_delivery is not None:
            self._on_delivery(delivery)


def _with_seq(message: Message, seq: int) -> Message:
    return replace(message, seq=seq)
