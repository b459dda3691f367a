"""Latency samples, percentiles and this process's CPU, memory and file-descriptor budget."""

import os
import resource
from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np


class Samples:
    """A growing list of durations in seconds, stored compactly (8 bytes each)."""

    def __init__(self) -> None:
        self._values = array("d")

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self._values.append(seconds)

    def __len__(self) -> int:
        return len(self._values)

    def summary(self) -> dict[str, Any]:
        """n, p50, p95, p99 and max in seconds (numpy, linear), None when empty."""
        if not self._values:
            return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
        a = np.frombuffer(self._values, dtype=np.float64)
        p50, p95, p99 = np.percentile(a, [50, 95, 99])
        return {
            "n": len(a),
            "p50": round(float(p50), 5),
            "p95": round(float(p95), 5),
            "p99": round(float(p99), 5),
            "max": round(float(a.max()), 5),
        }


@dataclass(frozen=True)
class ProcessUsage:
    """CPU seconds used and memory held by this process, at one instant."""

    cpu_s: float
    rss_mb: float
    peak_rss_mb: float

    @classmethod
    def now(cls) -> "ProcessUsage":
        """Read getrusage and /proc/self/status."""
        ru = resource.getrusage(resource.RUSAGE_SELF)
        rss, peak = _proc_status_mb("VmRSS"), _proc_status_mb("VmHWM")
        return cls(cpu_s=ru.ru_utime + ru.ru_stime, rss_mb=rss, peak_rss_mb=peak)


def _proc_status_mb(field: str) -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards the hard one; return the new soft limit.

    Returns the limit even when it stays below `needed`; the caller decides whether to refuse.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft) if soft != resource.RLIM_INFINITY else int(os.sysconf("SC_OPEN_MAX"))
