"""The fall CNN experiment (models/activity/cnn.py, the card's run log): its window channels,
a tiny run on simulated data sets and the ONNX export."""

from pathlib import Path

import numpy as np
import pytest

from device.perception.imu_features import RATE_HZ, candidates, magnitudes
from models.activity import cnn as C
from models.activity import fall as F
from models.activity.wrist import synthetic_trials
from models.data.imu_synth import Person, synth_fall_clip


def _random_rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    out: np.ndarray = q * np.sign(np.linalg.det(q))
    return out


def _fall_segment() -> np.ndarray:
    clip = synth_fall_clip("sideways", Person(), np.random.default_rng(4))
    return C.segment(clip.samples, clip.impact_index)


def test_window_channels_do_not_depend_on_how_the_watch_is_turned() -> None:
    seg = _fall_segment()
    r = _random_rotation(3)
    turned = np.hstack([seg[:, :3] @ r.T, seg[:, 3:6] @ r.T])
    np.testing.assert_allclose(C.channels(turned), C.channels(seg), atol=1e-4)


def test_window_channels_are_the_same_on_the_other_wrist() -> None:
    seg = _fall_segment()
    mirrored = seg.copy()
    mirrored[:, 0] *= -1  # x mirrored, and the rotation axes with it
    mirrored[:, 4:6] *= -1
    np.testing.assert_allclose(C.channels(mirrored), C.channels(seg), atol=1e-4)


def test_a_still_wrist_reads_one_g_along_gravity_and_no_turn() -> None:
    seg = np.tile(np.asarray([0.0, 0.6, 0.8, 0.0, 0.0, 0.0], np.float32), (210, 1))
    ch = C.channels(seg)
    assert ch.shape == (len(C.CHANNELS), 210)
    np.testing.assert_allclose(ch[0], 0.0, atol=1e-6)  # |a| - 1 g
    np.testing.assert_allclose(ch[1], 0.0, atol=1e-6)  # along gravity - 1 g
    np.testing.assert_allclose(ch[3], 1.0, atol=1e-6)  # cos of the turn
    np.testing.assert_allclose(ch[4:], 0.0, atol=1e-6)


def test_each_accelerometer_axis_is_clipped_at_8_g() -> None:
    seg = np.tile(np.asarray([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], np.float32), (210, 1))
    seg[150, 2] = 20.0  # a ±16 g watch's strike reads as FallAllD's ±8 g part would
    assert C.channels(seg)[0, 150] == pytest.approx(C.CLIP_G - 1.0)


def test_a_tiny_run_scores_both_directions_with_trees_net_and_their_combinations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOLBOM_CACHE", str(tmp_path))
    trials = synthetic_trials(3, 6, clip_s=10.0, falls_per_kind=2, group="young", brisk=True)
    table = F.candidate_table(trials, 7, hard_persons=1)
    w = C.build_windows(trials, table, 7, hard_persons=1)
    assert w.x.shape[0] == len(table.y) + (0 if table.hard is None else len(table.hard))
    k = int(table.trial[0])  # the first candidate row: its trial and sample
    i0 = round(float(table.t_s[0]) * RATE_HZ)
    assert i0 == int(candidates(magnitudes(trials[k].samples)[0])[0])
    np.testing.assert_allclose(w.x[0], C.channels(C.segment(trials[k].samples, i0)), atol=1e-6)
    assert w.copies.shape == (len(C.COPIES), *w.x.shape)
    assert not np.array_equal(w.copies[0], w.x)  # the jittered copy differs from the window
    t = C.with_ids(table)
    results = C.run(trials, t, w, seed=5, loso=False)
    assert [r["variant"] for r in results] == list(C.MODES)
    for r in results:
        for key in ("sim-a_to_sim-b", "sim-b_to_sim-a"):
            assert 0.0 <= r[key]["sensitivity"] <= 1.0
            assert 0.0 <= r[key]["false_fall_trial_rate"] <= 1.0
    both = C.Fitter(w, "trees")(t, np.arange(len(t.y)), 5)
    rows = t.x[:20]
    by = {}
    for mode in C.MODES:
        both.mode = mode
        by[mode] = both.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(by["mean"], 0.5 * (by["trees"] + by["cnn"]), atol=1e-6)
    # rank: each model's score as the share of training everyday candidates at or below it
    share_t = np.mean(both.ref_t[None, :] <= by["trees"][:, None], axis=1)
    share_c = np.mean(both.ref_c[None, :] <= by["cnn"][:, None], axis=1)
    np.testing.assert_allclose(by["rank"], 0.5 * (share_t + share_c), atol=1e-9)
    assert len(both.ref_t) == int(np.sum(t.y == 0))  # the real everyday candidates only
    again = C.build_windows(trials, table, 7, hard_persons=1)  # from the cache
    assert np.array_equal(again.x, w.x)


def test_the_net_exports_to_a_small_onnx_file_that_scores_as_torch(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = C.make_net().eval()
    info = C.export_onnx(net, tmp_path / "fall-cnn.onnx")
    assert info["bytes"] < 1_000_000
    assert info["max_abs_diff_vs_torch"] < 1e-5
