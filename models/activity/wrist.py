"""Activity classes a wrist can tell, from real recordings (plus the simulator's quiet hours).

Posture (sitting / lying / standing) is not observable from a wrist alone, so the classifier
says how much the wrist moves and how: `still`, `light` (arm and hand activity, getting up or
down), `walking` (steady gait, stairs) and `active` (jogging, jumping). The robot adds `rest`
over long windows: still for REST_AFTER_S or more in a row (sleep-like rest).

Real labels come from the trials' activity codes (ACTIVITY_MAP, one class per trial; the
first and last second of each trial are left out). The real sets hold almost no quiet
stretches, so the simulator's held postures (lying, sitting, standing: models/data/imu_synth)
give the `still` class, and `walking` is topped up with simulated senior gait.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from models.activity.features import FEATURE_NAMES, FeatureExtractor, sliding_windows
from models.activity.real import Trial
from models.data.imu_synth import FALL_KINDS, Person, synth_activity, synth_fall_clip

LABELS: Final = ("still", "light", "walking", "active")
WINDOW: Final = 100  # 2 s
HOP: Final = 50
REST_AFTER_S: Final = 1200.0  # 20 min of still in a row is counted as rest
INVARIANT: Final = tuple(
    i
    for i, n in enumerate(FEATURE_NAMES)
    if n.startswith(("amag", "gmag", "jerk", "aband", "gband"))
    or n in ("last_amag_std", "turn_cos", "peak_pos")
)
"""Feature columns that do not depend on how the watch sits on the wrist."""

_LIGHT = "light"
ACTIVITY_MAP: Final[dict[str, dict[str, str]]] = {
    "fallalld": {
        **{f"A{i:03d}": _LIGHT for i in range(1, 19)},  # hands, table, sit/stand/lie transitions
        **{f"A{i:03d}": "walking" for i in (19, 20, 21, 22, 23, 29, 30, 31, 32, 33, 34)},
        **{f"A{i:03d}": "active" for i in (24, 25, 26, 27, 35, 36, 43, 44)},
        "A028": _LIGHT,  # bending down
        **{f"A{i:03d}": "still" for i in (37, 38, 39, 40, 41, 42)},  # lift, standing/sitting on bus
    },
    "smartfallmm": {
        "A01": _LIGHT,  # drinking water
        "A02": _LIGHT,  # pick up object
        "A03": _LIGHT,  # jacket on and off
        "A04": "walking",  # stepping up
        "A05": _LIGHT,  # sweeping
        "A06": _LIGHT,  # washing hands
        "A07": _LIGHT,  # waving
        "A08": "walking",  # TUG test / walking
        "A09": _LIGHT,  # sit / stand
    },
}
"""Each real data set's everyday activity code → our class."""
SYNTH_MAP: Final = {
    "lying": "still",
    "sitting": "still",
    "standing": "still",
    "walking": "walking",
    "transition": _LIGHT,
    "knocks": _LIGHT,
    "brisk": "active",
}


def _knocks(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The wrist striking a table now and then: short 2-4 g jolts, no change of orientation."""
    y = x.copy()
    for at in rng.choice(np.arange(50, len(x) - 60), size=3, replace=False):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        ring = rng.uniform(1.5, 3.5) * np.exp(-np.arange(10) / 2.0) * np.cos(np.arange(10) * 1.9)
        y[at : at + 10, :3] += (ring[:, None] * axis[None]).astype(np.float32)
        y[at : at + 10, 3:] += rng.normal(0, 60, (10, 3)).astype(np.float32)
    return y


def synthetic_trials(
    seed: int,
    persons: int,
    *,
    clip_s: float = 20.0,
    falls_per_kind: int = 1,
    start: int = 0,
    group: str = "sim",
    brisk: bool = False,
) -> list[Trial]:
    """Simulated trials in the real trials' shape: quiet postures, walking, falls.

    The simulated persons are split into two "data sets" (sim-a, sim-b) so the same code
    can run leave-one-dataset-out on them (the tests do; no figure of them is evidence).
    `brisk` adds a crude stand-in for jogging (walking with its motion tripled) so a tiny
    simulated set has every class; the shipped model learns `active` from real jogging only.
    """
    out: list[Trial] = []
    for k in range(start, start + persons):
        rng = np.random.default_rng([seed, k, 13])
        p = Person.sample(rng)
        ds = "sim-a" if k % 2 == 0 else "sim-b"
        subj = f"{ds}:P{k:03d}"
        acts = ("lying", "sitting", "standing", "walking", "knocks", "brisk")
        for act in acts if brisk else acts[:-1]:
            src = {"knocks": "sitting", "brisk": "walking"}.get(act, act)
            x = synth_activity(src, clip_s, p, rng).astype(np.float32)
            if act == "knocks":
                x = _knocks(x, rng)
            elif act == "brisk":
                x = (x.mean(axis=0) + 3.0 * (x - x.mean(axis=0))).astype(np.float32)
            out.append(Trial(f"sim/{k}/{act}", ds, subj, group, act, act, False, x, 0, len(x), ""))
        for kind in FALL_KINDS[:3]:
            for j in range(falls_per_kind):
                clip = synth_fall_clip(kind, p, rng)
                x = clip.samples.astype(np.float32)
                fall_names = {"forward": "Fall F", "backward": "Fall B", "sideways": "Fall L"}
                out.append(
                    Trial(
                        f"sim/{k}/{kind}{j}",
                        ds,
                        subj,
                        group,
                        kind,
                        fall_names[kind],
                        True,
                        x,
                        0,
                        len(x),
                        "",
                    )
                )
    return out


def trial_class(t: Trial) -> str | None:
    """The activity class of an everyday trial (None: not used for activity)."""
    if t.is_fall:
        return None
    if t.dataset.startswith("sim"):
        return SYNTH_MAP.get(t.activity)
    return ACTIVITY_MAP.get(t.dataset, {}).get(t.activity)


@dataclass
class ActivitySet:
    """Window features (invariant columns), class index and the trial of each window."""

    x: np.ndarray
    y: np.ndarray
    trial: np.ndarray


def activity_windows(trials: Sequence[Trial], fx: FeatureExtractor) -> ActivitySet:
    """2 s windows of the recorded part of every everyday trial, its first/last second cut."""
    xs, ys, ts = [], [], []
    for k, t in enumerate(trials):
        cls = trial_class(t)
        if cls is None:
            continue
        sim = t.dataset.startswith("sim")
        part = t.samples[t.lo : t.hi] if sim else t.samples[t.lo + 50 : t.hi - 50]
        w = sliding_windows(part, WINDOW, HOP)
        if not len(w):
            continue
        xs.append(fx(np.ascontiguousarray(w))[:, list(INVARIANT)])
        ys.append(np.full(len(w), LABELS.index(cls), np.int8))
        ts.append(np.full(len(w), k))
    return ActivitySet(np.concatenate(xs), np.concatenate(ys), np.concatenate(ts))


def make_forest(seed: int) -> Any:
    """A small random forest (the activity model)."""
    from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]

    return RandomForestClassifier(
        n_estimators=30,
        max_leaf_nodes=96,
        min_samples_leaf=3,
        max_features="sqrt",
        class_weight="balanced_subsample",
        n_jobs=2,
        random_state=seed,
    )
