"""The sound featurizer's spec v2 additions on generated signals: each measures what it names.

Breath rhythm on bursts of hiss at a known period, breathiness (HNR, cepstral peak) on a
harmonic tone against noise, the pitch contour's trend on a rising sweep, voiced runs on
tone bursts; every feature finite on the edge cases the robot can hand over.
"""

import numpy as np
import pytest

from device.audio.sound_features import (
    DIM,
    FEATURE_NAMES,
    MIN_SAMPLES,
    SPEC,
    featurize,
    self_test_signal,
)
from tests.helpers.signals import RATE, harmonic_tone, noise


def _f(x: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, featurize(x).tolist(), strict=True))


def _panting(seconds: float, period_s: float) -> np.ndarray:
    """Bursts of breath noise, 40 % of every period, with quiet in between."""
    x = noise(seconds, 0.1, seed=4)
    t = np.arange(x.size) / RATE
    gate = ((t % period_s) < 0.4 * period_s).astype(np.float32)
    out: np.ndarray = (x * (0.02 + gate)).astype(np.float32)
    return out


def test_names_match_the_spec_and_the_vector() -> None:
    assert len(FEATURE_NAMES) == DIM == SPEC["dim"] == 216
    assert len(set(FEATURE_NAMES)) == DIM
    assert SPEC["version"] == 2
    assert featurize(self_test_signal()).shape == (DIM,)


@pytest.mark.parametrize(
    "pcm",
    [
        np.zeros(RATE, dtype=np.float32),
        np.zeros(MIN_SAMPLES, dtype=np.float32),
        np.full(RATE, 0.3, dtype=np.float32),
        np.sign(np.sin(np.arange(RATE) / 3.0)).astype(np.float32),  # clipped square wave
        np.concatenate([np.zeros(RATE), harmonic_tone(0.1, 300.0)]).astype(np.float32),
    ],
    ids=["silence", "shortest", "dc", "clipped-square", "late-blip"],
)
def test_every_feature_is_finite_on_edge_cases(pcm: np.ndarray) -> None:
    assert np.all(np.isfinite(featurize(pcm)))


def test_breath_rhythm_finds_the_period_of_panting() -> None:
    panting = _f(_panting(4.0, 0.5))
    steady = _f(noise(4.0, 0.1))
    assert panting["breath_rhythm_period_s"] == pytest.approx(0.5, abs=0.05)
    assert panting["breath_rhythm_strength"] > 0.5
    assert steady["breath_rhythm_strength"] < panting["breath_rhythm_strength"] - 0.3


def test_a_harmonic_voice_is_less_breathy_than_noise() -> None:
    voice, breath = _f(harmonic_tone(2.0, 200.0)), _f(noise(2.0))
    assert voice["hnr_mean_db"] > breath["hnr_mean_db"] + 10.0
    assert voice["cpp_mean"] > breath["cpp_mean"]


def test_the_pitch_contour_trend_rises_with_a_rising_sweep() -> None:
    """Direction and range only: the autocorrelation pitch (spec v1's) slips an octave down on
    some frames of a sweep, so the trend's size is not a reliable number (docs/sound.md)."""
    n = 2 * RATE
    rising = _f(harmonic_tone(2.0, 200.0 * 2.0 ** (np.arange(n) / n)))  # one octave in 2 s
    falling = _f(harmonic_tone(2.0, 400.0 * 2.0 ** (-np.arange(n) / n)))
    flat = _f(harmonic_tone(2.0, 200.0))
    assert rising["f0_trend_semitones_per_s"] > 2.0
    assert falling["f0_trend_semitones_per_s"] < -2.0
    assert abs(flat["f0_trend_semitones_per_s"]) < 0.5
    assert rising["f0_range_semitones"] > flat["f0_range_semitones"] + 8.0


def test_voiced_runs_count_tone_bursts() -> None:
    burst, gap = harmonic_tone(0.3, 220.0), np.zeros(int(0.3 * RATE), dtype=np.float32)
    bursts = np.concatenate([burst, gap] * 5)
    f = _f(bursts)
    assert f["voiced_run_max_s"] == pytest.approx(0.3, abs=0.06)
    assert f["voiced_runs_per_s"] == pytest.approx(5 / 3.0, abs=0.4)
    assert _f(harmonic_tone(3.0, 220.0))["voiced_run_max_s"] > 2.5
