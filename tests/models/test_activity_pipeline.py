"""The simulator-side helpers of the activity package (targets, alarm merging, the classic
baseline, the simulator training); the 2.x recipe end to end is in test_fall_pipeline.py."""

from pathlib import Path

import numpy as np
import pytest

from models.activity import baseline
from models.activity.data import (
    FALL_WINDOW,
    IGNORE,
    LABELS,
    Recording,
    Sizes,
    Split,
    activity_targets,
    fall_targets,
)
from models.activity.train import fall_alarms, fall_stats
from models.data.imu_synth import Person, synth_activity, synth_fall_clip
from models.registry import NullProgress

TINY = Sizes(
    clip_s=8.0,
    clips_per_activity=1,
    falls_per_kind=1,
    day_hours=0.02,
    persons=Split.make(3, 1, 1),
    test_day_hours=0.02,
)


def test_the_split_never_shares_a_person() -> None:
    split = Split.make(40, 8, 12)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1])
    assert not (parts[0] & parts[2])
    assert not (parts[1] & parts[2])
    assert len(parts[0] | parts[1] | parts[2]) == 60


def test_a_window_holding_an_impact_is_labelled_fall() -> None:
    labels = np.zeros(400, np.int8)
    rec = Recording(np.zeros((400, 6), np.float32), labels, np.asarray([175]), 0, "fall:forward")
    targets = [LABELS[t] for t in activity_targets(rec)]
    # 100-sample windows every 50 samples: those starting at 100 and 150 hold sample 175
    assert targets == ["lying", "lying", "fall", "fall", "lying", "lying", "lying"]


def test_only_the_window_with_the_impact_in_its_bucket_is_a_positive_fall() -> None:
    rec = Recording(
        np.zeros((600, 6), np.float32), np.zeros(600, np.int8), np.asarray([275]), 0, ""
    )
    targets = fall_targets(rec)
    # windows start every 50 samples; the impact at 275 is in [50, 100) of the window at 200
    assert list(targets) == [0, 0, IGNORE, IGNORE, 1, IGNORE, 0, 0, 0][: len(targets)]


def test_alarms_closer_than_the_refractory_time_count_once() -> None:
    scores = np.zeros(100)
    scores[[10, 11, 12, 50]] = 0.9
    assert list(fall_alarms(scores, 0.5)) == [10, 50]


def test_fall_statistics_count_found_falls_and_false_alarms_per_day() -> None:
    fall = Recording(
        np.zeros((500, 6), np.float32), np.zeros(500, np.int8), np.asarray([175]), 0, "fall:forward"
    )
    day = Recording(
        np.zeros((4320, 6), np.float32), np.zeros(4320, np.int8), np.empty(0, int), 0, "day"
    )
    fall_scores = np.zeros(7)
    fall_scores[2] = 0.9  # window at 100..300 holds the impact
    day_scores = np.zeros(83)
    day_scores[[5, 70]] = 0.9
    stats = fall_stats([(fall, fall_scores), (day, day_scores)], 0.5).to_json()
    assert stats["sensitivity"] == 1.0
    assert stats["false_alarms"] == 2
    assert stats["false_alarms_per_person_day"] == pytest.approx(2 / (4320 / 50 / 86400), rel=1e-3)


def test_the_classic_rule_fires_on_a_hard_fall_but_not_on_walking() -> None:
    person = Person(tremor_deg=0.0)
    rng = np.random.default_rng(3)
    clip = synth_fall_clip("backward", person, rng)
    start = clip.impact_index - 75
    window = clip.samples[start : start + FALL_WINDOW][None]
    assert baseline.fall(window)[0] == 1
    walk = synth_activity("walking", 4.0, person, rng)[None]
    assert baseline.fall(walk)[0] == 0
    assert LABELS[baseline.activity(walk[:, :100])[0]] == "walking"


def test_the_same_seed_gives_the_same_training_data(tmp_path: Path) -> None:
    from models.activity.train import train

    small = Sizes(
        clip_s=4.0,
        clips_per_activity=1,
        falls_per_kind=1,
        day_hours=0.01,
        persons=Split.make(2, 1, 0),
    )
    a = train(9, NullProgress(), small)
    b = train(9, NullProgress(), small)
    assert a.fingerprint["sha256"] == b.fingerprint["sha256"]
    assert a.threshold == b.threshold


def test_macro_f1_counts_a_class_that_is_predicted_but_never_true() -> None:
    from sklearn.metrics import f1_score  # type: ignore[import-untyped]

    from models.activity.train import classification_report

    y_true = np.asarray([0, 0, 1, 1, 1, 0])
    y_pred = np.asarray([0, 0, 1, 2, 2, 0])  # class 2 is never true: its F1 is 0, not absent
    report = classification_report(y_true, y_pred, ["a", "b", "c", "d"])
    assert report["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-4)
