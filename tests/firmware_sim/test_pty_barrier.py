"""Simulated time waits for the host: the virtual MCU's PTY is a barrier for the clock."""

import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from device.clock import ScaledClock
from firmware_sim.mcu import VirtualMcu
from firmware_sim.pty import PtyMcu
from firmware_sim.world import Segment, World

HOME = [Segment(0.0, 1e6, "tv", "sitting", "living", band=False)]


def _wait(cond: Callable[[], bool], limit_s: float = 30.0) -> bool:
    deadline = time.monotonic() + limit_s  # a safety bound, not a measurement
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_simulated_time_holds_while_nobody_reads_the_mcu_and_runs_once_the_host_reads(
    tmp_path: Path,
) -> None:
    mcu = VirtualMcu(World(HOME, []), seed=3)  # built first: building it takes a while
    clock = ScaledClock(120.0)
    clock.set_gate(lambda: pty.caught_up_s() + 1.0)
    pty = PtyMcu(mcu, clock, tmp_path / "mcu.tty", poll_s=0.002)
    pty.start()
    try:
        # what the MCU sent waits unread in the PTY: time may not pass it by more than the slack
        assert _wait(lambda: clock.held_real_s() > 0.3)
        held_at = clock.monotonic()
        assert held_at <= pty.caught_up_s() + 1.0
        assert _wait(lambda: clock.held_real_s() > 0.8)
        assert clock.monotonic() == held_at  # 0.5 s more at 120x would have been a minute

        stop = threading.Event()
        read = [0]

        def host() -> None:
            fd = os.open(pty.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
            try:
                while not stop.is_set():
                    if select.select([fd], [], [], 0.01)[0]:
                        read[0] += len(os.read(fd, 65536))
            finally:
                os.close(fd)

        reader = threading.Thread(target=host, daemon=True)
        reader.start()
        try:
            assert _wait(lambda: clock.monotonic() > held_at + 60.0)  # time runs again
            assert read[0] > 0
            assert clock.monotonic() <= pty.caught_up_s() + 1.0
        finally:
            stop.set()
            reader.join(5.0)
    finally:
        clock.set_gate(None)
        pty.stop()
    assert pty.error is None
