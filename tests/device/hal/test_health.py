"""The HAL's pure health decisions, with time passed in."""

import numpy as np

from device.hal.health import BadFrameWatch, SilenceWatch, StuckWatch
from device.hal.stage import LED_HELP, LED_LOW_BATTERY, LED_OFF, led_for


def test_a_silent_mcu_is_reported_once_and_cleared_by_a_frame() -> None:
    watch = SilenceWatch(timeout_s=3.0, started_s=0.0)
    watch.frame(1.0)
    assert watch.check(3.9) is None
    change = watch.check(4.0)
    assert change is not None
    assert (change.code, change.active) == ("mcu_silent", True)
    assert watch.check(10.0) is None  # reported once
    cleared = watch.frame(10.5)
    assert cleared is not None
    assert not cleared.active


def test_a_host_stall_is_not_taken_for_a_silent_mcu() -> None:
    watch = SilenceWatch(timeout_s=3.0, started_s=0.0, min_listened_s=0.5)
    assert watch.check(60.0, listened_s=0.1) is None  # the reader itself did not run
    assert watch.check(60.1, listened_s=0.6) is not None


def test_an_mcu_that_never_spoke_says_so() -> None:
    change = SilenceWatch(timeout_s=3.0, started_s=0.0).check(5.0, "port /dev/ttyAMA0 missing")
    assert change is not None
    assert "since start" in change.detail
    assert "port /dev/ttyAMA0 missing" in change.detail


def test_the_bad_frame_rate_has_hysteresis() -> None:
    watch = BadFrameWatch(window_s=10.0, high=0.05, low=0.01, min_bad=5)
    good = bad = 0
    changes = []
    for t in range(0, 60):
        good += 10
        bad += 2 if 10 <= t < 20 else 0
        change = watch.check(float(t), good, bad)
        if change is not None:
            changes.append((t, change.active))
    assert [active for _t, active in changes] == [True, False]
    on, off = changes[0][0], changes[1][0]
    assert 10 <= on <= 13
    assert off >= 25  # clear only once the window is clean


def test_a_few_bad_frames_are_not_a_fault() -> None:
    watch = BadFrameWatch(min_bad=5)
    assert all(watch.check(float(t), 10 * t, min(t, 4)) is None for t in range(1, 30))


def test_identical_imu_samples_across_batches_are_a_stuck_sensor() -> None:
    watch = StuckWatch("band", min_samples=100)
    rng = np.random.default_rng(0)
    assert watch.samples(rng.normal(size=(60, 6)).astype(np.float32)) is None
    frozen = np.tile(np.array([0.1, 0.2, 0.98, 1.0, -2.0, 0.5], dtype=np.float32), (60, 1))
    assert watch.samples(frozen) is None  # 60 so far
    change = watch.samples(frozen)  # 120 in a row
    assert change is not None
    assert (change.component, change.code, change.active) == ("band", "imu_stuck", True)
    cleared = watch.samples(rng.normal(size=(10, 6)).astype(np.float32))
    assert cleared is not None
    assert not cleared.active


def test_a_long_frozen_run_inside_one_large_batch_is_found() -> None:
    rng = np.random.default_rng(1)
    frozen = np.tile(np.array([0, 0, 1, 0, 0, 0], dtype=np.float32), (150, 1))
    batch = np.concatenate([rng.normal(size=(20, 6)), frozen, rng.normal(size=(20, 6))])
    change = StuckWatch("body", 100).samples(batch.astype(np.float32))
    assert change is not None
    assert change.active


def test_the_led_shows_help_first_then_a_low_battery() -> None:
    assert led_for(safety_active=True, battery_low=True) == LED_HELP
    assert led_for(safety_active=False, battery_low=True) == LED_LOW_BATTERY
    assert led_for(safety_active=False, battery_low=False) == LED_OFF
