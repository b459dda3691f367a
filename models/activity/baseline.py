"""Plain threshold rules the learned models must beat, on exactly the same windows.

Falls: the classic rule — an acceleration peak above 2.5 g followed by stillness (the
acceleration magnitude's standard deviation below 0.1 g over the two seconds after).
Activity: gravity direction for the posture, movement energy for walking, a turn of the
forearm for a transition, a peak above 2.5 g for a fall.
"""

from typing import Final

import numpy as np

from models.activity.data import IMPACT_BUCKET, LABELS

PEAK_G: Final = 2.5
STILL_STD_G: Final = 0.1
FALL_RULE: Final = (
    f"peak |a| > {PEAK_G} g in the window's impact second, then std |a| < {STILL_STD_G} g"
    " over the last two seconds"
)


def fall(windows: np.ndarray) -> np.ndarray:
    """1 where the classic rule fires, per (n, 200, 6) window; same impact bucket as the model."""
    amag = np.linalg.norm(windows[:, :, :3], axis=2)
    lo, hi = IMPACT_BUCKET
    peak = amag[:, lo:hi].max(axis=1) > PEAK_G
    still = amag[:, hi + 50 :].std(axis=1) < STILL_STD_G  # after the ringing of the impact
    fired: np.ndarray = (peak & still).astype(np.int8)
    return fired


def activity(windows: np.ndarray) -> np.ndarray:
    """A label index per (n, 100, 6) window by fixed thresholds."""
    acc = windows[:, :, :3].astype(np.float64)
    amag = np.linalg.norm(acc, axis=2)
    gmag = np.linalg.norm(windows[:, :, 3:].astype(np.float64), axis=2)
    grav = acc.mean(axis=1)
    grav /= np.maximum(np.linalg.norm(grav, axis=1, keepdims=True), 1e-6)
    q = windows.shape[1] // 4
    first = acc[:, :q].mean(axis=1)
    last = acc[:, -q:].mean(axis=1)
    cos = np.sum(first * last, axis=1) / np.maximum(
        np.linalg.norm(first, axis=1) * np.linalg.norm(last, axis=1), 1e-6
    )
    out = np.full(len(windows), LABELS.index("sitting"), dtype=np.int8)
    out[grav[:, 0] < -0.7] = LABELS.index("standing")  # forearm hanging down
    out[(np.abs(grav[:, 1]) > 0.7) | (grav[:, 2] < -0.5)] = LABELS.index("lying")
    walking = (amag.std(axis=1) > 0.05) & (gmag.mean(axis=1) > 40.0)
    out[walking] = LABELS.index("walking")
    out[cos < np.cos(np.radians(35.0))] = LABELS.index("transition")
    out[amag.max(axis=1) > PEAK_G] = LABELS.index("fall")
    return out
