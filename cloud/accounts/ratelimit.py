"""Failed-login limiter: N failures per (username, client address) in a sliding window."""

import math
import threading
from collections import deque


class LoginLimiter:
    """Counts failures per key; pure apart from a lock: the caller passes the time."""

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, max_keys: int = 100_000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, key: tuple[str, str], now_s: float) -> int | None:
        """Whole seconds until `key` may try again, or None when it may try now."""
        with self._lock:
            times = self._prune(key, now_s)
            if times is None or len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now_s))

    def failed(self, key: tuple[str, str], now_s: float) -> None:
        """Record one failed attempt."""
        with self._lock:
            if key not in self._failures and len(self._failures) >= self.max_keys:
                self._evict(now_s)
            times = self._failures.setdefault(key, deque())
            times.append(now_s)
            while len(times) > self.max_failures:
                times.popleft()

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget the key's failures after a good login."""
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, key: tuple[str, str], now_s: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now_s - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def _evict(self, now_s: float) -> None:
        for key in list(self._failures):
            self._prune(key, now_s)
        while len(self._failures) >= self.max_keys:  # still full: drop the oldest keys
            del self._failures[next(iter(self._failures))]
