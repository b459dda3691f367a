"""The cross-source variants of the fall detector (models/activity/variants.py, the card's run
log): their features, training copies, the turn gate and a tiny run on simulated trials."""

from pathlib import Path

import numpy as np
import pytest

from device.perception.imu_features import FALL_FEATURES, RATE_HZ, fall_features
from models.activity import fall as F
from models.activity import variants as V
from models.activity.wrist import synthetic_trials
from models.data.imu_synth import Person, synth_fall_clip


def _spin(rate_dps: np.ndarray, seconds: float) -> np.ndarray:
    return np.tile(rate_dps, (round(seconds * RATE_HZ), 1)).astype(np.float64)


def _random_rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    out: np.ndarray = q * np.sign(np.linalg.det(q))
    return out


def test_net_rotation_is_the_angle_turned_not_the_rate_integrated() -> None:
    quarter = _spin(np.asarray([0.0, 0.0, 90.0]), 1.0)
    assert V.net_rotation_deg(quarter) == pytest.approx(90.0, abs=0.5)
    there_and_back = np.vstack([quarter, -quarter])  # clapping, an arm swing: ∫|ω| 180°
    assert V.net_rotation_deg(there_and_back) == pytest.approx(0.0, abs=0.5)
    assert V.net_rotation_deg(np.zeros((50, 3))) == 0.0


def test_net_rotation_does_not_depend_on_how_the_watch_is_turned() -> None:
    g = np.random.default_rng(2).normal(0.0, 120.0, (100, 3))
    r = _random_rotation(5)
    assert V.net_rotation_deg(g @ r.T) == pytest.approx(V.net_rotation_deg(g), abs=1e-6)


def test_extra_features_of_a_fall_are_finite_and_orientation_free() -> None:
    clip = synth_fall_clip("forward", Person(), np.random.default_rng(4))
    x, i = clip.samples, clip.impact_index
    f = V.all_features(x, i)
    assert f.shape == (len(V.ALL_FEATURES),)
    assert np.all(np.isfinite(f))
    assert np.array_equal(f[: len(FALL_FEATURES)], fall_features(x, i))
    r = _random_rotation(9)
    turned = np.hstack([x[:, :3] @ r.T, x[:, 3:6] @ r.T]).astype(np.float32)
    np.testing.assert_allclose(V.extra_features(turned, i), V.extra_features(x, i), rtol=1e-3)


def test_a_cropped_copy_rests_before_the_cut_and_keeps_the_impact() -> None:
    x = np.random.default_rng(1).normal(0.0, 0.5, (1000, 6)).astype(np.float32)
    x[:, 2] += 1.0
    rng = np.random.default_rng(3)
    out = V.cropped(x, 500, rng, pre=True, post=True)
    assert out.shape == x.shape
    kept = slice(500 - round(0.3 * RATE_HZ), 500 + round(2.0 * RATE_HZ))
    assert np.array_equal(out[kept], x[kept])
    assert out[: 500 - round(2.0 * RATE_HZ), :3].std(axis=0).max() < 0.01  # a wrist at rest
    assert out[-10:, :3].std(axis=0).max() < 0.01
    assert np.array_equal(V.cropped(x, 500, rng, pre=False, post=False), x)


def test_a_spliced_copy_keeps_the_fall_and_meets_its_gravity_at_the_seam() -> None:
    clip = synth_fall_clip("backward", Person(), np.random.default_rng(6))
    fall, i = clip.samples, clip.impact_index
    adl = np.random.default_rng(7).normal(0.0, 0.3, (800, 6)).astype(np.float32)
    adl[:, 0] += 1.0  # the everyday movement held the wrist another way
    adl[400] = [3.0, 0, 0, 0, 0, 0]
    out = V.spliced(fall, i, adl, 400, np.random.default_rng(8))
    assert out.shape == fall.shape
    seam = int(np.flatnonzero(np.any(out != fall, axis=1)).max()) + 1
    assert i - RATE_HZ <= seam <= i - 0.5 * RATE_HZ
    before, after = out[seam - 10 : seam, :3].mean(axis=0), out[seam : seam + 10, :3].mean(axis=0)
    cos = before @ after / np.linalg.norm(before) / np.linalg.norm(after)
    assert cos > 0.99
    assert np.array_equal(out[seam:], fall[seam:])
    u, v = np.asarray([1.0, 0.0, 0.0]), np.asarray([0.0, 0.6, 0.8])
    np.testing.assert_allclose(V.rotation_between(u, v) @ u, v, atol=1e-12)


def test_a_low_passed_copy_blunts_the_impact_and_keeps_the_length() -> None:
    x = np.zeros((200, 6), np.float32)
    x[100, 0] = 5.0
    out = V.low_passed(x, 5)
    assert out.shape == x.shape
    assert out[:, 0].max() == pytest.approx(1.0)
    assert out[:, 0].sum() == pytest.approx(5.0)


class _Always:
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.tile([0.1, 0.9], (len(x), 1))


def test_the_turn_gate_takes_its_level_from_the_training_falls_only() -> None:
    falls = np.asarray([[10.0, 2.0], [3.0, 40.0], [60.0, 70.0], [80.0, 5.0], [5.0, 4.0]])
    assert V.gate_level(falls, 1.0) == 5.0  # every training fall passes
    assert V.gate_level(falls, 0.5) == 40.0
    assert V.gate_level(np.zeros((0, 2)), 0.98) == 0.0
    gate = V.TurnGate(_Always(), [0, 1], 20.0)
    x = np.asarray([[0.0, 25.0], [19.0, 3.0], [90.0, 0.0]])
    assert gate.predict_proba(x)[:, 1].tolist() == [0.9, 0.0, 0.9]


def test_every_variant_names_known_features_and_models() -> None:
    assert len({v.name for v in V.VARIANTS}) == len(V.VARIANTS)
    for v in V.VARIANTS:
        assert set(v.columns()) <= set(V.ALL_FEATURES)
        assert len(v.columns()) == len(set(v.columns()))
        assert V.make_model(v.model, 1) is not None
    assert V.VARIANTS[0].columns() == list(FALL_FEATURES)  # the shipped detector first
    with pytest.raises(ValueError, match="unknown model"):
        V.make_model("forest-of-guesses", 1)


def test_a_tiny_run_gives_both_directions_on_simulated_data_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOLBOM_CACHE", str(tmp_path))
    trials = synthetic_trials(3, 6, clip_s=10.0, falls_per_kind=2, group="young", brisk=True)
    data = V.build_data(trials, seed=7, hard_persons=1)
    assert data.table.x.shape[1] == len(V.ALL_FEATURES)
    assert data.table.hard is not None
    assert data.table.hard.shape[1] == len(V.ALL_FEATURES)
    variant = V.Variant(
        "gate + copies", add=V.ROT, copies=("splice", "crop-pre"), gate_share=0.9, hard_weight=3.0
    )
    r = V.run(variant, data, seed=5, loso=True)
    assert {"sim-a_to_sim-b", "sim-b_to_sim-a", "leave_subjects_out"} <= set(r)
    for key in ("sim-a_to_sim-b", "sim-b_to_sim-a"):
        for op in ("at_5", "margin_2_5"):
            cell = r[key][op]
            assert 0.0 <= cell["sensitivity"] <= 1.0
            assert 0.0 <= cell["false_fall_trial_rate"] <= 1.0
        # the margin's threshold is never below the 5 % one (both from the training side)
        assert r[key]["margin_2_5"]["threshold"] >= r[key]["at_5"]["threshold"]
    assert set(data.copies) == {"splice", "crop-pre"}
    assert np.all(data.copies["splice"].y == 1)
    # the cached extra features are reused: a second build gives the same table
    again = V.build_data(trials, seed=7, hard_persons=1)
    assert np.array_equal(again.table.x, data.table.x)


def test_the_command_line_refuses_an_unknown_variant(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        V.main(["--only", "no such variant"], trials=list)
    assert "unknown variant" in capsys.readouterr().err


def test_floors_raise_stillness_and_caps_hold_the_impact_on_both_sides() -> None:
    names = ["peak_g", "post_std_g", "still_after_dps", "turn_deg"]
    x = np.asarray([[5.0, 0.001, 2.0, 80.0], [2.0, 0.3, 150.0, 10.0]], np.float32)
    out = V.apply_floors(x, names, (0.02, 10.0), (("peak_g", 3.0),))
    np.testing.assert_allclose(out, [[3.0, 0.02, 10.0, 80.0], [2.0, 0.3, 150.0, 10.0]], rtol=1e-6)
    assert np.array_equal(V.apply_floors(x, names, None), x)  # nothing asked, nothing changed

    class _Echo:  # the score is the first column as the model sees it
        def predict_proba(self, z: np.ndarray) -> np.ndarray:
            return np.stack([1.0 - z[:, 0], z[:, 0]], axis=1)

    wrapped = V.Floored(_Echo(), names, None, (("peak_g", 0.5),))
    assert wrapped.predict_proba(np.asarray([[0.9, 0, 0, 0], [0.2, 0, 0, 0]]))[:, 1].tolist() == [
        pytest.approx(0.5),
        pytest.approx(0.2),
    ]


def test_relabelling_moves_a_fall_to_its_best_scoring_candidate_out_of_fold() -> None:
    trials = synthetic_trials(2, 4, clip_s=10.0, falls_per_kind=1, group="young", brisk=True)
    is_fall = np.asarray([t.is_fall for t in trials])
    k = int(np.flatnonzero(is_fall)[0])
    # three candidates of one fall trial: the strongest labelled, the second scores highest
    x = np.asarray([[9.0, 0.2], [4.0, 0.8], [3.0, 0.1]], np.float32)
    others = np.flatnonzero(~is_fall)[:4]
    table = F.Table(
        np.vstack([x, np.zeros((len(others), 2), np.float32)]),
        np.r_[[k] * 3, others],
        np.zeros(3 + len(others)),
        np.r_[[1, -1, -1], [0] * len(others)].astype(np.int8),
    )
    seen: list[np.ndarray] = []

    class _Second:
        def predict_proba(self, z: np.ndarray) -> np.ndarray:
            return np.stack([1.0 - z[:, 1], z[:, 1]], axis=1)

    def fitter(t: F.Table, rows: np.ndarray, seed: int) -> _Second:
        seen.append(np.unique(t.trial[rows]))
        return _Second()

    out = V.relabel_falls(trials, table, np.arange(len(trials)), 2, 3, fitter)
    assert out.y[:3].tolist() == [-1, 1, -1]
    assert np.array_equal(out.y[3:], table.y[3:])  # everyday candidates untouched
    assert any(k not in s for s in seen)  # the fall's own person was left out of its model


def test_simulated_falls_are_candidates_with_every_feature() -> None:
    rows = V.sim_fall_rows(1)
    assert rows.shape[1] == len(V.ALL_FEATURES)
    assert 1 <= len(rows) <= 2 * len(V.SIM_FALL_KINDS)
    assert np.all(np.isfinite(rows))
    assert np.all(rows[:, FALL_FEATURES.index("peak_g")] >= 1.6)


def test_a_tiny_run_of_the_second_pass_options_and_the_in_source_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOLBOM_CACHE", str(tmp_path))
    trials = synthetic_trials(3, 6, clip_s=10.0, falls_per_kind=2, group="young", brisk=True)
    data = V.build_data(trials, seed=7, hard_persons=1)
    variant = V.Variant(
        "everything new",
        floors=(0.02, 10.0),
        caps=V.CAPS_3G,
        doubtful_out=True,
        type_weights=True,
        sim_falls=1,
        relabel=True,
        gate_share=0.95,
    )
    r = V.run(variant, data, seed=5)
    for key in ("sim-a_to_sim-b", "sim-b_to_sim-a"):
        assert 0.0 <= r[key]["at_5"]["sensitivity"] <= 1.0
        assert 0.0 <= r[key]["at_5"]["false_fall_trial_rate"] <= 1.0
    ceiling = V.in_source(data, seed=5, folds=3)
    assert set(ceiling) == {"sim-a", "sim-b"}
    for ds, cell in ceiling.items():
        assert 0.0 <= cell["sensitivity_at_5pct_own_everyday"] <= 1.0
        found = sum(f for f, _ in cell["found_by_peak"].values())
        falls = sum(n for _, n in cell["found_by_peak"].values())
        assert falls == sum(t.is_fall for t in trials if t.dataset == ds)  # every fall binned
        assert found / falls == pytest.approx(cell["sensitivity_at_5pct_own_everyday"], abs=1e-4)


def test_the_padding_mask_marks_features_read_before_or_after_the_recording() -> None:
    trials = synthetic_trials(2, 2, clip_s=10.0, falls_per_kind=1, group="young", brisk=True)
    t = trials[0]
    names = ["peak_g", "impacts_before", "still_after_g"]
    at = np.asarray([t.lo + 10, t.lo + 200, t.hi - 20], dtype=float) / RATE_HZ
    table = F.Table(np.zeros((3, 3), np.float32), np.zeros(3, int), at, np.zeros(3, np.int8))
    pre = V.padding_mask(trials, table, names, post=False)
    assert pre.tolist() == [[True, True, False], [False, False, False], [False, False, False]]
    both = V.padding_mask(trials, table, names, post=True)
    assert both[:, 2].tolist() == [False, False, True]  # 5 s after, only the last runs out
    assert both[:, 0].tolist() == [True, False, True]  # ±0.5 s: 0.2 / 0.4 s from an end


def test_only_falls_recorded_from_less_than_3_s_before_the_impact_keep_their_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOLBOM_CACHE", str(tmp_path))
    trials = synthetic_trials(3, 4, clip_s=10.0, falls_per_kind=1, group="young", brisk=True)
    data = V.build_data(trials, seed=7, hard_persons=1)
    t = data.table
    falls = np.flatnonzero(t.y == 1)
    late = {
        int(t.trial[r])
        for r in falls
        if trials[int(t.trial[r])].lo > round(float(t.t_s[r]) * RATE_HZ) - 3 * RATE_HZ
    }
    every = V.Copies(
        np.zeros((len(falls), len(V.ALL_FEATURES)), np.float32),
        t.trial[falls],
        np.ones(len(falls), np.int8),
    )
    kept = V.cropped_only(data, every)
    assert set(kept.trial.tolist()) == late
    assert 0 < len(late) < len(falls)  # the simulated falls: some start late, some do not
    assert V._copies(data, ("splice-cropped",)) is not None
    assert set(data.copies["splice-cropped"].trial.tolist()) <= late
