"""Reconnect delays: exponential growth with full jitter, so a fleet doesn't reconnect in step."""

from typing import Protocol

_MAX_EXPONENT = 62  # 2**62 already exceeds any sensible cap; avoids float overflow


class Random(Protocol):
    """The part of `random.Random` the backoff needs."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


def delay_window(attempt: int, min_s: float, max_s: float) -> tuple[float, float]:
    """The (low, high) seconds that the delay before reconnect `attempt` (from 0) is drawn from."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if min_s <= 0 or max_s < min_s:
        raise ValueError(f"need 0 < min_s <= max_s, got min_s={min_s}, max_s={max_s}")
    high = min(max_s, min_s * 2.0 ** min(attempt + 1, _MAX_EXPONENT))
    return min_s, high


def next_delay(attempt: int, min_s: float, max_s: float, rng: Random) -> float:
    """Seconds before reconnect `attempt`: uniform in [min_s, min(max_s, min_s * 2**(a+1))]."""
    low, high = delay_window(attempt, min_s, max_s)
    return low + (high - low) * rng.random()
