"""The motion stage: windows, falls into the safety loop, activity minutes, faults."""

from pathlib import Path

import numpy as np
import pytest

from device.config import DeviceConfig, PerceptionConfig
from device.perception.loader import load_named
from device.perception.motion import (
    REST_AFTER_S,
    FallDetected,
    ModelSwap,
    MotionAnalyzer,
    MotionStage,
    WindowResult,
    _Period,
)
from device.safety.countdown import Trigger
from device.sensors import ImuBatch, ImuSource
from models.data.imu_csv import read_imu_csv
from protocol import EventType
from protocol.events import ActivityPayload, DeviceFaultPayload
from tests.device.perception.conftest import IMU_CSV, TINY_MODELS, RecordingContext

IMPACT_S = float((IMU_CSV.with_suffix(".txt")).read_text().split("=")[1])


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    _, x = read_imu_csv(IMU_CSV)
    return x


def _analyzer() -> MotionAnalyzer:
    return MotionAnalyzer(load_named(TINY_MODELS, "activity"), load_named(TINY_MODELS, "fall"))


def _stage(tmp_path: Path, models_dir: Path = TINY_MODELS, period_s: float = 60.0) -> MotionStage:
    config = DeviceConfig(
        device_id="robot-test-01",
        data_dir=tmp_path,
        perception=PerceptionConfig(models_dir=str(models_dir), activity_period_s=period_s),
    )
    return MotionStage.from_config(config)


def _feed(stage: MotionStage, ctx: RecordingContext, x: np.ndarray, batch: int = 25) -> None:
    """Hand the samples to the stage in band batches, as the hardware layer would."""
    for i in range(0, len(x), batch):
        t0 = i / 50.0
        ctx.clock.t = t0
        stage.handle(ImuBatch(ImuSource.BAND, t0, x[i : i + batch]), t0)
        stage.tick(t0)


def test_one_window_a_second_once_two_seconds_are_in(samples: np.ndarray) -> None:
    results = _analyzer().feed(samples[:500], 0.0)
    windows = [r for r in results if isinstance(r, WindowResult)]
    assert [w.start_s for w in windows] == [float(s) for s in range(9)]
    assert all(abs(sum(w.scores.values()) - 1.0) < 1e-3 for w in windows)
    assert all(w.label == max(w.scores, key=lambda k: w.scores[k]) for w in windows)


def test_batches_of_any_size_give_the_same_windows(samples: np.ndarray) -> None:
    whole = _analyzer().feed(samples[:600], 0.0)
    analyzer = _analyzer()
    pieces: list[WindowResult | FallDetected] = []
    for i in range(0, 600, 7):
        pieces += analyzer.feed(samples[i : i + 7], i / 50.0)
    assert pieces == whole


def test_a_gap_in_the_stream_starts_the_windows_afresh(samples: np.ndarray) -> None:
    analyzer = _analyzer()
    analyzer.feed(samples[:150], 0.0)
    after_gap = analyzer.feed(samples[150:250], 10.0)  # 7 s missing
    assert [r.start_s for r in after_gap if isinstance(r, WindowResult)] == [10.0]


def test_the_fall_is_found_at_its_impact(samples: np.ndarray) -> None:
    falls = [r for r in _analyzer().feed(samples, 0.0) if isinstance(r, FallDetected)]
    assert len(falls) == 1
    assert falls[0].t_s == pytest.approx(IMPACT_S, abs=0.1)
    assert falls[0].impact_g > 2.5


def test_walking_alone_raises_no_fall(samples: np.ndarray) -> None:
    walking = samples[:400]  # the CSV's first eight seconds are walking
    assert not [r for r in _analyzer().feed(walking, 0.0) if isinstance(r, FallDetected)]


def test_a_detected_fall_starts_the_are_you_ok_countdown(
    tmp_path: Path, ctx: RecordingContext, samples: np.ndarray
) -> None:
    stage = _stage(tmp_path)
    stage.start(ctx)
    _feed(stage, ctx, samples)
    assert len(ctx.triggers) == 1
    trigger, confidence = ctx.triggers[0]
    assert trigger is Trigger.FALL
    assert 0.0 < confidence <= 1.0
    model, impact_g = ctx.trigger_details[0]
    assert model is not None
    assert (model.name, model.version) == ("fall", "0.0.1")
    assert impact_g is not None
    assert impact_g > 1.5  # the fall's impact, well above 1 g


def test_activity_minutes_are_reported_each_period_with_the_model(
    tmp_path: Path, ctx: RecordingContext, samples: np.ndarray
) -> None:
    stage = _stage(tmp_path, period_s=10.0)
    stage.start(ctx)
    _feed(stage, ctx, samples)
    events = ctx.events(EventType.ACTIVITY)
    assert len(events) >= 2
    payload, model = events[0]
    assert isinstance(payload, ActivityPayload)
    assert model is not None
    assert (model.name, model.version) == ("activity", "0.0.1")
    assert payload.minutes.get("walking", 0.0) > 0.1
    assert sum(payload.minutes.values()) <= 10.0 / 60.0 + 1e-6
    assert payload.period_end > payload.period_start


def test_a_model_that_fails_to_load_is_a_device_fault_not_a_crash(
    tmp_path: Path, ctx: RecordingContext, models_copy: Path, samples: np.ndarray
) -> None:
    (models_copy / "fall-0.0.1.onnx").write_bytes(b"not a model")
    stage = _stage(tmp_path, models_dir=models_copy)
    stage.start(ctx)
    faults = [p for p, _ in ctx.events(EventType.DEVICE_FAULT)]
    assert len(faults) == 1
    assert isinstance(faults[0], DeviceFaultPayload)
    assert (faults[0].component, faults[0].code) == ("model.fall", "model_load_failed")
    tests = {t.name: t for t in stage.self_tests()}
    assert tests["model.fall"].ok is False
    assert tests["model.activity"].ok is True
    _feed(stage, ctx, samples)  # the activity model keeps working
    assert not ctx.triggers


def test_a_robot_lying_on_its_side_reports_it_once(tmp_path: Path, ctx: RecordingContext) -> None:
    stage = _stage(tmp_path)
    stage.start(ctx)
    side = np.tile(np.array([[1.0, 0.0, 0.05, 0, 0, 0]], np.float32), (25, 1))
    for i in range(20):
        stage.handle(ImuBatch(ImuSource.BODY, i * 0.5, side), i * 0.5)
    faults = [p for p, _ in ctx.events(EventType.DEVICE_FAULT)]
    assert [(f.component, f.code) for f in faults if isinstance(f, DeviceFaultPayload)] == [
        ("body", "knocked_over")
    ]


def test_a_posted_model_swap_replaces_the_running_model(
    tmp_path: Path, ctx: RecordingContext
) -> None:
    stage = _stage(tmp_path)
    stage.start(ctx)
    new = load_named(TINY_MODELS, "fall")
    stage.handle(ModelSwap("fall", new), 0.0)
    assert stage.analyzer.fall is new
    assert ("model", "fall 0.0.1 active") in ctx.steps


def test_band_samples_at_25_hz_are_resampled_to_the_models_rate(
    tmp_path: Path, ctx: RecordingContext, samples: np.ndarray
) -> None:
    stage = _stage(tmp_path, period_s=5.0)
    stage.start(ctx)
    slow = samples[::2]  # a 25 Hz band
    for i in range(0, len(slow), 10):
        t0 = i / 25.0
        ctx.clock.t = t0
        stage.handle(ImuBatch(ImuSource.BAND, t0, slow[i : i + 10], rate_hz=25.0), t0)
        stage.tick(t0)
    events = ctx.events(EventType.ACTIVITY)
    assert events
    minutes = sum(sum(p.minutes.values()) for p, _ in events if isinstance(p, ActivityPayload))
    # one 2 s window a second, as at 50 Hz: the periods reported hold about all of the time
    reported = 5.0 * len(events) / 60.0
    assert minutes == pytest.approx(reported, abs=1.5 / 60.0)


def test_a_long_still_stretch_is_reported_as_rest(tmp_path: Path, ctx: RecordingContext) -> None:
    stage = _stage(tmp_path, period_s=3600.0)
    stage.start(ctx)
    for label in ["walking"] * 10 + ["still"] * int(REST_AFTER_S + 300):
        stage._period = stage._period or _Period(started_s=0.0)
        stage._count(label)
    assert stage._period is not None
    secs = stage._period.seconds
    assert secs["walking"] == 10.0
    assert secs["rest"] == REST_AFTER_S + 300
    assert "still" not in secs


def test_a_fall_at_the_very_end_of_a_recording_is_decided_on_flush(samples: np.ndarray) -> None:
    end = int(IMPACT_S * 50) + 20  # the recording stops 0.4 s after the impact
    analyzer = _analyzer()
    early = analyzer.feed(samples[:end], 0.0)
    assert not [r for r in early if isinstance(r, FallDetected)]
    late = analyzer.flush()
    assert [round(r.t_s, 1) for r in late if isinstance(r, FallDetected)] == [round(IMPACT_S, 1)]
