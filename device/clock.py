"""The clock seam: decisions take time as an argument; this is where the agent reads it."""

import time
from datetime import UTC, datetime
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
