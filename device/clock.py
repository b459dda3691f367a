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

    A gate (`set_gate`) makes simulated time wait for the code under test: the clock never
    reads past what the gate returns (e.g. the time up to which the robot has consumed what
    its simulated body sent, plus a small slack). While held it stands still; when the gate
    moves on, time continues from there (no jump). The gate is called outside the clock's
    lock, from whichever thread reads the clock: it must be cheap and must not read it.
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
        self._gate: Callable[[], float] | None = None
        self._held_since: float | None = None  # real time the gate began holding the clock
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

    def set_gate(self, gate: Callable[[], float] | None) -> None:
        """Hold time at `gate()` (simulated seconds) at most; None removes the gate."""
        with self._lock:
            now = self._real()
            self._base_sim += (now - self._base_real) * self._speed
            self._base_real = now
            self._gate = gate
            self._held_since = None

    def held_real_s(self) -> float:
        """Real seconds the gate has been holding the clock still (0 while it runs)."""
        with self._lock:
            return 0.0 if self._held_since is None else self._real() - self._held_since

    def monotonic(self) -> float:
        """Simulated seconds since the clock was made."""
        gate = self._gate
        cap = gate() if gate is not None else float("inf")
        with self._lock:
            real = self._real()
            t = self._base_sim + (real - self._base_real) * self._speed
            if t <= cap or self._gate is None:
                self._held_since = None
                return t
            # held: time stands at the gate (never going back) and continues from there
            self._base_sim = max(self._base_sim, cap)
            self._base_real = real
            if self._held_since is None:
                self._held_since = real
            return self._base_sim

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
