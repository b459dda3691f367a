"""What the benchmark scripts share: latency percentiles and reading the FLAC dev set."""

from pathlib import Path
from typing import Any

import numpy as np

from device.audio.source import to_16k_int16


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
