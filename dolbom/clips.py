"""Clip preparation for the demo and benchmarks: cut a recording to where speech ends.

Latency is timed "from the last audio sample of the call for help"; a recording's trailing
room tone would otherwise count as speech. The cut uses plain energy, not our own VAD, so the
measurement does not depend on the thing it measures.
"""

import wave
from pathlib import Path

import numpy as np

from device.audio.source import SAMPLE_RATE_HZ, read_wav

FRAME_S = 0.01


def speech_bounds(samples: np.ndarray, threshold_db: float = -30.0) -> tuple[int, int]:
    """First and last sample (exclusive) of 10 ms frames within `threshold_db` of the peak."""
    frame = round(FRAME_S * SAMPLE_RATE_HZ)
    n = len(samples) // frame
    if n == 0:
        return 0, len(samples)
    frames = samples[: n * frame].astype(np.float64).reshape(n, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    return int(loud[0]) * frame, (int(loud[-1]) + 1) * frame


def trimmed_copy(src: Path, dst: Path, keep_lead_s: float = 0.2) -> float:
    """Write `src` as 16 kHz mono, ending at its last loud frame; return the speech's length."""
    samples = read_wav(src)
    start, end = speech_bounds(samples)
    start = max(0, start - round(keep_lead_s * SAMPLE_RATE_HZ))
    cut = samples[start:end]
    dst.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE_HZ)
        w.writeframes(cut.astype("<i2").tobytes())
    return len(cut) / SAMPLE_RATE_HZ
