"""Synthetic test signals at 16 kHz for the sound featurizers' tests (plumbing, never evidence)."""

import numpy as np

RATE = 16000


def noise(seconds: float, level: float = 0.05, seed: int = 0) -> np.ndarray:
    """White noise of standard deviation `level`, reproducible by `seed`."""
    rng = np.random.default_rng(seed)
    return (level * rng.normal(size=int(seconds * RATE))).astype(np.float32)


def harmonic_tone(seconds: float, f0: float | np.ndarray, level: float = 0.2) -> np.ndarray:
    """Five harmonics (1/k) of `f0`, a constant or one frequency per sample (a glide)."""
    n = int(seconds * RATE)
    freq = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    tone = np.sum([np.sin(k * phase) / k for k in range(1, 6)], axis=0)
    out: np.ndarray = (level * tone).astype(np.float32)
    return out
