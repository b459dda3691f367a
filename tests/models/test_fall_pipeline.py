"""Fall detector 2.x and activity 2.x: features, resampling, scoring rules and the recipe end to
end on simulated trials (the real shared recordings are never needed by the tests)."""

from pathlib import Path

import numpy as np
import pytest

from device.perception.imu_features import (
    CANDIDATE_G,
    FALL_FEATURES,
    StreamResampler,
    candidates,
    count_impacts,
    fall_features,
    magnitudes,
    resample,
    smooth,
    stretch_starts,
)
from device.perception.loader import load
from device.perception.motion import ACTIVITY_EXPECT, FALL_EXPECT
from models.activity import build
from models.activity import fall as F
from models.activity.real import Trial
from models.activity.recipe import ActivityRecipe, activity_card, fall_card
from models.activity.wrist import INVARIANT, LABELS, synthetic_trials, trial_class
from models.artifact import verify
from models.data.imu_synth import (
    HARD_NEGATIVES,
    Person,
    synth_activity,
    synth_fall_clip,
    synth_hard_negative,
)
from models.registry import NullProgress


@pytest.fixture(scope="module")
def fall_clip() -> tuple[np.ndarray, int]:
    clip = synth_fall_clip("forward", Person(), np.random.default_rng(4))
    return clip.samples, clip.impact_index


def test_the_impact_is_a_candidate_and_one_peak_counts_once(
    fall_clip: tuple[np.ndarray, int],
) -> None:
    x, impact = fall_clip
    amag, _ = magnitudes(x)
    found = candidates(amag)
    assert any(abs(int(i) - impact) <= 5 for i in found)
    assert np.all(np.diff(found) > 50)  # the largest within ±1 s: never two in one second
    assert np.all(amag[found] >= CANDIDATE_G)


def test_a_flat_topped_peak_is_one_candidate() -> None:
    amag = np.ones(300)
    amag[100:104] = 3.0
    assert candidates(amag).tolist() == [100]


def test_features_do_not_depend_on_the_wrist_or_the_watchs_rotation(
    fall_clip: tuple[np.ndarray, int],
) -> None:
    x, impact = fall_clip
    base = fall_features(x, impact)
    assert base.shape == (len(FALL_FEATURES),)
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated = x.copy()
    rotated[:, :3] = x[:, :3] @ q.T
    rotated[:, 3:] = x[:, 3:] @ q.T
    mirrored = x.copy()
    mirrored[:, 0] *= -1
    for other in (rotated, mirrored):
        np.testing.assert_allclose(fall_features(other, impact), base, rtol=1e-3, atol=1e-3)


def test_a_fall_looks_like_one_in_its_features(fall_clip: tuple[np.ndarray, int]) -> None:
    x, impact = fall_clip
    f = dict(zip(FALL_FEATURES, fall_features(x, impact), strict=True))
    assert f["peak_g"] > 2.0
    assert f["turn_deg"] > 30.0  # the forearm ends the fall lying differently
    assert f["post_std_g"] < 0.1  # and lies still afterwards


def test_features_near_either_end_hold_the_edge_sample(fall_clip: tuple[np.ndarray, int]) -> None:
    x, _ = fall_clip
    assert np.all(np.isfinite(fall_features(x, 0)))
    assert np.all(np.isfinite(fall_features(x, len(x) - 1)))


def test_irregular_samples_come_back_on_a_50_hz_grid() -> None:
    t = np.asarray([0.0, 0.0, 0.013, 0.05, 0.05, 0.07, 0.1, 2.5, 2.52, 2.56])
    x = np.tile(t[:, None], (1, 6)).astype(np.float32)  # each column equals the time
    parts = resample(t, x)
    assert [len(p) for p in parts] == [6, 4]  # 0..0.1 s; the 2.4 s hole splits
    np.testing.assert_allclose(parts[0][:, 0], np.arange(6) * 0.02, atol=1e-6)
    assert stretch_starts(t).tolist() == [0.0, 2.5]


def test_the_stream_resampler_joins_batches_without_a_seam() -> None:
    rs = StreamResampler()
    t = np.arange(100) / 25.0  # a 25 Hz band
    x = np.tile(t[:, None], (1, 6))
    outs = []
    starts = []
    for i in range(0, 100, 7):
        t0, y = rs.feed(t[i : i + 7], x[i : i + 7])
        starts.append(t0)
        outs.append(y)
    first_t = starts[0]
    y = np.concatenate(outs)
    np.testing.assert_allclose(y[:, 0], first_t + np.arange(len(y)) / 50.0, atol=1e-5)
    assert len(y) == 199


def _trial(is_fall: bool, score_group: str, dataset: str = "d", flags: str = "") -> Trial:
    x = np.zeros((10, 6), np.float32)
    return Trial(
        "f", dataset, f"{dataset}:S1", score_group, "A", "Fall F", is_fall, x, 0, 10, flags
    )


def test_rates_count_trials_and_the_operating_point_is_from_everyday_trials() -> None:
    trials = [_trial(True, "young")] * 4 + [_trial(False, "old")] * 20
    scores = np.asarray([0.9, 0.8, 0.3, 0.1] + [0.0] * 19 + [0.5])
    idx = np.arange(len(trials))
    thr = F.pick_threshold(trials, scores, idx, 0.05)
    assert thr <= 0.1  # one false in twenty everyday trials is allowed at ≤ 5 %
    r = F.rates(trials, scores, idx, 0.6)
    assert r["sensitivity"] == 0.5
    assert r["false_fall_trial_rate"] == 0.0
    assert r["sensitivity_by_direction"]["forward"]["falls"] == 4
    assert r["found_by_fall_type"] == {"A Fall F": [2, 4]}


def test_false_checks_per_day_scale_the_older_adults_rate_and_bound_zero() -> None:
    one = {"older_adult_hours": 2.0, "older_adult_false_falls": 1, "older_adult_trials": 200}
    fc = build.false_checks_per_day(one)
    assert fc["per_day"] == pytest.approx(build.EPISODES_PER_DAY / 200)
    assert fc["per_day_by_hours"] == pytest.approx(0.5 * build.ACTIVE_HOURS_PER_DAY)
    zero = build.false_checks_per_day(one | {"older_adult_false_falls": 0})
    assert zero["per_day"] == 0.0
    assert zero["per_day_rule_of_three_if_zero"] > 0.0
    assert build.false_checks_per_day({})["per_day"] is None


def test_activity_classes_come_from_the_activity_codes() -> None:
    def real(ds: str, code: str) -> Trial:
        x = np.zeros((10, 6), np.float32)
        return Trial("f", ds, "s", "old", code, "", False, x, 0, 10, "")

    assert trial_class(real("sim-a", "knocks")) == "light"

    assert trial_class(real("fallalld", "A020")) == "walking"
    assert trial_class(real("fallalld", "A025")) == "active"
    assert trial_class(real("smartfallmm", "A01")) == "light"
    assert trial_class(real("smartfallmm", "A99")) is None
    assert set(LABELS) == {"still", "light", "walking", "active"}
    assert len(INVARIANT) >= 15


def test_a_tiny_run_on_simulated_trials_exports_models_the_robot_loads(tmp_path: Path) -> None:
    def tiny() -> list[Trial]:
        return synthetic_trials(3, 6, clip_s=10.0, falls_per_kind=2, group="young", brisk=True)

    recipe = ActivityRecipe(trials=tiny, still_persons=2, folds=3)
    work, out = tmp_path / "work", tmp_path / "artifacts"
    summary = recipe.train(5, NullProgress(), work)
    assert 0.0 < summary["fall_threshold"] < 1.0
    metrics = recipe.evaluate(work, NullProgress())
    assert set(metrics["fall"]["leave_one_dataset_out"]) == {"sim-b_to_sim-a", "sim-a_to_sim-b"}
    rob = metrics["fall"]["robustness"]["sim-b_to_sim-a"]
    assert set(rob) >= {"as_recorded", "rotated_watch", "25_hz_input", "clipped_8g"}
    # magnitudes and angles only: the other wrist and a rotated watch change nothing
    assert rob["rotated_watch"] == rob["as_recorded"] == rob["other_wrist_mirrored"]
    paths = recipe.export(work, out, "0.1.0")
    assert sorted(p.name for p in paths) == ["activity-0.1.0.json", "fall-0.1.0.json"]
    for path, expect in zip(sorted(paths), (ACTIVITY_EXPECT, FALL_EXPECT), strict=True):
        assert verify(path).size_bytes <= 1_000_000
        model = load(path, expect=expect)  # includes the committed self-test vector
        assert model.info.version == "0.1.0"
    released = (out / "activity-0.1.0.json").read_bytes()
    recipe.export(work, out, "0.1.0")  # a released version is kept as it is
    assert (out / "activity-0.1.0.json").read_bytes() == released
    card = fall_card(verify(out / "fall-0.1.0.json"))
    assert "leave-subjects-out" in card
    assert "Robustness" in card
    assert "Must not be used" in card
    assert "| walking |" in activity_card(verify(out / "activity-0.1.0.json"))


def test_walking_alone_gives_few_candidates() -> None:
    walk = synth_activity("walking", 20.0, Person(), np.random.default_rng(2))
    amag, _ = magnitudes(walk)
    assert len(candidates(amag)) <= 5


def test_the_shipped_2_x_models_load_pass_their_self_test_and_fit_the_budget() -> None:
    from device.perception.loader import SHIPPED_DIR, load_named

    fall = load_named(SHIPPED_DIR, "fall", expect=FALL_EXPECT)
    activity = load_named(SHIPPED_DIR, "activity", expect=ACTIVITY_EXPECT)
    assert (fall.info.version, activity.info.version) == ("4.0.0", "2.0.0")
    assert fall.info.size_bytes <= 1_000_000
    assert activity.info.size_bytes <= 1_000_000
    assert activity.info.labels == LABELS
    assert fall.info.input.columns == FALL_FEATURES
    assert 0.0 < fall.info.decision["threshold"] < 1.0
    # the figures the card reports come from real recordings, grouped by person
    metrics = verify(SHIPPED_DIR / "fall-4.0.0.json").metrics
    assert fall.info.decision["turn_gate_deg"] > 0.0  # the gate is in the graph
    assert metrics["leave_subjects_out"]["grouped_by"] == "data set + subject"
    assert set(metrics["leave_one_dataset_out"]) == {
        "fallalld_to_smartfallmm",
        "smartfallmm_to_fallalld",
    }


def test_smoothing_is_a_centred_moving_average_that_holds_the_ends() -> None:
    a = np.asarray([1.0, 1.0, 4.0, 1.0, 1.0, 7.0])
    np.testing.assert_allclose(smooth(a, 3), [1.0, 2.0, 2.0, 2.0, 3.0, 5.0])
    np.testing.assert_allclose(smooth(a, 1), a)
    assert len(smooth(np.ones(10), 4)) == 10


def test_impacts_are_counted_once_each_and_apart() -> None:
    a = np.ones(200)
    a[[20, 21, 60, 100, 105]] = [3.0, 3.0, 2.5, 4.0, 3.5]  # 105 is within 0.2 s of 100
    assert count_impacts(a, 2.0) == 3
    assert count_impacts(a, 3.8) == 1
    assert count_impacts(np.ones(50), 1.5) == 0


def test_a_25_hz_band_keeps_most_of_the_impact_in_the_smoothed_features(
    fall_clip: tuple[np.ndarray, int],
) -> None:
    """The features read |a| smoothed over 60 ms so the sensor's bandwidth matters less."""
    x, impact = fall_clip
    x = x[: len(x) // 2 * 2]
    t = np.arange(len(x)) / 50.0
    slow = resample(t[::2], 0.5 * (x[::2] + x[1::2]))[0]  # a 25 Hz band, back to 50 Hz
    base = dict(zip(FALL_FEATURES, fall_features(x, impact), strict=True))
    amag, _ = magnitudes(slow)
    near = [int(i) for i in candidates(amag) if abs(int(i) - impact) <= 5]
    assert near, "the impact is still a candidate at 25 Hz"
    low = dict(zip(FALL_FEATURES, fall_features(slow, near[0]), strict=True))
    assert low["peak_g"] >= 0.6 * base["peak_g"]
    assert abs(low["turn_deg"] - base["turn_deg"]) < 10.0


@pytest.mark.parametrize("kind", HARD_NEGATIVES)
def test_hard_negatives_are_plausible_band_signals(kind: str) -> None:
    rng = np.random.default_rng(3)
    x = synth_hard_negative(kind, 20.0, Person.sample(rng), rng)
    assert x.shape == (1000, 6)
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x))
    amag, gmag = magnitudes(x)
    brisk = kind in ("jogging", "jumping")  # the arm swings hard, the body lands and flies
    assert (0.5 if brisk else 0.9) < float(np.median(amag)) < (2.5 if brisk else 1.4)
    assert float(gmag.max()) < 2000.0
    found = candidates(amag)
    if kind in ("clapping", "table_strikes", "jogging", "jumping"):
        assert len(found) >= 5  # repeated impacts: the point of these negatives
        f = dict(zip(FALL_FEATURES, fall_features(x, int(found[len(found) // 2])), strict=True))
        assert f["impacts_after"] >= 2  # they go on after the candidate


def test_a_fall_has_no_strong_impacts_after_and_lies_still(
    fall_clip: tuple[np.ndarray, int],
) -> None:
    x, impact = fall_clip
    f = dict(zip(FALL_FEATURES, fall_features(x, impact), strict=True))
    assert f["impacts_after"] <= 1
    assert f["still_after_g"] < 0.05
    assert f["lying_turn_deg"] > 30.0


def test_an_unknown_hard_negative_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown hard negative"):
        synth_hard_negative("juggling", 5.0, Person(), rng)


def test_hard_negatives_join_every_fit_as_non_falls() -> None:
    rows = F.hard_negative_rows(5, persons=1)
    assert rows.shape[1] == len(FALL_FEATURES)
    assert len(rows) >= 10
    x = np.vstack([np.full((6, len(FALL_FEATURES)), 9.0, np.float32), rows[:6]])
    table = F.Table(x, np.arange(12), np.zeros(12), np.asarray([1] * 6 + [0] * 6, np.int8), rows)
    clf = F.fit(table, np.arange(6), 1)  # only falls among the real rows
    assert set(clf.classes_) == {0, 1}  # the hard negatives gave the other class


def test_false_falls_are_counted_per_everyday_activity() -> None:
    def adl(code: str) -> Trial:
        x = np.zeros((10, 6), np.float32)
        return Trial("f", "d", "d:S1", "young", code, "Clap", False, x, 0, 10, "")

    trials = [adl("A1")] * 3 + [adl("A2")] * 2
    r = F.rates(trials, np.asarray([0.9, 0.1, 0.8, 0.0, 0.0]), np.arange(5), 0.5)
    assert r["false_falls_by_activity"] == {"A1 Clap": [2, 3]}


def test_the_turn_gate_in_the_onnx_graph_scores_as_the_python_gate() -> None:
    import onnxruntime as ort  # type: ignore[import-untyped]

    from models.activity import variants as V

    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 1.0, (300, len(FALL_FEATURES))).astype(np.float32)
    turn = [FALL_FEATURES.index(c) for c in V.TURN_FEATURES]
    x[:, turn] *= 120.0  # turn angles in degrees
    y = (x[:, 0] > 0.5).astype(np.int8)
    gate = V.TurnGate(F.make_classifier(1).fit(x, y), turn, 60.0)
    sess = ort.InferenceSession(build.fall_to_onnx(gate), providers=["CPUExecutionProvider"])
    label, scores = sess.run(["label", "scores"], {"features": x})
    np.testing.assert_allclose(scores[:, 1], gate.predict_proba(x)[:, 1], atol=1e-5)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(scores[x[:, turn].max(axis=1) < 60.0, 1] == 0.0)  # no turn, no fall
    assert 0 < int(np.sum(scores[:, 1] > 0.5)) < len(x)
    assert np.array_equal(label, scores.argmax(axis=1))
    assert build.gate_level_of(build.fall_to_onnx(gate)) == 60.0
    assert build.gate_level_of(build.fall_to_onnx(gate.model)) is None
