"""The synthetic wrist IMU is physically plausible and varies from person to person."""

import numpy as np
import pytest

from models.data.imu_synth import (
    ACTIVITIES,
    FALL_KINDS,
    Person,
    synth_activity,
    synth_day,
    synth_fall,
    synth_fall_clip,
)

SNUG = Person(tremor_deg=0.0, loose_band=0.0)  # default mounting: no rotation


def _mean_acc(x: np.ndarray) -> np.ndarray:
    return np.asarray(x[:, :3].mean(axis=0))


def _amag(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.norm(x[:, :3], axis=1))


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_every_activity_is_float32_six_axes_at_50_hz(activity: str) -> None:
    x = synth_activity(activity, 10.0, Person(), np.random.default_rng(1))
    assert x.shape == (500, 6)
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("activity", ["lying", "sitting", "standing"])
def test_resting_postures_measure_one_g(activity: str) -> None:
    x = synth_activity(activity, 20.0, SNUG, np.random.default_rng(2))
    assert abs(float(np.median(_amag(x))) - 1.0) < 0.05


def test_a_hanging_arm_reads_minus_one_g_along_the_forearm() -> None:
    x = synth_activity("standing", 20.0, SNUG, np.random.default_rng(3))
    assert _mean_acc(x)[0] < -0.8


def test_a_forearm_on_the_lap_reads_gravity_out_of_the_back_of_the_wrist() -> None:
    means = [
        _mean_acc(synth_activity("sitting", 10.0, SNUG, np.random.default_rng(s)))
        for s in range(20)
    ]
    assert np.median([m[2] for m in means]) > 0.7


def test_walking_swings_the_arm_at_the_stride_frequency() -> None:
    person = Person(cadence_spm=100.0, arm_swing_deg=20.0, tremor_deg=0.0)
    x = synth_activity("walking", 30.0, person, np.random.default_rng(4))
    gz = x[:, 5] - x[:, 5].mean()  # the hanging forearm swings about the band's z axis
    spectrum = np.abs(np.fft.rfft(gz))
    freqs = np.fft.rfftfreq(len(gz), 1 / 50.0)
    peak_hz = freqs[np.argmax(spectrum[1:]) + 1]
    assert 0.6 < peak_hz < 1.1  # 100 steps/min = 0.83 strides per second
    assert np.std(x[:, 5]) > 40.0  # ±20° at 0.83 Hz: about 100 °/s at the peak


@pytest.mark.parametrize("kind", ["forward", "backward", "sideways"])
def test_hard_falls_hit_several_g_then_lie_still(kind: str) -> None:
    clip = synth_fall_clip(kind, SNUG, np.random.default_rng(5))
    amag = _amag(clip.samples)
    assert amag.max() > 2.5
    assert abs(int(np.argmax(amag)) - clip.impact_index) <= 2
    after = amag[clip.impact_index + 50 :]
    assert len(after) >= 50 * 9  # ten seconds or more of the aftermath
    assert after.std() < 0.05


def test_a_slump_against_a_wall_has_no_big_peak() -> None:
    peaks = [_amag(synth_fall("slump", SNUG, np.random.default_rng(s))).max() for s in range(10)]
    assert max(peaks) < 2.0


def test_unknown_activity_or_fall_kind_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown activity"):
        synth_activity("dancing", 5.0, Person(), rng)
    with pytest.raises(ValueError, match="unknown fall kind"):
        synth_fall("down the stairs", Person(), rng)


def test_people_differ_and_the_same_seed_gives_the_same_person() -> None:
    a = Person.sample(np.random.default_rng(10))
    b = Person.sample(np.random.default_rng(11))
    assert a != b
    assert Person.sample(np.random.default_rng(10)) == a
    x1 = synth_activity("walking", 5.0, a, np.random.default_rng(1))
    x2 = synth_activity("walking", 5.0, a, np.random.default_rng(1))
    assert np.array_equal(x1, x2)


def test_every_fall_kind_has_motion_before_the_impact() -> None:
    for kind in FALL_KINDS:
        clip = synth_fall_clip(kind, Person(), np.random.default_rng(7))
        assert clip.fall_start >= 100  # at least two seconds before
        assert clip.impact_index > clip.fall_start


def test_a_day_labels_every_sample_and_places_its_falls() -> None:
    day = synth_day(Person(), np.random.default_rng(8), hours=1.0, falls=("forward",))
    assert len(day.samples) == 50 * 3600
    labels = day.labels()
    assert all(lab is not None for lab in labels)
    assert set(labels) <= {*ACTIVITIES, "fall"}
    assert len(day.impacts) == 1
    assert labels[day.impacts[0]] == "fall"
