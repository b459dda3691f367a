"""The log-mel CNN experiment (models/sound/cnn.py, the card's run log): its input, the
fitter that reads 2.0.0's recipe, the net and their mean from one fit, and the ONNX export."""

from pathlib import Path

import numpy as np

from models.sound import cnn as C
from models.sound.data import LABELS, FeatureTable
from tests.helpers.signals import RATE, harmonic_tone, noise


def test_log_mel_does_not_depend_on_the_gain() -> None:
    tone = harmonic_tone(1.0, 220.0, level=0.2)
    np.testing.assert_allclose(C.log_mel(tone), C.log_mel(tone * 0.01), atol=1e-3)


def test_log_mel_is_zero_at_the_loudest_cell_and_floored() -> None:
    m = C.log_mel(noise(2.0, 0.05, seed=1))
    assert m.shape == (1 + (2 * RATE - 400) // 320, C.N_MELS)
    assert float(m.max()) == 0.0
    assert float(m.min()) >= C.FLOOR_DB / 20.0


def test_a_low_tone_is_loudest_in_a_low_band_and_a_high_one_in_a_high_band() -> None:
    low = C.log_mel(harmonic_tone(1.0, 150.0)).mean(axis=0)
    high = C.log_mel(harmonic_tone(1.0, 1500.0)).mean(axis=0)
    assert int(np.argmax(low)) < int(np.argmax(high))


def test_a_row_holds_the_frame_count_then_the_padded_patch() -> None:
    short = C.patch_row(noise(1.0, seed=2))
    n = int(short[0])
    patch = short[1:].reshape(C.MAX_FRAMES, C.N_MELS)
    np.testing.assert_array_equal(patch[:n], C.log_mel(noise(1.0, seed=2)))
    assert np.all(patch[n:] == C.FLOOR_DB / 20.0)
    long = C.patch_row(noise(12.0, seed=3))  # only the first 10 s are kept
    assert int(long[0]) == C.MAX_FRAMES


def _tiny() -> tuple[FeatureTable, C.Patches]:
    rng = np.random.default_rng(0)
    label = np.repeat(np.arange(len(LABELS)), 3)
    n = label.size
    feats = rng.normal(size=(n, 6)).astype(np.float32) + label[:, None] * 0.3
    x = np.concatenate([feats, np.arange(n, dtype=np.float32)[:, None]], axis=1)
    table = FeatureTable(
        x=x,
        label=label,
        group=np.asarray([f"s{i}" for i in range(n)]),
        clip=np.asarray([f"c{i}" for i in range(n)]),
        original=np.ones(n, dtype=bool),
    )
    frames = rng.integers(60, 300, size=n)
    mel = rng.uniform(-4.0, 0.0, size=(n, C.MAX_FRAMES, C.N_MELS)).astype(np.float32)
    return table, C.Patches(mel=mel, frames=frames)


def test_one_fit_gives_the_recipe_the_net_and_their_mean() -> None:
    table, patches = _tiny()
    fitter = C.Fitter(patches, epochs=1)
    rows = np.arange(len(table.label))
    by = {}
    for mode in C.MODES:
        fitter.mode = mode
        by[mode] = fitter(table, rows, 5).predict_proba(table.x[:10])
    assert len(fitter.memo) == 1  # fitted once, read three ways
    for p in by.values():
        assert p.shape == (10, len(LABELS))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(by["mean"], 0.5 * (by["logreg"] + by["cnn"]), atol=1e-9)


def test_the_net_exports_to_a_small_onnx_file_that_scores_as_torch(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = C.make_net().eval()
    info = C.export_onnx(net, tmp_path / "sound-cnn.onnx", repeats=2)
    assert info["bytes"] < 1_000_000
    for seconds in ("1s", "4s", "10s"):  # the time axis is dynamic
        assert info[seconds]["max_abs_diff_vs_torch"] < 1e-4
