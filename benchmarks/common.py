"""What the benchmark scripts (and some tests) share: latency percentiles, reading the FLAC
dev set, and the stated signal models of a quiet room and of a voiced shout."""

from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from device.audio.source import SAMPLE_RATE_HZ, to_16k_int16


def percentiles(values: list[float], *, raw: bool = False) -> dict[str, Any]:
    """n, p50, p95, min and max (numpy, linear; seconds, 4 decimals); None when empty."""
    if not values:
        empty: dict[str, Any] = {"n": 0, "p50": None, "p95": None, "min": None, "max": None}
        return empty | ({"raw": []} if raw else {})
    a = np.asarray(values, dtype=float)
    out: dict[str, Any] = {
        "n": len(values),
        "p50": round(float(np.percentile(a, 50)), 4),
        "p95": round(float(np.percentile(a, 95)), 4),
        "min": round(float(a.min()), 4),
        "max": round(float(a.max()), 4),
    }
    return out | ({"raw": [round(v, 4) for v in values]} if raw else {})


def read_flac(path: Path) -> np.ndarray:
    """A FLAC file (any rate and channels) as 16 kHz mono int16, read with soundfile."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return to_16k_int16(np.asarray(data), int(rate))


def room_noise(seconds: float, level_dbfs: float = -55.0, seed: int = 1) -> np.ndarray:
    """A stated model of a quiet room: pink-ish noise (white noise through a one-pole
    low-pass) plus 60 Hz mains hum 10 dB below it, scaled to `level_dbfs` RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE_HZ)
    pink = lfilter([1.0], [1.0, -0.95], rng.standard_normal(n))
    t = np.arange(n) / SAMPLE_RATE_HZ
    hum = np.sin(2 * np.pi * 60 * t) * np.sqrt(2) * np.std(pink) * 10 ** (-10 / 20)
    x = np.asarray(pink + hum, dtype=np.float64)
    scaled: np.ndarray = x * (10 ** (level_dbfs / 20) * 32768 / np.sqrt(np.mean(x**2)))
    return scaled


def harmonic(seconds: float, f0: float, level_dbfs: float) -> np.ndarray:
    """A voiced, scream-like tone: f0 and four harmonics."""
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return np.asarray(x * 10 ** (level_dbfs / 20) * 32768 / np.sqrt(np.mean(x**2)))
