"""Cross-source variants of the fall detector (issue 13): the run log in models/cards/fall.md.

It re-runs the variants tried after fall 3.0.0 on the shared real set and prints, per
variant, leave-one-dataset-out in both directions (threshold from the training source's own
out-of-fold everyday trials, as in `fall.validate`) and optionally leave-subjects-out;
`--in-source` adds each data set on its own (the ceiling a transfer can be measured
against). Nothing here is chosen from a test source. Fall 4.0.0's training
(`models/activity/build.py`, FALL_RECIPE) uses the spliced copies of the cropped falls, the
turn gate and the fitter from here; the other variants are experiments.

    python -m models.activity.variants [--seed 7] [--loso] [--in-source] [--only NAME ...]

Variants change one of: the features (EXTRA_FEATURES computed beside the shipped
FALL_FEATURES, or some dropped), the model, the weights (hard negatives, data sets), extra
training copies of the training source's candidates (cropped as SmartFallMM's trials are,
low-passed, or with an everyday movement spliced before a fall), a turn gate (no fall unless
the gravity direction turns as much as in a share of the training source's falls) and the
operating point (a margin: ≤ 2.5 % false falls on the training source).
"""

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from device.perception.imu_features import (
    FALL_FEATURES,
    RATE_HZ,
    candidates,
    count_impacts,
    fall_features,
    magnitudes,
    smooth,
)
from models.activity import fall as F
from models.activity.real import Trial, cache_dir, load_trials

EXTRA_FEATURES: Final = (
    "net_rot_fall_deg",  # net rotation angle of the gyro integrated as a rotation, -1.5..+0.5 s
    "net_rot_long_deg",  # the same over -1..+1.5 s
    "peak_200ms_g",  # peak |a| smoothed over 200 ms (a common ~5 Hz band)
    "jerk_200ms_gps",  # jerk of that |a| within ±0.5 s
    "peak_over_pre",  # peak (60 ms) / (1 + std of |a| 2.5-0.5 s before)
    "impacts_after_15g",  # impacts of smoothed |a| ≥ 1.5 g 0.4-5 s after (absolute level)
    "post_gyro_rel",  # mean |gyro| 1-3 s after / the largest |gyro| at the impact
    "rot_ratio",  # net_rot_fall_deg / ∫|gyro| over the same span
    "peak_vs_later",  # peak / the largest smoothed |a| 1-5 s after
)
ALL_FEATURES: Final = (*FALL_FEATURES, *EXTRA_FEATURES)
MARGIN_RATE: Final = 0.025
_PRE, _POST = 150, 250  # samples around the impact, as fall_features
TURN_FEATURES: Final = ("turn_deg", "lying_turn_deg")
STILL_A_FEATURES: Final = ("post_std_g", "settle_std_g", "pre_std_g", "still_after_g")
STILL_G_FEATURES: Final = ("post_gyro_dps", "pre_gyro_dps", "still_after_dps")
"""Stillness read as the std of |a| (g) and the mean |gyro| (deg/s): at rest they measure the
sensor (noise floor, gyro zero-rate offset, the padding's synthetic rest), not the wrist. The
stillest second of a trial: std of |a| 0.0013-0.0027 g (FallAllD) against 0.010 g (SmartFallMM
young), mean |gyro| 2.9-3.3 against 6-8 deg/s (medians); the padding 0.004 g and ~0.8 deg/s."""
GYRO_FEATURES: Final = (
    "impact_gyro_dps",
    "rotation_deg",
    "post_gyro_dps",
    "pre_gyro_dps",
    "still_after_dps",
)
SIM_FALL_KINDS: Final = ("forward", "backward", "sideways")
WINDOWS: Final = {
    "pre_min_g": (-75, 0),
    "pre_below_06_s": (-75, 0),
    "pre_below_08_s": (-75, 0),
    "rotation_deg": (-75, 25),
    "turn_deg": (-125, 150),
    "post_std_g": (0, 150),
    "post_gyro_dps": (0, 150),
    "post_mean_g": (0, 150),
    "settle_std_g": (0, 50),
    "pre_std_g": (-125, 0),
    "pre_gyro_dps": (-125, 0),
    "impacts_before": (-150, 0),
    "impacts_after": (0, 250),
    "still_after_g": (0, 250),
    "still_after_dps": (0, 250),
    "lying_turn_deg": (-125, 250),
}
"""Samples before / after the candidate that a feature reads (features not named: ±25)."""


def net_rotation_deg(gyro_dps: np.ndarray, rate_hz: float = RATE_HZ) -> float:
    """The angle of the rotation that (n, 3) angular rates compose to (orientation-free)."""
    r = np.eye(3)
    for w in np.radians(np.asarray(gyro_dps, np.float64)) / rate_hz:
        th = float(np.linalg.norm(w))
        if th < 1e-12:
            continue
        k = w / th
        kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
        r = r @ (np.eye(3) + np.sin(th) * kx + (1.0 - np.cos(th)) * kx @ kx)
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))


def extra_features(samples: np.ndarray, i: int) -> np.ndarray:
    """EXTRA_FEATURES of a candidate at sample `i` (edges held, as fall_features)."""
    n = len(samples)
    x = samples[np.clip(np.arange(i - _PRE, i + _POST + 1), 0, n - 1)].astype(np.float64)
    raw, gmag = magnitudes(x)

    def s(t: float) -> int:
        return _PRE + round(t * RATE_HZ)

    lp, a3 = smooth(raw, 10), smooth(raw, 3)
    peak = float(a3[s(-0.2) : s(0.2) + 1].max())
    net = net_rotation_deg(x[s(-1.5) : s(0.5), 3:6])
    rot = float(gmag[s(-1.5) : s(0.5) + 1].sum() / RATE_HZ)
    return np.asarray(
        [
            net,
            net_rotation_deg(x[s(-1.0) : s(1.5), 3:6]),
            lp[s(-0.3) : s(0.3) + 1].max(),
            (np.abs(np.diff(lp[s(-0.5) : s(0.5) + 1])) * RATE_HZ).max(),
            peak / (1.0 + float(raw[s(-2.5) : s(-0.5) + 1].std())),
            count_impacts(a3[s(0.4) : s(5.0) + 1], 1.5),
            float(gmag[s(1.0) : s(3.0) + 1].mean())
            / max(float(gmag[s(-0.5) : s(0.5) + 1].max()), 1.0),
            net / max(rot, 1.0),
            peak / max(float(a3[s(1.0) : s(5.0) + 1].max()), 1.0),
        ],
        dtype=np.float32,
    )


def all_features(samples: np.ndarray, i: int) -> np.ndarray:
    """FALL_FEATURES then EXTRA_FEATURES."""
    return np.concatenate([fall_features(samples, i), extra_features(samples, i)])


# -- training copies -----------------------------------------------------------------------
def _rest(ref: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of a wrist at rest at the mean of `ref` (the padding of real.py)."""
    noise = rng.normal(0.0, 1.0, (n, 6)) * np.asarray([0.004] * 3 + [0.5] * 3)
    out: np.ndarray = (ref.mean(axis=0) + noise).astype(np.float32)
    return out


def cropped(x: np.ndarray, i: int, rng: np.random.Generator, pre: bool, post: bool) -> np.ndarray:
    """`x` with the part before i - 0.3..2 s and / or after i + 2..5 s replaced by rest."""
    x = x.copy()
    if pre:
        cut = max(0, i - int(rng.uniform(0.3, 2.0) * RATE_HZ))
        if cut:
            x[:cut] = _rest(x[cut : cut + 10], cut, rng)
    if post:
        cut = min(len(x) - 1, i + int(rng.uniform(2.0, 5.0) * RATE_HZ))
        x[cut:] = _rest(x[max(0, cut - 10) : cut], len(x) - cut, rng)
    return x


def low_passed(x: np.ndarray, n: int) -> np.ndarray:
    """Every axis of `x` through a centred moving average of `n` samples, ends held."""
    return np.stack([smooth(x[:, j].astype(np.float64), n) for j in range(6)], axis=1).astype(
        np.float32
    )


def rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation taking the direction of `u` to that of `v`."""
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    c, w = float(u @ v), np.cross(u, v)
    s = float(np.linalg.norm(w))
    if s < 1e-9:
        return np.eye(3) if c > 0 else -np.eye(3)
    k = w / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    out: np.ndarray = np.eye(3) + s * kx + (1.0 - c) * kx @ kx
    return out


def spliced(
    fall: np.ndarray, i: int, adl: np.ndarray, j: int, rng: np.random.Generator
) -> np.ndarray:
    """`fall` with an everyday movement before it: `adl` up to its own impact `j`, placed
    0.8-2.5 s before the fall's impact `i`, rotated so the gravity directions meet at the seam
    0.5-1 s before the impact (falls take about that long)."""
    gap = int(rng.uniform(0.8, 2.5) * RATE_HZ)
    seam = i - int(rng.uniform(0.5, min(1.0, gap / RATE_HZ - 0.2)) * RATE_HZ)
    end = min(len(adl), j + gap - (i - seam))
    start = end - seam
    pre = adl[max(0, start) : end].astype(np.float64)
    if start < 0:
        pre = np.concatenate([np.repeat(pre[:1], -start, axis=0), pre])
    out = fall.copy()
    if seam <= 0:
        return out
    r = rotation_between(pre[-10:, :3].mean(axis=0), out[seam : seam + 10, :3].mean(axis=0))
    pre[:, :3], pre[:, 3:6] = pre[:, :3] @ r.T, pre[:, 3:6] @ r.T
    out[:seam] = pre[-seam:]
    return out


@dataclass
class Copies:
    """Extra training rows made from the training source's own candidates."""

    x: np.ndarray  # (c, len(ALL_FEATURES))
    trial: np.ndarray  # the trial each copy was made from (only trained on with it)
    y: np.ndarray


def _candidate_rows(table: F.Table, label: int) -> list[tuple[int, int]]:
    return [
        (int(table.trial[r]), round(float(table.t_s[r]) * RATE_HZ))
        for r in np.flatnonzero(table.y == label)
    ]


def make_copies(trials: Sequence[Trial], table: F.Table, kind: str) -> Copies:
    """Copies of every training candidate (`crop-pre`, `crop-post`, `crop`, `low-pass`,
    `low-pass-short`), or of every fall with an everyday movement before it (`splice`, two
    per fall, the movement from the same data set)."""
    xs: list[np.ndarray] = []
    ts: list[int] = []
    ys: list[int] = []
    if kind == "splice":
        pool: dict[str, list[tuple[int, int]]] = {}
        for k, i in _candidate_rows(table, 0):
            if trials[k].lo + 100 <= i < trials[k].hi:
                pool.setdefault(trials[k].dataset, []).append((k, i))
        for k, i in _candidate_rows(table, 1):
            for c in range(2):
                rng = np.random.default_rng([k, c, 555])
                ka, ja = pool[trials[k].dataset][int(rng.integers(len(pool[trials[k].dataset])))]
                x = spliced(trials[k].samples, i, trials[ka].samples, ja, rng)
                xs.append(all_features(x, i))
                ts.append(k)
                ys.append(1)
    else:
        for r in np.flatnonzero(table.y >= 0):  # the table's order (the run log's fits)
            k, i, label = int(table.trial[r]), round(float(table.t_s[r]) * RATE_HZ), int(table.y[r])
            rng = np.random.default_rng([k, i, 0, 99])
            pre = rng.random() < (0.6 if kind in ("crop", "crop-pre") else 0.0)
            post = rng.random() < (0.6 if kind in ("crop", "crop-post") else 0.0)
            if kind.startswith("low-pass"):
                lo_n, hi_n = (2, 5) if kind == "low-pass-short" else (3, 10)
                x = low_passed(trials[k].samples, int(rng.integers(lo_n, hi_n)))
            elif pre or post:
                x = cropped(trials[k].samples, i, rng, pre, post)
            else:
                continue
            xs.append(all_features(x, i))
            ts.append(k)
            ys.append(label)
    width = len(ALL_FEATURES)
    return Copies(
        np.stack(xs) if xs else np.zeros((0, width), np.float32),
        np.asarray(ts, dtype=int),
        np.asarray(ys, dtype=np.int8),
    )


# -- variants ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One row of the run log."""

    name: str
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    model: str = "trees"  # trees | simple-trees | boosting | logistic-1 | logistic-0.1
    hard_weight: float = 1.0
    balance_sources: bool = False
    copies: tuple[str, ...] = ()  # make_copies kinds
    gate_share: float | None = None  # e.g. 0.98: turn at least as in 98 % of training falls
    floors: tuple[float, float] | None = None  # stillness floors (g, deg/s), train and test
    doubtful_out: bool = False  # falls flagged doubtful (never 2 g in source) not trained on
    type_weights: bool = False  # every activity of a data set and class weighs the same
    sim_falls: int = 0  # simulated persons whose falls (SIM_FALL_KINDS) are added as falls
    caps: tuple[tuple[str, float], ...] = ()  # features held at most at these, train and test
    relabel: bool = False  # a fall trial's fall: its best-scoring candidate out of fold
    mask: str = ""  # "pre" / "both": training features read from the padding are missing

    def columns(self) -> list[str]:
        """The feature columns this variant trains on."""
        cols = [c for c in FALL_FEATURES if c not in self.drop]
        return cols + [c for c in self.add if c not in cols]


ROT = ("net_rot_fall_deg", "rot_ratio")
CAPS_3G: Final = (("peak_g", 3.0), ("impact_jerk_gps", 40.0))
"""How hard the impact was stops counting at 3 g and 40 g/s: FallAllD's falls are harder
than SmartFallMM's (raw peak under 3 g: 43 of 523 against 59 of 227), so trees trained on
one source learn its impact strength; capped, they must use the other phases above it."""
CAPS_25G: Final = (("peak_g", 2.5), ("impact_jerk_gps", 30.0))
VARIANTS: Final = (
    Variant("3.0.0 as shipped"),
    Variant("+ net rotation angle and its ratio to the rotation integral", add=ROT),
    Variant("+ net rotation over -1..+1.5 s", add=("net_rot_fall_deg", "net_rot_long_deg")),
    Variant("+ peak and jerk at 200 ms", add=("peak_200ms_g", "jerk_200ms_gps")),
    Variant(
        "peak and jerk at 200 ms instead of 60 ms",
        add=("peak_200ms_g", "jerk_200ms_gps"),
        drop=("peak_g", "impact_jerk_gps"),
    ),
    Variant("+ absolute impacts after, peak vs later", add=("impacts_after_15g", "peak_vs_later")),
    Variant("+ all nine extra features", add=EXTRA_FEATURES),
    Variant("without activity before", drop=("pre_std_g", "pre_gyro_dps", "impacts_before")),
    Variant("without 1-3 s after", drop=("post_std_g", "post_gyro_dps", "post_mean_g")),
    Variant("without jerk and width", drop=("impact_jerk_gps", "impact_width_s")),
    Variant("simpler trees", model="simple-trees"),
    Variant("logistic regression C=1", model="logistic-1"),
    Variant("logistic regression C=0.1", model="logistic-0.1"),
    Variant("gradient boosting", model="boosting"),
    Variant("data sets and classes weighted equally", balance_sources=True),
    Variant("hard negatives x3", hard_weight=3.0),
    Variant("hard negatives x10", hard_weight=10.0),
    Variant("cropped copies", copies=("crop",)),
    Variant("cropped before", copies=("crop-pre",)),
    Variant("cropped after", copies=("crop-post",)),
    Variant("spliced copies", copies=("splice",)),
    Variant("spliced + hard x3", copies=("splice",), hard_weight=3.0),
    Variant("spliced + hard x3 + cropped before", copies=("splice", "crop-pre"), hard_weight=3.0),
    Variant("turn gate 98 %", gate_share=0.98),
    Variant("turn gate 95 %", gate_share=0.95),
    Variant("turn gate 90 %", gate_share=0.90),
    Variant("turn gate 98 % + hard x3", gate_share=0.98, hard_weight=3.0),
    Variant(
        "turn gate 98 % + spliced + hard x3",
        gate_share=0.98,
        copies=("splice",),
        hard_weight=3.0,
    ),
    Variant(
        "turn gate 95 % + spliced + hard x3",
        gate_share=0.95,
        copies=("splice",),
        hard_weight=3.0,
    ),
    Variant("low-passed copies 3-9 samples", copies=("low-pass",)),
    Variant("low-passed copies 2-4 samples", copies=("low-pass-short",)),
    # after the run log above (issue 13, second pass)
    Variant("stillness floors 0.02 g / 10 dps", floors=(0.02, 10.0)),
    Variant("stillness floors 0.05 g / 20 dps", floors=(0.05, 20.0)),
    Variant("without gyro", drop=GYRO_FEATURES),
    Variant("doubtful falls out of training", doubtful_out=True),
    Variant("every activity weighted equally", type_weights=True),
    Variant("+ simulated falls (24 persons)", sim_falls=24),
    Variant(
        "stillness floors 0.02 g / 10 dps + turn gate 98 %", floors=(0.02, 10.0), gate_share=0.98
    ),
    Variant("impact capped at 3 g, 40 g/s", caps=CAPS_3G),
    Variant("impact capped at 2.5 g, 30 g/s", caps=CAPS_25G),
    Variant("impact capped at 3 g, 40 g/s + turn gate 98 %", caps=CAPS_3G, gate_share=0.98),
    Variant("fall candidate relabelled out of fold", relabel=True),
    Variant("fall candidate relabelled + turn gate 98 %", relabel=True, gate_share=0.98),
    Variant("training features read from the padding before missing", mask="pre"),
    Variant("training features read from the padding missing", mask="both"),
    Variant("padding before missing + turn gate 98 %", mask="pre", gate_share=0.98),
    Variant("spliced copies of cropped falls only", copies=("splice-cropped",)),
    Variant(
        "spliced copies of cropped falls only + turn gate 98 %",
        copies=("splice-cropped",),
        gate_share=0.98,
    ),
    Variant(
        "spliced copies of cropped falls only + turn gate 98 % + hard x3",
        copies=("splice-cropped",),
        gate_share=0.98,
        hard_weight=3.0,
    ),
)


def make_model(kind: str, seed: int) -> Any:
    """The classifier of a variant (scikit-learn)."""
    from sklearn.ensemble import (  # type: ignore[import-untyped]
        ExtraTreesClassifier,
        HistGradientBoostingClassifier,
    )
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import (  # type: ignore[import-untyped]
        FunctionTransformer,
        StandardScaler,
    )

    if kind == "trees":
        return F.make_classifier(seed)
    if kind == "simple-trees":
        return ExtraTreesClassifier(
            n_estimators=80,
            max_leaf_nodes=32,
            min_samples_leaf=20,
            max_features=0.5,
            class_weight="balanced_subsample",
            n_jobs=1,
            random_state=seed,
        )
    if kind == "boosting":
        return HistGradientBoostingClassifier(
            max_depth=3, max_iter=150, learning_rate=0.1, class_weight="balanced", random_state=seed
        )
    if kind.startswith("logistic-"):
        return Pipeline(
            [
                ("log", FunctionTransformer(signed_log)),
                ("scale", StandardScaler()),
                (
                    "lr",
                    LogisticRegression(
                        C=float(kind.removeprefix("logistic-")),
                        class_weight="balanced",
                        max_iter=2000,
                    ),
                ),
            ]
        )
    raise ValueError(f"unknown model {kind!r}")


def signed_log(z: np.ndarray) -> np.ndarray:
    """sign(z) · log(1 + |z|): heavy-tailed features for a linear model."""
    out: np.ndarray = np.sign(z) * np.log1p(np.abs(z))
    return out


class TurnGate:
    """A fitted model whose fall score is 0 unless max(turn features) ≥ `level` degrees."""

    def __init__(self, model: Any, columns: Sequence[int], level: float) -> None:
        self.model, self.columns, self.level = model, list(columns), level

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The model's scores, falls gated."""
        p: np.ndarray = np.array(self.model.predict_proba(x), dtype=np.float64)
        p[:, 1] *= x[:, self.columns].max(axis=1) >= self.level
        return p


def gate_level(fall_rows: np.ndarray, share: float) -> float:
    """The turn that `share` of the training falls (rows of the turn columns) reach."""
    if not len(fall_rows):
        return 0.0
    return float(np.percentile(fall_rows.max(axis=1), round(100.0 * (1.0 - share), 6)))


def apply_floors(
    x: np.ndarray,
    names: Sequence[str],
    floors: tuple[float, float] | None,
    caps: Sequence[tuple[str, float]] = (),
) -> np.ndarray:
    """`x` with the stillness columns raised to the floors (g for |a|, deg/s for |gyro|) and
    the capped columns held at most at their caps."""
    out = np.array(x, dtype=np.float32)
    for j, name in enumerate(names):
        if floors is not None and name in STILL_A_FEATURES:
            out[:, j] = np.maximum(out[:, j], floors[0])
        elif floors is not None and name in STILL_G_FEATURES:
            out[:, j] = np.maximum(out[:, j], floors[1])
    for name, cap in caps:
        if name in names:
            j = list(names).index(name)
            out[:, j] = np.minimum(out[:, j], cap)
    return out


class Floored:
    """A fitted model that sees its input with the floors and caps applied."""

    def __init__(
        self,
        model: Any,
        names: Sequence[str],
        floors: tuple[float, float] | None,
        caps: Sequence[tuple[str, float]] = (),
    ) -> None:
        self.model, self.names, self.floors, self.caps = model, list(names), floors, tuple(caps)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The model's scores on the clamped input."""
        z = apply_floors(x, self.names, self.floors, self.caps)
        p: np.ndarray = self.model.predict_proba(z)
        return p


def sim_fall_rows(persons: int, seed: int = 7) -> np.ndarray:
    """ALL_FEATURES of the simulator's falls (SIM_FALL_KINDS, two each per person) at the
    candidate nearest the impact; falls without a candidate within 0.5 s are left out."""
    from models.data.imu_synth import Person, synth_fall_clip

    rows: list[np.ndarray] = []
    for p in range(persons):
        rng = np.random.default_rng([seed, p, 1313])
        person = Person.sample(rng)
        for kind in SIM_FALL_KINDS:
            for _ in range(2):
                clip = synth_fall_clip(kind, person, rng)
                x = np.concatenate([np.repeat(clip.samples[:1], 150, axis=0), clip.samples])
                amag, _ = magnitudes(x)
                idx = candidates(amag)
                impact = clip.impact_index + 150
                if len(idx) and np.abs(idx - impact).min() <= 25:
                    rows.append(all_features(x, int(idx[np.argmin(np.abs(idx - impact))])))
    return np.stack(rows) if rows else np.zeros((0, len(ALL_FEATURES)), np.float32)


def padding_mask(
    trials: Sequence[Trial], table: F.Table, names: Sequence[str], post: bool
) -> np.ndarray:
    """(rows, columns): the feature reads the rest added before the recording (and, with
    `post`, after it) rather than the recording itself."""
    i = np.round(table.t_s * RATE_HZ).astype(int)
    lo = np.asarray([trials[k].lo for k in table.trial])
    hi = np.asarray([trials[k].hi for k in table.trial])
    out = np.zeros((len(i), len(names)), bool)
    for j, name in enumerate(names):
        a, b = WINDOWS.get(name, (-25, 25))
        out[:, j] = i + a < lo
        if post:
            out[:, j] |= i + b >= hi
    return out


def make_fitter(
    variant: Variant,
    datasets: np.ndarray,
    copies: Copies | None,
    cols: Sequence[int],
    activities: np.ndarray | None = None,
    sim: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> F.Fitter:
    """A `fall.fit` for the variant: weights, copies of the training trials, the gate."""

    def fit(table: F.Table, rows: np.ndarray, seed: int) -> Any:
        keep = rows[table.y[rows] >= 0]
        x, y = table.x[keep], table.y[keep]
        if mask is not None:  # training only: the robot always has the seconds around
            x = np.where(mask[keep], np.nan, x).astype(np.float32)
        w = np.ones(len(y))
        if variant.type_weights and activities is not None:
            ds, act = datasets[table.trial[keep]], activities[table.trial[keep]]
            for d in np.unique(ds):
                for c in (0, 1):
                    m = (ds == d) & (y == c)
                    kinds = np.unique(act[m])
                    for a in kinds:
                        ma = m & (act == a)
                        w[ma] = m.sum() / len(kinds) / ma.sum()
        if variant.balance_sources:
            ds = datasets[table.trial[keep]]
            for d in np.unique(ds):
                for c in (0, 1):
                    m = (ds == d) & (y == c)
                    if m.any():
                        w[m] = 1.0 / m.sum()
            w *= len(y) / w.sum()
        if copies is not None and len(copies.y):
            m = np.isin(copies.trial, np.unique(table.trial[keep]))
            x = np.concatenate([x, copies.x[m][:, list(cols)]])
            y = np.concatenate([y, copies.y[m].astype(y.dtype)])
            w = np.concatenate([w, np.ones(int(m.sum()))])
        if table.hard is not None and len(table.hard):
            x = np.concatenate([x, table.hard])
            y = np.concatenate([y, np.zeros(len(table.hard), y.dtype)])
            w = np.concatenate([w, np.full(len(table.hard), variant.hard_weight)])
        if sim is not None and len(sim):
            x = np.concatenate([x, sim[:, list(cols)]])
            y = np.concatenate([y, np.ones(len(sim), y.dtype)])
            w = np.concatenate([w, np.ones(len(sim))])
        names = variant.columns()
        clamp = variant.floors is not None or bool(variant.caps)
        if clamp:
            x = apply_floors(x, names, variant.floors, variant.caps)
        model = make_model(variant.model, seed)
        weight_key = "lr__sample_weight" if variant.model.startswith("logistic") else None
        model.fit(x, y, **({weight_key: w} if weight_key else {"sample_weight": w}))
        if clamp:
            model = Floored(model, names, variant.floors, variant.caps)
        if variant.gate_share is None:
            return model
        turn = [names.index(c) for c in TURN_FEATURES]
        falls = table.x[keep][table.y[keep] == 1][:, turn]
        return TurnGate(model, turn, gate_level(falls, variant.gate_share))

    return fit


# -- evaluation ----------------------------------------------------------------------------
@dataclass
class Data:
    """Every candidate's ALL_FEATURES, the hard negatives' and the copies (built once)."""

    trials: Sequence[Trial]
    table: F.Table  # x: (m, len(ALL_FEATURES)), hard: (h, len(ALL_FEATURES))
    copies: dict[str, Copies] = field(default_factory=dict)


def _extra_rows(
    trials: Sequence[Trial], table: F.Table, seed: int, hard_persons: int
) -> tuple[np.ndarray, np.ndarray]:
    key = hashlib.sha256(repr((EXTRA_FEATURES, seed, hard_persons, len(table.y))).encode())
    for tr in trials:
        key.update(tr.file.encode())
    path = cache_dir() / f"fall-variants-extra-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        z = np.load(path)
        return z["x"], z["hard"]
    rows: list[np.ndarray] = []
    for tr in trials:
        amag, _ = magnitudes(tr.samples)
        rows.extend(extra_features(tr.samples, int(i)) for i in candidates(amag))
    from models.data.imu_synth import HARD_NEGATIVES, Person, synth_hard_negative

    hard: list[np.ndarray] = []
    for p in range(hard_persons):  # the same draws as fall.hard_negative_rows
        rng = np.random.default_rng([seed, p, 2026])
        person = Person.sample(rng)
        for kind in HARD_NEGATIVES:
            x = synth_hard_negative(kind, F.HARD_NEGATIVE_S, person, rng)
            amag, _ = magnitudes(x)
            hard.extend(extra_features(x, int(i)) for i in candidates(amag))
    width = len(EXTRA_FEATURES)
    ex = np.stack(rows) if rows else np.zeros((0, width), np.float32)
    eh = np.stack(hard) if hard else np.zeros((0, width), np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=ex, hard=eh)
    return ex, eh


def build_data(
    trials: Sequence[Trial], seed: int = 7, hard_persons: int = F.HARD_NEGATIVE_PERSONS
) -> Data:
    """The shipped candidate table (hard negatives of `seed`) widened by EXTRA_FEATURES."""
    base = F.candidate_table(trials, seed, hard_persons)
    ex, eh = _extra_rows(trials, base, seed, hard_persons)
    hard = base.hard if base.hard is not None else np.zeros((0, len(FALL_FEATURES)), np.float32)
    return Data(
        trials,
        F.Table(
            np.concatenate([base.x, ex], axis=1),
            base.trial,
            base.t_s,
            base.y,
            np.concatenate([hard, eh], axis=1),
        ),
    )


def _copies_of(data: Data, kind: str) -> Copies:
    if kind not in data.copies:
        data.copies[kind] = make_copies(data.trials, data.table, kind)
    return data.copies[kind]


def cropped_only(data: Data, copies: Copies) -> Copies:
    """The copies made from falls whose recording starts less than 3 s before the impact
    (the seconds before are the added rest): a rule on the training source's own trials."""
    t = data.table
    starts_late = np.zeros(len(data.trials), bool)
    for r in np.flatnonzero(t.y == 1):
        k = int(t.trial[r])
        starts_late[k] = data.trials[k].lo > round(float(t.t_s[r]) * RATE_HZ) - _PRE
    keep = starts_late[copies.trial]
    return Copies(copies.x[keep], copies.trial[keep], copies.y[keep])


def _copies(data: Data, kinds: Sequence[str]) -> Copies | None:
    if not kinds:
        return None
    for kind in kinds:
        if kind == "splice-cropped" and kind not in data.copies:
            data.copies[kind] = cropped_only(data, _copies_of(data, "splice"))
        if kind not in data.copies:
            data.copies[kind] = make_copies(data.trials, data.table, kind)
    parts = [data.copies[k] for k in kinds]
    return Copies(
        np.concatenate([c.x for c in parts]),
        np.concatenate([c.trial for c in parts]),
        np.concatenate([c.y for c in parts]),
    )


def sensitivity_at(
    trials: Sequence[Trial], scores: np.ndarray, idx: np.ndarray, rate: float
) -> float:
    """Sensitivity when the threshold lets `rate` of the everyday trials in `idx` through."""
    adl = np.sort(np.asarray([scores[i] for i in idx if not trials[i].is_fall]))[::-1]
    k = int(np.floor(rate * len(adl)))
    thr = float(adl[k]) + 1e-9 if k < len(adl) else 0.0
    falls = np.asarray([scores[i] for i in idx if trials[i].is_fall])
    return float(np.mean(falls >= thr)) if len(falls) else float("nan")


def relabel_falls(
    trials: Sequence[Trial],
    table: F.Table,
    idx: np.ndarray,
    folds: int,
    seed: int,
    fitter: F.Fitter,
) -> F.Table:
    """`table` with the fall of each fall trial in `idx` moved to the candidate that a model
    trained without that person scores highest (fall onsets are not given; the strongest
    |a| need not be the fall). Folds grouped by person, as `fall.grouped_oof`."""
    subjects = sorted({trials[i].subject for i in idx})
    order = np.random.default_rng(seed + 1).permutation(len(subjects))
    fold_of = {subjects[j]: f % folds for f, j in enumerate(order)}
    trial_fold = np.asarray([fold_of.get(t.subject, -1) for t in trials])
    is_fall = np.asarray([t.is_fall for t in trials])
    in_set = np.zeros(len(trials), bool)
    in_set[idx] = True
    y = table.y.copy()
    for f in range(folds):
        train_rows = np.flatnonzero(in_set[table.trial] & (trial_fold[table.trial] != f))
        rows = np.flatnonzero(
            in_set[table.trial] & (trial_fold[table.trial] == f) & is_fall[table.trial]
        )
        if not len(rows):
            continue
        s = fitter(table, train_rows, seed).predict_proba(table.x[rows])[:, 1]
        for k in np.unique(table.trial[rows]):
            mine = rows[table.trial[rows] == k]
            y[mine] = -1
            y[mine[int(np.argmax(s[table.trial[rows] == k]))]] = 1
    return F.Table(table.x, table.trial, table.t_s, y, table.hard)


def run(variant: Variant, data: Data, seed: int, loso: bool = False) -> dict[str, Any]:
    """Leave-one-dataset-out both ways (and leave-subjects-out) for one variant."""
    trials = data.trials
    cols = [ALL_FEATURES.index(c) for c in variant.columns()]
    hard = data.table.hard
    table = F.Table(
        data.table.x[:, cols],
        data.table.trial,
        data.table.t_s,
        data.table.y,
        None if hard is None else hard[:, cols],
    )
    if variant.doubtful_out:  # still scored as falls; only their training target goes
        y = table.y.copy()
        doubtful = np.asarray([F.DOUBTFUL_FLAG in t.flags for t in trials])
        y[doubtful[table.trial] & (y == 1)] = -1
        table = F.Table(table.x, table.trial, table.t_s, y, table.hard)
    datasets = np.asarray([t.dataset for t in trials])
    activities = np.asarray([t.activity for t in trials])
    sim = sim_fall_rows(variant.sim_falls) if variant.sim_falls else None
    mask = (
        padding_mask(trials, table, variant.columns(), variant.mask == "both")
        if variant.mask
        else None
    )
    fitter = make_fitter(
        variant, datasets, _copies(data, variant.copies), cols, activities, sim, mask
    )
    out: dict[str, Any] = {"variant": variant.name, "seed": seed}
    names = sorted(set(datasets.tolist()))
    for train_ds in names:
        for test_ds in names:
            if train_ds == test_ds:
                continue
            tr = np.flatnonzero(datasets == train_ds)
            te = np.flatnonzero(datasets == test_ds)
            tab = relabel_falls(trials, table, tr, 5, seed, fitter) if variant.relabel else table
            inner = F.grouped_oof(trials, tab, tr, 5, seed, fitter)
            model = fitter(tab, np.flatnonzero(np.isin(tab.trial, tr)), seed)
            rows = np.flatnonzero(np.isin(table.trial, te))
            s = model.predict_proba(table.x[rows])[:, 1] if len(rows) else np.empty(0)
            scores = np.nan_to_num(F.trial_scores(len(trials), table, s, rows), nan=0.0)
            cell: dict[str, Any] = {}
            for key, rate in (("at_5", F.TARGET_FALSE_RATE), ("margin_2_5", MARGIN_RATE)):
                thr = F.pick_threshold(trials, inner, tr, rate)
                r = F.rates(trials, scores, te, thr)
                cell[key] = {
                    "threshold": thr,
                    "sensitivity": r["sensitivity"],
                    "false_fall_trial_rate": r["false_fall_trial_rate"],
                }
            cell["sensitivity_at_5pct_false_on_test_side"] = round(
                sensitivity_at(trials, scores, te, F.TARGET_FALSE_RATE), 4
            )
            out[f"{train_ds}_to_{test_ds}"] = cell
    if loso:
        everyone = np.arange(len(trials))
        oof = F.grouped_oof(trials, table, everyone, 10, seed, fitter)
        thr = F.pick_threshold(trials, oof, everyone, F.TARGET_FALSE_RATE)
        r = F.rates(trials, oof, everyone, thr)
        out["leave_subjects_out"] = {
            "threshold": thr,
            "sensitivity": r["sensitivity"],
            "false_fall_trial_rate": r["false_fall_trial_rate"],
        }
    return out


PEAK_BINS: Final = ((0.0, 2.0), (2.0, 3.0), (3.0, float("inf")))


def in_source(data: Data, seed: int, folds: int = 5) -> dict[str, Any]:
    """Each data set on its own (3.0.0's features and trees, folds grouped by person): the
    sensitivity when the threshold lets 5 % of its own everyday trials through, in all and
    by the fall's raw peak |a| in the recording. The ceiling a transfer from the other data set
    can be measured against: what the data set's own people teach about its falls."""
    trials = data.trials
    cols = [ALL_FEATURES.index(c) for c in FALL_FEATURES]
    hard = data.table.hard
    table = F.Table(
        data.table.x[:, cols],
        data.table.trial,
        data.table.t_s,
        data.table.y,
        None if hard is None else hard[:, cols],
    )
    datasets = np.asarray([t.dataset for t in trials])
    out: dict[str, Any] = {}
    for ds in sorted(set(datasets.tolist())):
        idx = np.flatnonzero(datasets == ds)
        oof = F.grouped_oof(trials, table, idx, folds, seed)
        ids = [int(i) for i in idx]
        adl = np.sort(np.asarray([oof[i] for i in ids if not trials[i].is_fall]))[::-1]
        k = int(np.floor(F.TARGET_FALSE_RATE * len(adl)))
        thr = float(adl[k]) + 1e-9 if k < len(adl) else 0.0
        falls = [i for i in ids if trials[i].is_fall]
        peaks = np.asarray(
            [magnitudes(trials[i].samples[trials[i].lo : trials[i].hi])[0].max() for i in falls]
        )
        found = np.asarray([oof[i] >= thr for i in falls])
        by_peak = {}
        for lo, hi in PEAK_BINS:
            m = (peaks >= lo) & (peaks < hi)
            by_peak[f"{lo:g}-{hi:g} g"] = [int(found[m].sum()), int(m.sum())]
        out[ds] = {
            "sensitivity_at_5pct_own_everyday": round(float(found.mean()), 4) if falls else None,
            "found_by_peak": by_peak,
        }
    return out


def _line(r: dict[str, Any]) -> str:
    cells = [r["variant"]]
    for key, v in r.items():
        if "_to_" in key:
            a = v["at_5"]
            cells.append(
                f"{key}: {a['sensitivity']:.3f} / {a['false_fall_trial_rate']:.3f};"
                f" {v['sensitivity_at_5pct_false_on_test_side']:.3f}"
                f" (margin {v['margin_2_5']['sensitivity']:.3f}"
                f" / {v['margin_2_5']['false_fall_trial_rate']:.3f})"
            )
    if "leave_subjects_out" in r:
        lo = r["leave_subjects_out"]
        cells.append(f"LOSO {lo['sensitivity']:.3f} / {lo['false_fall_trial_rate']:.3f}")
    return " | ".join(cells)


def main(
    argv: Sequence[str] | None = None,
    trials: Callable[[], Sequence[Trial]] = load_trials,
) -> list[dict[str, Any]]:
    """Run the variants on the shared real set; print one line each; optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seed", type=int, default=7, help="trees and folds (hard negatives: 7)")
    ap.add_argument("--loso", action="store_true", help="add leave-subjects-out (10 folds)")
    ap.add_argument("--only", nargs="*", default=None, help="variant names to run")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument(
        "--in-source", action="store_true", help="also each data set on its own (the ceiling)"
    )
    args = ap.parse_args(argv)
    chosen = [v for v in VARIANTS if args.only is None or v.name in args.only]
    unknown = set(args.only or ()) - {v.name for v in VARIANTS}
    if unknown:
        ap.error(f"unknown variant(s): {', '.join(sorted(unknown))}")
    data = build_data(list(trials()))
    results: list[dict[str, Any]] = []
    if args.in_source:
        r = {"variant": "in-source", "seed": args.seed, **in_source(data, args.seed)}
        print(json.dumps(r), flush=True)
        results.append(r)
    for v in chosen:
        r = run(v, data, args.seed, args.loso)
        print(_line(r), flush=True)
        results.append(r)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
