"""The ONNX feature graph computes what its names say (checked against numpy)."""

import numpy as np
import pytest

from models.activity.features import FEATURE_NAMES, FeatureExtractor, sliding_windows


@pytest.fixture(scope="module")
def extract() -> FeatureExtractor:
    return FeatureExtractor(100, threads=1)


def _named(features: np.ndarray) -> dict[str, float]:
    return {n: float(v) for n, v in zip(FEATURE_NAMES, features, strict=True)}


def test_statistics_match_numpy(extract: FeatureExtractor) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 0.3, (3, 100, 6)).astype(np.float32)
    x[:, :, 0] -= 1.0
    f = extract(x)
    assert f.shape == (3, len(FEATURE_NAMES))
    for i in range(3):
        got = _named(f[i])
        w = x[i].astype(np.float64)
        amag = np.linalg.norm(w[:, :3], axis=1)
        assert got["mean_ax"] == pytest.approx(w[:, 0].mean(), abs=1e-4)
        assert got["std_gz"] == pytest.approx(w[:, 5].std(), abs=1e-3)
        assert got["amag_max"] == pytest.approx(amag.max(), abs=1e-4)
        assert got["amag_min"] == pytest.approx(amag.min(), abs=1e-4)
        assert got["jerk_max"] == pytest.approx(np.abs(np.diff(amag)).max(), abs=1e-4)
        assert got["peak_pos"] == pytest.approx(np.argmax(amag) / 100.0)
        assert got["last_amag_std"] == pytest.approx(amag[50:].std(), abs=1e-3)


def test_gravity_direction_is_a_unit_vector(extract: FeatureExtractor) -> None:
    x = np.zeros((1, 100, 6), np.float32)
    x[0, :, 2] = 2.0
    got = _named(extract(x)[0])
    assert (got["grav_x"], got["grav_y"], got["grav_z"]) == pytest.approx((0.0, 0.0, 1.0))
    assert got["turn_cos"] == pytest.approx(1.0)


def test_a_steady_oscillation_lands_in_its_frequency_band(extract: FeatureExtractor) -> None:
    t = np.arange(100) / 50.0
    x = np.zeros((1, 100, 6), np.float32)
    x[0, :, 0] = 1.0 + 0.3 * np.sin(2 * np.pi * 1.8 * t)  # in the 1.25-2.5 Hz band
    got = _named(extract(x)[0])
    bands = [got[f"aband_{i}"] for i in range(4)]
    assert int(np.argmax(bands)) == 1


def test_wrongly_shaped_windows_are_refused(extract: FeatureExtractor) -> None:
    with pytest.raises(ValueError, match="windows must be"):
        extract(np.zeros((2, 50, 6), np.float32))


def test_sliding_windows_hop_over_the_samples() -> None:
    x = np.arange(250 * 6, dtype=np.float32).reshape(250, 6)
    w = sliding_windows(x, 100, 50)
    assert w.shape == (4, 100, 6)
    assert np.array_equal(w[1], x[50:150])
    assert sliding_windows(x[:99], 100, 50).shape == (0, 100, 6)
