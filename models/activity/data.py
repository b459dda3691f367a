"""Labelled recordings and windows for the activity and fall models, split by simulated person.

Every simulated person gets their own random generator (seed, person index), so a person
is the same whatever else is generated, and train / validation / test never share one.
"""

from dataclasses import dataclass, field
from typing import Final

import numpy as np

from models.data.imu_synth import (
    ACTIVITIES,
    FALL_KINDS,
    Person,
    synth_activity,
    synth_day,
    synth_fall_clip,
)

LABELS: Final = (*ACTIVITIES, "fall")
"""The activity classifier's classes, in score order."""
ACTIVITY_WINDOW: Final = 100  # 2 s at 50 Hz
FALL_WINDOW: Final = 200  # 4 s: one second before the impact bucket, two after
HOP: Final = 50  # 1 s: 50 % overlap for the activity windows
IMPACT_BUCKET: Final = (50, 100)  # a fall window is positive when its impact is here
IGNORE: Final = -1


@dataclass(frozen=True)
class Recording:
    """A stretch of band samples with the ground truth of every sample."""

    samples: np.ndarray  # (n, 6) float32
    labels: np.ndarray  # (n,) int8 index into LABELS
    impacts: np.ndarray  # (k,) sample index of each fall's impact
    person: int
    source: str  # "clip", "fall:<kind>", "day"


@dataclass(frozen=True)
class Split:
    """Which simulated persons train, tune the fall threshold, and test."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]

    @staticmethod
    def make(n_train: int, n_val: int, n_test: int) -> "Split":
        """Consecutive person indices; a person is in exactly one part."""
        a, b = n_train, n_train + n_val
        return Split(tuple(range(a)), tuple(range(a, b)), tuple(range(b, b + n_test)))


@dataclass(frozen=True)
class Sizes:
    """How much data each person contributes (the defaults train in a few minutes)."""

    clip_s: float = 60.0
    clips_per_activity: int = 2
    falls_per_kind: int = 6
    day_hours: float = 3.0
    persons: Split = field(default_factory=lambda: Split.make(40, 8, 12))
    test_day_hours: float = 24.0


def person(seed: int, index: int) -> tuple[Person, np.random.Generator]:
    """Simulated person `index` and a generator for their recordings."""
    rng = np.random.default_rng([seed, index])
    return Person.sample(rng), rng


def _codes(names: np.ndarray) -> np.ndarray:
    lut = {name: i for i, name in enumerate(LABELS)}
    return np.asarray([lut[str(n)] for n in names], dtype=np.int8)


def clip_recordings(
    p: Person, rng: np.random.Generator, index: int, sizes: Sizes, *, activities: bool = True
) -> list[Recording]:
    """Held activities and falls of one person."""
    out: list[Recording] = []
    if activities:
        for code, activity in enumerate(ACTIVITIES):
            for _ in range(sizes.clips_per_activity):
                x = synth_activity(activity, sizes.clip_s, p, rng)
                out.append(
                    Recording(x, np.full(len(x), code, np.int8), np.empty(0, int), index, "clip")
                )
    for kind in FALL_KINDS:
        for _ in range(sizes.falls_per_kind):
            clip = synth_fall_clip(kind, p, rng)
            n = len(clip.samples)
            labels = np.full(n, LABELS.index("sitting" if kind == "slump" else "lying"), np.int8)
            labels[: clip.fall_start] = LABELS.index(clip.before)
            labels[clip.fall_start : min(n, clip.impact_index + 25)] = LABELS.index("fall")
            impacts = np.asarray([clip.impact_index])
            out.append(Recording(clip.samples, labels, impacts, index, f"fall:{kind}"))
    return out


def day_recording(p: Person, rng: np.random.Generator, index: int, hours: float) -> Recording:
    """`hours` of daily life (no falls)."""
    day = synth_day(p, rng, hours=hours)
    return Recording(day.samples, _codes(day.labels()), np.asarray(day.impacts, int), index, "day")


def _window_starts(n: int, window: int, hop: int) -> np.ndarray:
    return np.arange(0, n - window + 1, hop) if n >= window else np.empty(0, int)


def activity_targets(rec: Recording, window: int = ACTIVITY_WINDOW, hop: int = HOP) -> np.ndarray:
    """The label of each activity window: "fall" when it holds an impact, else the majority."""
    starts = _window_starts(len(rec.samples), window, hop)
    onehot = np.zeros((len(rec.labels) + 1, len(LABELS)), dtype=np.int32)
    onehot[np.arange(1, len(rec.labels) + 1), rec.labels] = 1
    cum = np.cumsum(onehot, axis=0)
    counts = cum[starts + window] - cum[starts]
    target: np.ndarray = counts.argmax(axis=1).astype(np.int8)
    for impact in rec.impacts:
        target[(starts <= impact) & (impact < starts + window)] = LABELS.index("fall")
    return target


def fall_targets(rec: Recording, window: int = FALL_WINDOW, hop: int = HOP) -> np.ndarray:
    """1 when the window's impact bucket holds an impact, IGNORE when an impact is elsewhere
    in the window (neither a clean positive nor a clean negative), else 0."""
    starts = _window_starts(len(rec.samples), window, hop)
    target = np.zeros(len(starts), dtype=np.int8)
    lo, hi = IMPACT_BUCKET
    for impact in rec.impacts:
        inside = (starts <= impact) & (impact < starts + window)
        target[inside & (target == 0)] = IGNORE
        target[(starts + lo <= impact) & (impact < starts + hi)] = 1
    return target
