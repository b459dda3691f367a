"""The tried time-course features (models/sound/trajectory.py) on generated signals.

Each measures what it names: pitch change over 1 s on a glide against a held note, attack and
decay on a sharp onset against a swell, voicing at the onset and offset of the main event;
every feature finite on the edge cases the robot can hand over.
"""

import numpy as np
import pytest

from device.audio.sound_features import MIN_SAMPLES
from models.sound.trajectory import TRAJECTORY_NAMES, trajectory_features
from tests.helpers.signals import RATE, harmonic_tone, noise


def _f(x: np.ndarray) -> dict[str, float]:
    return dict(zip(TRAJECTORY_NAMES, trajectory_features(x).tolist(), strict=True))


def _shaped_noise(seconds: float, rise_s: float) -> np.ndarray:
    """Breath noise whose level rises linearly (in dB) for rise_s, then falls to the end."""
    x = noise(seconds, 0.1, seed=5)
    t = np.arange(x.size) / RATE
    db = np.where(t < rise_s, -30.0 + 30.0 * t / rise_s, -30.0 * (t - rise_s) / (seconds - rise_s))
    out: np.ndarray = (x * 10.0 ** (db / 20.0)).astype(np.float32)
    return out


def test_one_value_per_name() -> None:
    assert len(set(TRAJECTORY_NAMES)) == len(TRAJECTORY_NAMES) == 45
    assert trajectory_features(harmonic_tone(1.0, 200.0)).shape == (45,)


@pytest.mark.parametrize(
    "pcm",
    [
        np.zeros(RATE, dtype=np.float32),
        np.zeros(MIN_SAMPLES, dtype=np.float32),
        np.sign(np.sin(np.arange(RATE) / 3.0)).astype(np.float32),  # clipped square wave
        np.concatenate([np.zeros(RATE), harmonic_tone(0.1, 300.0)]).astype(np.float32),
    ],
    ids=["silence", "shortest", "clipped-square", "late-blip"],
)
def test_every_feature_is_finite_on_edge_cases(pcm: np.ndarray) -> None:
    assert np.all(np.isfinite(trajectory_features(pcm)))


def test_pitch_change_over_a_second_separates_a_glide_from_a_held_note() -> None:
    n = 2 * RATE
    glide = _f(
        harmonic_tone(2.0, 200.0 * 2.0 ** (7.0 / 12.0 * np.arange(n) / n))
    )  # 7 semitones in 2 s
    held = _f(harmonic_tone(2.0, 200.0))
    assert glide["pitch_change_1000ms"] == pytest.approx(3.5, abs=1.0)
    assert held["pitch_change_1000ms"] < 0.5
    assert held["sustained_voiced_share"] > 0.8


def test_attack_and_decay_tell_a_sudden_onset_from_a_swell() -> None:
    sudden = _f(_shaped_noise(2.0, 0.1))  # a sigh's shape: sharp onset, long fall
    swell = _f(_shaped_noise(2.0, 1.9))
    assert sudden["attack_db_per_s"] > 3 * sudden["decay_db_per_s"]
    assert swell["decay_db_per_s"] > 3 * swell["attack_db_per_s"]
    assert sudden["level_peak_position"] < 0.2
    assert swell["level_peak_position"] > 0.8


def test_voicing_at_the_onset_and_offset_of_the_main_event() -> None:
    voiced_then_breath = np.concatenate([harmonic_tone(1.0, 180.0, 0.1), noise(1.0, 0.05, seed=6)])
    f = _f(voiced_then_breath)
    assert f["voiced_onset_share"] > 0.9
    assert f["voiced_offset_share"] < 0.1
    assert f["voicing_third1"] > f["voicing_third3"]
