"""Prosody on synthetic signals with known pitch, level, rhythm and pauses; the arousal score."""

from dataclasses import replace

import numpy as np
import pytest

from device.perception.voice import (
    POPULATION_BASELINE,
    ArousalScorer,
    Prosody,
    frame_levels_db,
    pitch_track,
    prosody,
)

SR = 16000


def _tone(freq_hz: float, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t) * 32767).astype(np.int16)


def _voice(
    f0_hz: float, seconds: float, syllables_per_s: float, amplitude: float = 0.3
) -> np.ndarray:
    """A harmonic 'voice' switched on and off like syllables."""
    t = np.arange(int(seconds * SR)) / SR
    wave = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, 6))
    wave = wave / np.abs(wave).max()
    envelope = np.sin(np.pi * syllables_per_s * t) ** 2  # one bump per syllable
    out: np.ndarray = (amplitude * envelope * wave * 32767).astype(np.int16)
    return out


@pytest.mark.parametrize("freq_hz", [80.0, 120.0, 200.0, 300.0, 450.0])
def test_a_pure_tones_pitch_is_its_frequency(freq_hz: float) -> None:
    p = prosody(_tone(freq_hz, 1.0))
    assert p is not None
    assert p.pitch_hz == pytest.approx(freq_hz, rel=0.01)
    assert p.voiced_share > 0.95


def test_a_harmonic_voice_is_heard_at_its_fundamental_not_a_harmonic() -> None:
    t = np.arange(SR) / SR
    wave = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    x = (0.2 * wave / np.abs(wave).max() * 32767).astype(np.int16)
    p = prosody(x)
    assert p is not None
    assert p.pitch_hz == pytest.approx(150.0, rel=0.01)


def test_a_gliding_pitch_has_a_range_in_semitones() -> None:
    t = np.arange(2 * SR) / SR
    freq = 100.0 * 2 ** (t / 2.0)  # one octave up over two seconds
    phase = 2 * np.pi * np.cumsum(freq) / SR
    x = (0.3 * np.sin(phase) * 32767).astype(np.int16)
    f0 = pitch_track(x.astype(np.float64) / 32768)
    voiced = f0[f0 > 0]
    assert voiced.min() == pytest.approx(100.0, rel=0.05)
    assert voiced.max() == pytest.approx(200.0, rel=0.05)
    p = prosody(x)
    assert p is not None
    assert p.pitch_range_st == pytest.approx(12 * 0.8, abs=0.6)  # 10th to 90th percentile


def test_level_is_the_rms_in_dbfs() -> None:
    levels = frame_levels_db(np.full(SR, 0.5) * np.sign(np.sin(np.arange(SR))))
    assert float(np.median(levels)) == pytest.approx(20 * np.log10(0.5), abs=0.1)
    p = prosody(_tone(200.0, 1.0, amplitude=0.5))
    assert p is not None
    assert p.level_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)


def test_ten_times_the_amplitude_is_twenty_db_louder() -> None:
    quiet, loud = prosody(_tone(200.0, 1.0, 0.03)), prosody(_tone(200.0, 1.0, 0.3))
    assert quiet is not None
    assert loud is not None
    assert loud.level_db - quiet.level_db == pytest.approx(20.0, abs=0.2)


def test_silence_has_no_prosody() -> None:
    assert prosody(np.zeros(SR, np.int16)) is None
    assert prosody(np.zeros(100, np.int16)) is None


def test_noise_is_not_voiced() -> None:
    noise = (np.random.default_rng(0).normal(0, 0.05, SR) * 32767).astype(np.int16)
    p = prosody(noise)
    assert p is not None
    assert p.voiced_share < 0.05
    assert ArousalScorer().score(p) == 0.0


@pytest.mark.parametrize("rate", [2.0, 4.0, 6.0])
def test_syllable_rate_follows_the_rhythm(rate: float) -> None:
    p = prosody(_voice(140.0, 3.0, rate))
    assert p is not None
    assert p.rate_syl_s == pytest.approx(rate, rel=0.2)


def test_a_pause_inside_speech_is_counted() -> None:
    speech = _voice(180.0, 1.0, 4.0)
    x = np.concatenate([speech, np.zeros(int(0.6 * SR), np.int16), speech])
    p = prosody(x)
    assert p is not None
    assert p.pauses >= 1
    assert p.pause_share == pytest.approx(0.6 / 2.6, abs=0.08)
    no_pause = prosody(np.concatenate([speech, speech]))
    assert no_pause is not None
    assert no_pause.pause_share < p.pause_share


def _base() -> Prosody:
    mean = {k: v[0] for k, v in POPULATION_BASELINE.items()}
    return Prosody(
        duration_s=2.0,
        speaking_s=1.8,
        voiced_share=0.5,
        pitch_st=mean["pitch_st"],
        pitch_hz=100 * 2 ** (mean["pitch_st"] / 12),
        pitch_range_st=mean["pitch_range_st"],
        level_db=mean["level_db"],
        level_range_db=10.0,
        rate_syl_s=mean["rate_syl_s"],
        pause_share=mean["pause_share"],
        pauses=0,
    )


def test_an_average_voice_is_neither_aroused_nor_calm() -> None:
    assert ArousalScorer().score(_base()) == pytest.approx(0.0, abs=1e-6)


def test_higher_louder_faster_speech_scores_more_aroused() -> None:
    scorer = ArousalScorer()
    base = _base()
    raised = replace(base, pitch_st=base.pitch_st + 5, level_db=base.level_db + 8)
    hurried = replace(raised, rate_syl_s=base.rate_syl_s + 1.5, pause_share=0.0)
    flat = replace(base, pitch_st=base.pitch_st - 4, level_db=base.level_db - 8, pause_share=0.4)
    scores = [scorer.score(p) for p in (flat, base, raised, hurried)]
    assert scores == sorted(scores)
    assert scores[0] < -0.3
    assert scores[-1] > 0.5


def test_arousal_stays_within_minus_one_and_one() -> None:
    base = _base()
    extreme = replace(base, pitch_st=60.0, level_db=0.0, rate_syl_s=30.0, pause_share=0.0)
    silent = replace(base, pitch_st=-40.0, level_db=-90.0, rate_syl_s=0.0, pause_share=1.0)
    assert 0.9 < ArousalScorer().score(extreme) <= 1.0
    assert -1.0 <= ArousalScorer().score(silent) < -0.9


def test_the_baseline_adapts_to_a_low_steady_voice() -> None:
    scorer = ArousalScorer()
    low = replace(_base(), pitch_st=2.0, level_db=-38.0)  # an older man, far from the mic
    before = scorer.score(low)
    for _ in range(60):
        scorer.update(low)
    assert before < -0.4
    assert scorer.score(low) == pytest.approx(0.0, abs=0.05)
    assert scorer.score(replace(low, pitch_st=8.0, level_db=-28.0)) > 0.5


def test_unvoiced_segments_do_not_move_the_baseline() -> None:
    scorer = ArousalScorer()
    scorer.update(replace(_base(), voiced_share=0.0, level_db=-10.0))
    assert scorer.baseline() == ArousalScorer().baseline()


@pytest.mark.parametrize("n", [1, 2, 3, 41, 100, 101, 16000, 16001])
def test_decimation_is_scipys_resample_poly_without_scipy(n: int) -> None:
    from scipy.signal import resample_poly

    from device.perception.voice import decimate_by_2

    x = np.random.default_rng(n).standard_normal(n)
    expected = resample_poly(x, 1, 2)
    got = decimate_by_2(x)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, atol=1e-12, rtol=0)
