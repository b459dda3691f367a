"""Pure health decisions about the MCU link: silent MCU, bad-frame rate, stuck IMU.

Each check takes the current time (the agent clock's seconds) and returns the faults that
started or ended; nothing here reads a clock, a port or a thread.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaultChange:
    """A fault started (active) or ended; component/code are protocol labels."""

    component: str
    code: str
    detail: str
    active: bool


class SilenceWatch:
    """No valid frame for `timeout_s` → the MCU is silent; any valid frame clears it.

    `listened_s` (check's argument) is how long the link's reader was actually listening
    without a frame, in wall seconds: silence also needs `min_listened_s` of it, so that a
    host stall is never taken for a dead MCU (it matters most in faster-than-real-time
    simulations, where a 0.1 s stall is seconds of simulated time).
    """

    def __init__(self, timeout_s: float, started_s: float, min_listened_s: float = 0.5) -> None:
        self.timeout_s = timeout_s
        self.min_listened_s = min_listened_s
        self.last_frame_s = started_s
        self.silent = False
        self._seen_any = False

    def frame(self, now_s: float) -> FaultChange | None:
        """A valid frame arrived."""
        self.last_frame_s = max(self.last_frame_s, now_s)
        self._seen_any = True
        if self.silent:
            self.silent = False
            return FaultChange("mcu", "mcu_silent", "the MCU answers again", active=False)
        return None

    def check(
        self, now_s: float, why: str = "", listened_s: float = float("inf")
    ) -> FaultChange | None:
        """Called periodically; `why` adds what the link knows (port missing, ...)."""
        quiet_s = now_s - self.last_frame_s
        if not self.silent and quiet_s >= self.timeout_s and listened_s >= self.min_listened_s:
            self.silent = True
            what = "no valid frame" if self._seen_any else "no valid frame since start"
            detail = f"{what} from the MCU for {quiet_s:.1f} s"
            return FaultChange("mcu", "mcu_silent", f"{detail}; {why}" if why else detail, True)
        return None


class BadFrameWatch:
    """Share of bad frames over a sliding window, with hysteresis (on ≥ high, off < low)."""

    def __init__(
        self, window_s: float = 10.0, high: float = 0.05, low: float = 0.01, min_bad: int = 5
    ) -> None:
        self.window_s = window_s
        self.high = high
        self.low = low
        self.min_bad = min_bad
        self.active = False
        self._points: deque[tuple[float, int, int]] = deque()  # (time, good, bad) totals

    def check(self, now_s: float, good_total: int, bad_total: int) -> FaultChange | None:
        """Feed the decoder's running totals; returns a change of state."""
        self._points.append((now_s, good_total, bad_total))
        while len(self._points) > 2 and self._points[1][0] <= now_s - self.window_s:
            self._points.popleft()
        _, good0, bad0 = self._points[0]
        good, bad = good_total - good0, bad_total - bad0
        rate = bad / (good + bad) if good + bad else 0.0
        if not self.active and bad >= self.min_bad and rate >= self.high:
            self.active = True
            detail = f"{bad} bad of {good + bad} frames ({rate:.0%}) in {self.window_s:.0f} s"
            return FaultChange("serial", "bad_frames", detail, active=True)
        if self.active and rate < self.low and now_s - self._points[0][0] >= self.window_s / 2:
            self.active = False
            return FaultChange("serial", "bad_frames", f"bad-frame rate {rate:.1%}", False)
        return None


class StuckWatch:
    """An IMU repeating exactly the same sample: a real sensor's noise never does that."""

    def __init__(self, component: str, min_samples: int) -> None:
        self.component = component
        self.min_samples = min_samples
        self.run = 0
        self.stuck = False
        self._last: np.ndarray | None = None

    def samples(self, samples: np.ndarray) -> FaultChange | None:
        """Feed consecutive (n, 6) samples."""
        if len(samples) == 0:
            return None
        changed = np.flatnonzero(np.any(samples[1:] != samples[:-1], axis=1))
        if self._last is not None and np.array_equal(samples[0], self._last):
            head_run = self.run + 1
        else:
            head_run = 1
        if len(changed):
            self.run = len(samples) - 1 - int(changed[-1])
            middle = int(np.diff(changed).max()) if len(changed) > 1 else 0
            longest = max(head_run + int(changed[0]), middle, self.run)
        else:
            self.run = head_run + len(samples) - 1
            longest = self.run
        self._last = samples[-1].copy()
        if not self.stuck and longest >= self.min_samples:
            self.stuck = True
            values = ", ".join(f"{v:.2f}" for v in samples[-1])
            detail = f"{longest} identical samples in a row ({values})"
            return FaultChange(self.component, "imu_stuck", detail, active=True)
        if self.stuck and self.run < self.min_samples and len(changed):
            self.stuck = False
            return FaultChange(self.component, "imu_stuck", "the IMU reads again", False)
        return None
