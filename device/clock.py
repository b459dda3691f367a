"""The clock seam: decisions take time as an argument; this is where the agent reads it."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for durations, aware UTC datetimes for timestamps."""

    def monotonic(self) -> float:
        """Seconds, never going backwards."""

    def now(self) -> datetime:
        """The wall-clock time in UTC."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def now(self) -> datetime:
        """datetime.now(UTC)."""
        return datetime.now(UTC)


class ScaledClock:
    """Simulation time: `speed` times faster than real time, from a chosen start instant.

    The speed can change while running (a scenario slows to real time while a spoken line
    plays, since speech recognition cannot run faster than the audio); time stays continuous
    and monotonic across a change. Thread-safe.
    """

    def __init__(
        self,
        speed: float = 1.0,
        start: datetime | None = None,
        real: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self._real = real
        self._lock = threading.Lock()
        self._speed = speed
        self._base_real = real()
        self._base_sim = 0.0
        self.start = (start or datetime.now(UTC)).astimezone(UTC)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the rate from now on; 0 holds the clock still (a simulation setting up)."""
        if speed < 0:
            raise ValueError(f"speed can't be negative, not {speed}")
        with self._lock:
            now = self._real()
            self._base_sim += (now - self._base_real) * self._speed
            self._base_real = now
            self._speed = speed

    def monotonic(self) -> float:
        """Simulated seconds since the clock was made."""
        with self._lock:
            return self._base_sim + (self._real() - self._base_real) * self._speed

    def now(self) -> datetime:
        """The simulated wall-clock time in UTC."""
        return self.start + timedelta(seconds=self.monotonic())

    def real_seconds_until(self, sim_s: float) -> float:
        """Real seconds until the clock reads `sim_s` at the current speed (≤ 0: passed)."""
        with self._lock:
            now = self._base_sim + (self._real() - self._base_real) * self._speed
            if now >= sim_s:
                return 0.0
            return (sim_s - now) / self._speed if self._speed else float("inf")
