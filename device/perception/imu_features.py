"""Wrist IMU signal code shared by the robot and training: resampling, impact candidates and
the fall detector's features.

The fall detector is built like published wrist fall detectors: a candidate impact (a peak of
the acceleration magnitude over `CANDIDATE_G`, the largest within ±1 s) is described by the
phases around it — pre-impact free fall, the impact itself, the change of the wrist's gravity
direction from before to after, and how still the wrist is afterwards — and a small classifier
decides. Every feature is a magnitude or an angle, so the watch's orientation on the wrist and
the arm it is worn on matter as little as possible.

Training (`models/activity/fall.py`) and the robot (`device/perception/motion.py`) call the same
functions; the robot needs numpy only.
"""

from typing import Final

import numpy as np

RATE_HZ: Final = 50.0
CANDIDATE_G: Final = 1.6  # an impact candidate: |a| at least this (falls peak at 2-8 g)
PEAK_HALF_S: Final = 1.0  # a candidate is the largest |a| within ±1 s
PRE_S: Final = 3.0  # seconds before the impact the features look at
POST_S: Final = 5.0  # seconds after the impact the features need (the decision waits this)
FREE_FALL_G: Final = 0.6
MAX_GAP_S: Final = 1.0  # a longer hole in irregular input is not interpolated across
SMOOTH_N: Final = 3
"""|a| is smoothed over 3 samples (60 ms) before its peak, jerk, width and free fall are read:
the sources differ in bandwidth (FallAllD resampled from 238 Hz keeps up to 25 Hz, the
SmartFallMM watch delivers 32-67 Hz irregularly and was interpolated, a 25 Hz band keeps
12.5 Hz), and a raw one-sample peak and its jerk measure the sensor's bandwidth as much as
the impact. Smoothed, 25 Hz input keeps 0.86 of a fall's peak (raw: 0.70) and 0.73 of its
jerk (raw: 0.55), medians over real falls."""

FALL_FEATURES: Final = (
    "peak_g",  # the largest smoothed |a| within ±0.2 s of the candidate
    "pre_min_g",  # the lowest smoothed |a| in the 1.5 s before (free fall)
    "pre_below_06_s",  # time smoothed |a| < 0.6 g in those 1.5 s
    "pre_below_08_s",  # time smoothed |a| < 0.8 g in those 1.5 s
    "impact_gyro_dps",  # the largest |gyro| within ±0.5 s of the impact
    "impact_jerk_gps",  # the largest |d|a|/dt| of smoothed |a| within ±0.3 s (g/s)
    "impact_width_s",  # time smoothed |a| > 1.5 g within ±0.5 s of the impact
    "rotation_deg",  # ∫|gyro| dt from 1.5 s before to 0.5 s after the impact
    "turn_deg",  # angle between the gravity direction 2.5-1 s before and 1.5-3 s after
    "post_std_g",  # std of smoothed |a| from 1 s to 3 s after the impact (stillness)
    "post_gyro_dps",  # mean |gyro| from 1 s to 3 s after the impact
    "post_mean_g",  # mean smoothed |a| 1-3 s after (about 1 g when lying still)
    "settle_std_g",  # std of |a| from 0.3 s to 1 s after the impact
    "pre_std_g",  # std of |a| from 2.5 s to 0.5 s before (was the wrist moving?)
    "pre_gyro_dps",  # mean |gyro| from 2.5 s to 0.5 s before
    "impacts_before",  # separate impacts at least half as strong, 3-0.4 s before
    "impacts_after",  # the same 0.4-5 s after (clapping and jogging go on, a body down does not)
    "still_after_g",  # std of |a| in the stillest second 1-5 s after (lying still after a while)
    "still_after_dps",  # mean |gyro| in that stillest second
    "lying_turn_deg",  # angle between the gravity direction before and 3.5-5 s after
)
N_FALL_FEATURES: Final = len(FALL_FEATURES)
_PRE = round(PRE_S * RATE_HZ)
_POST = round(POST_S * RATE_HZ)
_HALF = round(PEAK_HALF_S * RATE_HZ)


def _s(seconds: float) -> int:
    return round(seconds * RATE_HZ)


def magnitudes(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|a| in g and |gyro| in deg/s of (n, 6) samples."""
    x = samples.astype(np.float64, copy=False)
    return np.linalg.norm(x[:, :3], axis=1), np.linalg.norm(x[:, 3:6], axis=1)


def candidates(amag: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Indices in [start, stop) where |a| ≥ CANDIDATE_G and is the first largest within ±1 s."""
    n = len(amag)
    stop = n if stop is None else min(stop, n)
    found: list[int] = []
    for i in np.flatnonzero(amag[start:stop] >= CANDIDATE_G) + start:
        lo, hi = max(0, int(i) - _HALF), min(n, int(i) + _HALF + 1)
        seg = amag[lo:hi]
        if lo + int(np.argmax(seg)) == i:  # the first maximum, so a flat top counts once
            found.append(int(i))
    return np.asarray(found, dtype=int)


def smooth(a: np.ndarray, n: int = SMOOTH_N) -> np.ndarray:
    """A centred moving average over `n` samples, the ends held."""
    if n <= 1:
        return a
    padded = np.pad(a, (n // 2, n - 1 - n // 2), mode="edge")
    c = np.cumsum(np.r_[0.0, padded])
    out: np.ndarray = (c[n:] - c[:-n]) / n
    return out


def count_impacts(a: np.ndarray, level: float) -> int:
    """Local maxima of `a` at or over `level`, at least 0.2 s apart."""
    k = np.flatnonzero((a[1:-1] >= level) & (a[1:-1] >= a[:-2]) & (a[1:-1] > a[2:])) + 1
    count, last = 0, -(10**9)
    for i in k:
        if i - last >= _s(0.2):
            count += 1
            last = int(i)
    return count


def _gravity(acc: np.ndarray) -> np.ndarray:
    """Mean direction of the acceleration (a low pass over the span), unit vector."""
    m = acc.mean(axis=0)
    return np.asarray(m / max(float(np.linalg.norm(m)), 1e-6))


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(u @ v, -1.0, 1.0))))


def fall_features(samples: np.ndarray, i: int) -> np.ndarray:
    """The FALL_FEATURES of a candidate at sample `i` of 50 Hz (n, 6) samples.

    Samples outside the array are taken as the first or last sample (edge hold), so a
    candidate near either end still has every feature; the robot waits POST_S before deciding.
    """
    n = len(samples)
    idx = np.clip(np.arange(i - _PRE, i + _POST + 1), 0, n - 1)
    x = samples[idx].astype(np.float64)
    raw, gmag = magnitudes(x)
    amag = smooth(raw)
    c = _PRE  # the impact in the window

    def seg(a: np.ndarray, t0: float, t1: float) -> np.ndarray:
        return a[c + _s(t0) : c + _s(t1) + 1]

    def gravity(t0: float, t1: float) -> np.ndarray:
        return _gravity(x[c + _s(t0) : c + _s(t1) + 1, :3])

    peak = float(seg(amag, -0.2, 0.2).max())
    pre = seg(amag, -1.5, -0.1)
    jerk = np.abs(np.diff(seg(amag, -0.3, 0.3))) * RATE_HZ
    post, post_g = seg(amag, 1.0, 3.0), seg(gmag, 1.0, 3.0)
    g_before = gravity(-2.5, -1.0)
    level = max(1.5, 1.0 + 0.5 * (peak - 1.0))
    late_a, late_g = seg(raw, 1.0, 5.0), seg(gmag, 1.0, 5.0)
    w, hop = _s(1.0), _s(0.5)
    starts = range(0, len(late_a) - w + 1, hop)
    return np.asarray(
        [
            peak,
            pre.min(),
            np.count_nonzero(pre < FREE_FALL_G) / RATE_HZ,
            np.count_nonzero(pre < 0.8) / RATE_HZ,
            seg(gmag, -0.5, 0.5).max(),
            jerk.max() if len(jerk) else 0.0,
            np.count_nonzero(seg(amag, -0.5, 0.5) > 1.5) / RATE_HZ,
            seg(gmag, -1.5, 0.5).sum() / RATE_HZ,
            _angle(g_before, gravity(1.5, 3.0)),
            post.std(),
            post_g.mean(),
            post.mean(),
            seg(raw, 0.3, 1.0).std(),
            seg(raw, -2.5, -0.5).std(),
            seg(gmag, -2.5, -0.5).mean(),
            count_impacts(seg(amag, -3.0, -0.4), level),
            count_impacts(seg(amag, 0.4, 5.0), level),
            min(float(late_a[j : j + w].std()) for j in starts),
            min(float(late_g[j : j + w].mean()) for j in starts),
            _angle(g_before, gravity(3.5, 5.0)),
        ],
        dtype=np.float32,
    )


def resample(t_s: np.ndarray, samples: np.ndarray, rate_hz: float = RATE_HZ) -> list[np.ndarray]:
    """Irregular (bursty, jittered, 25 Hz...) samples onto a uniform grid by linear interpolation.

    Returns one (m, 6) float32 array per stretch without a hole longer than MAX_GAP_S; the
    stretch starts at the time of its first input sample. Repeated times are averaged.
    """
    order = np.argsort(t_s, kind="stable")
    t = np.asarray(t_s, dtype=np.float64)[order]
    x = np.asarray(samples, dtype=np.float64)[order]
    if len(t) == 0:
        return []
    uniq, inverse = np.unique(t, return_inverse=True)
    if len(uniq) < len(t):
        sums = np.zeros((len(uniq), x.shape[1]))
        np.add.at(sums, inverse, x)
        x = sums / np.bincount(inverse)[:, None]
        t = uniq
    breaks = np.flatnonzero(np.diff(t) > MAX_GAP_S) + 1
    out: list[np.ndarray] = []
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(t)], strict=True):
        tt, xx = t[a:b], x[a:b]
        grid = tt[0] + np.arange(int(np.floor((tt[-1] - tt[0]) * rate_hz + 1e-9)) + 1) / rate_hz
        cols = [np.interp(grid, tt, xx[:, k]) for k in range(xx.shape[1])]
        out.append(np.stack(cols, axis=1).astype(np.float32))
    return out


def stretch_starts(t_s: np.ndarray) -> np.ndarray:
    """The time of the first sample of each stretch `resample` returns."""
    t = np.unique(np.asarray(t_s, dtype=np.float64))
    if not len(t):
        return t
    return np.asarray(t[np.r_[0, np.flatnonzero(np.diff(t) > MAX_GAP_S) + 1]])


class StreamResampler:
    """Batches at any rate (25 Hz, 100 Hz, jittered) → consecutive 50 Hz samples.

    Linear interpolation across batch boundaries: the last input sample of a batch is kept for
    the next one. A hole longer than MAX_GAP_S starts afresh (the caller sees a new `t0`).
    """

    def __init__(self, rate_hz: float = RATE_HZ) -> None:
        self.rate_hz = rate_hz
        self._last_t: float | None = None
        self._last_x: np.ndarray | None = None
        self._next_t = 0.0

    def feed(self, t_s: np.ndarray, samples: np.ndarray) -> tuple[float, np.ndarray]:
        """Input times and (n, 6) samples → (time of the first output sample, (m, 6) float32)."""
        t = np.asarray(t_s, dtype=np.float64)
        x = np.asarray(samples, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        t, x = t[order], x[order]
        if self._last_t is not None and self._last_x is not None and len(t):
            if t[0] - self._last_t > MAX_GAP_S or t[0] < self._last_t:
                self._last_t = None
            else:
                t = np.r_[self._last_t, t]
                x = np.vstack([self._last_x[None], x])
        if not len(t):
            return self._next_t, np.zeros((0, 6), np.float32)
        if self._last_t is None:
            self._next_t = float(t[0])
        keep = np.r_[np.diff(t) > 0, True]  # equal stamps: the last wins
        t, x = t[keep], x[keep]
        n = int(np.floor((t[-1] - self._next_t) * self.rate_hz + 1e-9)) + 1
        start = self._next_t
        if n <= 0:
            self._last_t, self._last_x = float(t[-1]), x[-1]
            return start, np.zeros((0, 6), np.float32)
        grid = start + np.arange(n) / self.rate_hz
        out = np.stack([np.interp(grid, t, x[:, k]) for k in range(x.shape[1])], axis=1)
        self._next_t = start + n / self.rate_hz
        self._last_t, self._last_x = float(t[-1]), x[-1]
        return start, out.astype(np.float32)
