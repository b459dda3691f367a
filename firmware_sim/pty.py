"""The virtual MCU on a pseudo-terminal: the host opens the PTY like a real UART.

A thread runs the firmware on the simulation clock: every few milliseconds it advances the
MCU to the clock's time, writes what it sent to the PTY and feeds it what the host wrote.
The PTY is in raw mode (no echo, no line editing), like a UART. A stable symlink can point
at it, so that a pulled and replugged UART cable (a new PTY) keeps the same path.

`caught_up_s()` is the barrier a simulation paces on: the simulated time up to which the
host has read everything the firmware sent (nothing waits in the firmware's queue nor in
the PTY's input queue), so that simulated time can wait for the host instead of racing it.
"""

import contextlib
import errno
import fcntl
import logging
import os
import select
import struct
import termios
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from device.clock import Clock
from firmware_sim.mcu import VirtualMcu

log = logging.getLogger(__name__)

POLL_S = 0.01
MAX_PENDING = 65536  # bytes the firmware may have waiting for the PTY before it pauses
WRITE_GIVE_UP_S = 5.0  # nobody has read for this long (real seconds): drop what waits


class PtyMcu:
    """Runs a VirtualMcu behind a PTY until stopped."""

    def __init__(
        self,
        mcu: VirtualMcu,
        clock: Clock,
        link: Path | None = None,
        on_power_off: Callable[[], None] | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self.mcu = mcu
        self.poll_s = poll_s
        self.clock = clock
        self.link = link
        self.on_power_off = on_power_off
        self._master: int | None = None
        self._slave: int | None = None
        self._pts = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the MCU is not thread-safe: one caller at a time
        self.tx_overflow_bytes = 0
        self.replugs = 0
        self.error: BaseException | None = None
        # (simulated time of the firmware's last step, nothing of it left unwritten): one
        # tuple, replaced whole, so that caught_up_s() reads it from any thread without a lock
        self._sent: tuple[float, bool] = (0.0, True)
        self._caught_up_s = 0.0

    @property
    def path(self) -> str:
        """What the host opens: the symlink if there is one, else the PTY itself."""
        return str(self.link) if self.link is not None else self._pts

    @property
    def pts(self) -> str:
        """The pseudo-terminal's own device (/dev/pts/N; empty before start)."""
        return self._pts

    def start(self) -> str:
        """Open the PTY and start the firmware thread; return the path to open."""
        self._open()
        self._thread = threading.Thread(target=self._run, name="virtual-mcu", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        """Stop the thread and close the PTY."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self._close()
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def caught_up_s(self) -> float:
        """Simulated time up to which the host has read all the firmware sent (thread-safe).

        Everything the firmware produced up to its last step has been written to the PTY and
        the PTY's input queue is empty (the host's reader took it), or the PTY is gone (a
        pulled cable: nothing can be read). Never goes back.
        """
        produced_s, written = self._sent
        if written:
            slave = self._slave
            try:
                waiting = 0 if slave is None else _unread(slave)
            except OSError:  # closed under us by a replug: judge on the next call
                waiting = 1
            if waiting == 0 and produced_s > self._caught_up_s:
                self._caught_up_s = produced_s
        return self._caught_up_s

    def with_mcu(self, call: Callable[[VirtualMcu], None]) -> None:
        """Run `call` on the MCU between two firmware steps (e.g. add a world event)."""
        with self._lock:
            call(self.mcu)

    def _open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # a UART: no echo, no line discipline
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._pts = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._pts)
            tmp.replace(self.link)
        log.info("virtual MCU on %s", self.path)

    def _close(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # reported to whoever runs the simulation
            log.exception("virtual MCU failed")
            self.error = e

    def _loop(self) -> None:
        was_powered = True
        pending = bytearray()  # sent by the MCU, not yet taken by the PTY
        stuck_since: float | None = None
        while not self._stop.is_set():
            now = self.clock.monotonic()
            with self._lock:
                # backpressure: while the host is not reading, the firmware waits (it falls
                # behind the clock and catches up, its timestamps stay right) instead of
                # dropping bytes as a real UART without flow control would at 1×
                if len(pending) < MAX_PENDING:
                    pending += self.mcu.advance(now)
                    if not pending:  # the step sent nothing, and nothing was waiting
                        self._sent = (now, True)
                connected = self.mcu.serial_connected(now)
                powered = self.mcu.powered
            if not connected and self._master is not None:
                log.info("UART cable pulled: the PTY goes away")
                self._close()
                pending.clear()
                if self.link is not None:
                    with contextlib.suppress(FileNotFoundError):
                        self.link.unlink()
            elif connected and self._master is None:
                self._open()
                self.replugs += 1
            if was_powered and not powered and self.on_power_off is not None:
                self.on_power_off()
            was_powered = powered
            if self._master is None:
                pending.clear()
                self._sent = (now, True)  # no cable: there is nothing the host could read
                time.sleep(self.poll_s)
                continue
            master = self._master
            try:
                readable, writable, _ = select.select(
                    [master], [master] if pending else [], [], self.poll_s
                )
            except (OSError, ValueError):
                continue
            if writable and pending:
                n = self._write(master, pending)
                del pending[:n]
                if not pending:
                    self._sent = (now, True)
                stuck_since = None if n else (stuck_since or time.monotonic())
            if stuck_since is not None and time.monotonic() - stuck_since > WRITE_GIVE_UP_S:
                self.tx_overflow_bytes += len(pending)  # nobody reads: the buffer overflows
                pending.clear()
                stuck_since = None
            if readable:
                try:
                    incoming = os.read(master, 65536)
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EIO):
                        raise
                    incoming = b""
                if incoming:
                    with self._lock:
                        self.mcu.receive(incoming, self.clock.monotonic())

    def _write(self, master: int, data: bytearray) -> int:
        try:
            return os.write(master, data)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            return 0


def _unread(fd: int) -> int:
    """Bytes waiting in a terminal's input queue (FIONREAD)."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", buf)[0])
