"""The motion stage: activity minutes and falls from the wrist band, knocks from the body IMU.

`MotionAnalyzer` is the pure part (windows in, results out; no clock, no I/O): it keeps the
last seconds of band samples and, every second, runs the activity model on the last two
seconds (still / light / walking / active) and scores every candidate impact whose five
seconds of aftermath are in (device/perception/imu_features.py). `MotionStage` plugs it into
the agent: band input at another rate or with irregular timing is resampled to 50 Hz first,
a fall starts the safety loop's "are you OK?" countdown, and every period an `activity`
event reports minutes per class (still stretches of 20 min or more count as `rest`) with the
model that made them.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from device.config import DeviceConfig
from device.perception.imu_features import (
    FALL_FEATURES,
    N_FALL_FEATURES,
    PEAK_HALF_S,
    POST_S,
    PRE_S,
    StreamResampler,
    candidates,
    fall_features,
    magnitudes,
)
from device.perception.loader import SHIPPED_DIR, Expect, ModelLoadError, OnnxModel
from device.perception.rollout import ModelStore, Rollout, RolloutError, RolloutPayloadError
from device.safety.countdown import Trigger
from device.sensors import IMU_COLUMNS, IMU_RATE_HZ, ImuBatch, ImuSource
from device.stages import StageContext
from protocol import Command, CommandResult, CommandType, EventType
from protocol.events import ActivityPayload, DeviceFaultPayload, SelfTest

log = logging.getLogger(__name__)

ACTIVITY = "activity"
FALL = "fall"
ACTIVITY_LABELS = ("still", "light", "walking", "active")
REST = "rest"  # still for REST_AFTER_S or more in a row: sleep-like rest (reported minutes)
STILL = "still"
REST_AFTER_S = 1200.0
ACTIVITY_EXPECT = Expect(
    dtype="float32",
    shape=(None, None, 6),
    columns=IMU_COLUMNS,
    sample_rate_hz=IMU_RATE_HZ,
    labels=ACTIVITY_LABELS,
    fixed=(1,),  # the window length
)
FALL_EXPECT = Expect(
    dtype="float32",
    shape=(None, N_FALL_FEATURES),
    columns=FALL_FEATURES,
    sample_rate_hz=IMU_RATE_HZ,
    labels=("fall",),
)
GAP_S = 0.25  # a longer hole in the band's stream starts the windows afresh
BODY_TILT_COS = 0.5  # the robot lies on its side: gravity more than 60° off its upright axis
BODY_TILT_S = 3.0
_POST = round(POST_S * IMU_RATE_HZ)
_KEEP_FALL = round((PRE_S + POST_S + 2 * PEAK_HALF_S) * IMU_RATE_HZ) + 50


@dataclass(frozen=True)
class WindowResult:
    """The activity model's answer for one window."""

    start_s: float
    label: str
    scores: dict[str, float]


@dataclass(frozen=True)
class FallDetected:
    """The fall detector fired; `t_s` is when the impact happened."""

    t_s: float
    confidence: float
    impact_g: float


@dataclass(frozen=True)
class ModelSwap:
    """A rolled-out model replaces the running one (posted to the agent's loop)."""

    name: str
    model: OnnxModel


def _window_len(model: OnnxModel) -> int:
    length = model.info.input.shape[1]
    if length is None:
        raise ModelLoadError(f"{model.info.name}: the sidecar must fix the window length")
    return length


class MotionAnalyzer:
    """Windows the band's samples and runs the models; pure apart from the models themselves.

    Activity: every hop, the last window goes through the activity model. Falls: every peak
    of |a| that is a candidate impact (device/perception/imu_features.py) is described POST_S
    after it by its phase features and scored by the fall model.
    """

    def __init__(self, activity: OnnxModel | None, fall: OnnxModel | None) -> None:
        self.activity = activity
        self.fall = fall
        self._buf = np.zeros((0, 6), dtype=np.float32)
        self._buf_start = 0  # stream index of the buffer's first sample
        self._stream_t0 = 0.0  # time of the stream's sample 0
        self._next_t = 0.0  # when the next sample is expected
        self._scan_from = 0  # stream index from which candidates are still to be looked at
        self._since_hop = 0
        self._last_alarm_s = -np.inf
        self._configure()

    def _configure(self) -> None:
        self.act_window = _window_len(self.activity) if self.activity else 0
        decision = self.fall.info.decision if self.fall else {}
        self.threshold = float(decision.get("threshold", 0.5))
        self.refractory_s = float(decision.get("refractory_s", 30.0))
        self.hop = int(self.activity.info.decision.get("hop", 50)) if self.activity else 50
        self.keep = max(self.act_window, _KEEP_FALL if self.fall else 1)

    def replace(self, name: str, model: OnnxModel) -> None:
        """Swap in a new version of a model (the buffer is kept)."""
        if name == ACTIVITY:
            self.activity = model
        elif name == FALL:
            self.fall = model
        self._configure()

    def feed(self, samples: np.ndarray, t0_s: float) -> list[WindowResult | FallDetected]:
        """Take consecutive 50 Hz samples starting at `t0_s`; return what the windows showed."""
        if samples.ndim != 2 or samples.shape[1] != 6:
            raise ValueError(f"IMU samples must be (n, 6), not {samples.shape}")
        out: list[WindowResult | FallDetected] = []
        if not len(self._buf) or abs(t0_s - self._next_t) > GAP_S:
            out += self.flush()
            self._buf = np.zeros((0, 6), dtype=np.float32)
            self._buf_start = 0
            self._stream_t0 = t0_s
            self._scan_from = 0
            self._since_hop = 0
        pos = 0
        samples = samples.astype(np.float32, copy=False)
        while pos < len(samples):
            take = min(self.hop - self._since_hop, len(samples) - pos)
            self._append(samples[pos : pos + take])
            pos += take
            self._since_hop += take
            if self._since_hop >= self.hop:
                self._since_hop = 0
                out += self._run_windows()
        self._next_t = t0_s + len(samples) / IMU_RATE_HZ
        return out

    def flush(self) -> list[WindowResult | FallDetected]:
        """The stream ends (or breaks): decide the candidates still waiting for their after."""
        end = self._buf_start + len(self._buf)
        found = self._falls(end, hold=True)
        self._scan_from = end
        return list(found)

    def _append(self, chunk: np.ndarray) -> None:
        buf = np.concatenate([self._buf, chunk])
        drop = max(0, len(buf) - self.keep)
        self._buf = buf[drop:]
        self._buf_start += drop

    def _t(self, index: int) -> float:
        return self._stream_t0 + index / IMU_RATE_HZ

    def _run_windows(self) -> list[WindowResult | FallDetected]:
        out: list[WindowResult | FallDetected] = []
        end = self._buf_start + len(self._buf)
        if self.activity is not None and len(self._buf) >= self.act_window:
            window = self._buf[-self.act_window :]
            scores = self.activity.scores(window[None])[0]
            labels = self.activity.info.labels
            best = int(np.argmax(scores))
            out.append(
                WindowResult(
                    start_s=round(self._t(end - self.act_window), 3),
                    label=labels[best],
                    scores={lab: round(float(s), 4) for lab, s in zip(labels, scores, strict=True)},
                )
            )
        out += self._falls(end - _POST, hold=False)
        return out

    def _falls(self, stop: int, hold: bool) -> list[FallDetected]:
        """Score the candidate impacts in [scan_from, stop) (stream indices)."""
        if self.fall is None or not len(self._buf) or stop <= self._scan_from:
            return []
        first = max(self._scan_from, self._buf_start)
        self._scan_from = stop
        amag, _ = magnitudes(self._buf)
        local = candidates(amag, first - self._buf_start, stop - self._buf_start)
        if not hold:  # a candidate must be the largest within ±1 s, and that second is here
            local = local[local + int(PEAK_HALF_S * IMU_RATE_HZ) < len(self._buf)]
        if not len(local):
            return []
        feats = np.stack([fall_features(self._buf, int(i)) for i in local])
        scores = self.fall.scores(feats)
        p_fall = scores[:, self.fall.info.labels.index(FALL)]
        out: list[FallDetected] = []
        for i, p in zip(local, p_fall, strict=True):
            t = self._t(self._buf_start + int(i))
            if p >= self.threshold and t - self._last_alarm_s >= self.refractory_s:
                self._last_alarm_s = t
                out.append(
                    FallDetected(
                        t_s=round(t, 3),
                        confidence=round(float(p), 4),
                        impact_g=round(float(amag[i]), 2),
                    )
                )
        return out


@dataclass
class _Period:
    """Seconds per activity class since the last `activity` event."""

    started_s: float
    seconds: dict[str, float] = field(default_factory=dict)


class MotionStage:
    """Activity and falls from the band; knocked-over detection from the robot's own IMU."""

    name = "motion"

    def __init__(
        self,
        analyzer: MotionAnalyzer,
        *,
        period_s: float = 900.0,
        faults: list[tuple[str, str]] | None = None,
        rollout: Rollout | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.period_s = period_s
        self._faults = list(faults or [])
        self._rollout = rollout
        self._ctx: StageContext | None = None
        self._period: _Period | None = None
        self._tilted_since: float | None = None
        self._knocked_over = False
        self._warned_rate = False
        self._resampler = StreamResampler(IMU_RATE_HZ)
        self._still_run_s = 0.0  # seconds of still in a row (across periods)
        self._run_in_period_s = 0.0  # of them, in the current period and counted as still
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "MotionStage":
        """Load the models the config names; a model that fails is reported, not fatal."""
        shipped = (
            Path(config.perception.models_dir) if config.perception.models_dir else SHIPPED_DIR
        )
        store = ModelStore(config.data_dir / "models", shipped, threads=config.perception.threads)
        faults: list[tuple[str, str]] = []
        models: dict[str, OnnxModel | None] = {}
        for name, expect in ((ACTIVITY, ACTIVITY_EXPECT), (FALL, FALL_EXPECT)):
            try:
                models[name] = store.load(name, expect)
            except ModelLoadError as e:
                log.error("perception: %s", e)
                faults.append((name, str(e)))
                models[name] = None
        analyzer = MotionAnalyzer(models[ACTIVITY], models[FALL])
        rollout = Rollout(
            store,
            {ACTIVITY: ACTIVITY_EXPECT, FALL: FALL_EXPECT},
            cloud_url=config.perception.cloud_url,
            ca_file=config.perception.cloud_ca_file,
            timeout_s=config.perception.rollout_timeout_s,
            max_bytes=config.perception.rollout_max_bytes,
        )
        return cls(
            analyzer, period_s=config.perception.activity_period_s, faults=faults, rollout=rollout
        )

    # -- Stage -------------------------------------------------------------------------
    def start(self, ctx: StageContext) -> None:
        """Report the models that failed to load."""
        self._ctx = ctx
        for component, detail in self._faults:
            ctx.emit(
                EventType.DEVICE_FAULT,
                DeviceFaultPayload(
                    component=f"model.{component}", code="model_load_failed", detail=detail[:200]
                ),
            )

    def handle(self, item: object, now_s: float) -> None:
        """Band samples feed the models; body samples watch for the robot being knocked over."""
        if isinstance(item, ModelSwap):
            self.analyzer.replace(item.name, item.model)
            self._faults = [f for f in self._faults if f[0] != item.name]
            if self._ctx is not None:
                self._ctx.step("model", f"{item.name} {item.model.info.version} active")
            return
        if not isinstance(item, ImuBatch) or not len(item.samples):
            return
        if item.source is ImuSource.BODY:
            self._body(item, now_s)
            return
        samples, t0 = item.samples, item.t0_s
        if item.rate_hz != IMU_RATE_HZ:
            if not self._warned_rate:
                log.warning("band IMU at %s Hz: resampled to %s Hz", item.rate_hz, IMU_RATE_HZ)
                self._warned_rate = True
            times = item.t0_s + np.arange(len(item.samples)) / float(item.rate_hz)
            t0, samples = self._resampler.feed(times, item.samples)
            if not len(samples):
                return
        if self._period is None:
            self._period = _Period(started_s=now_s)
        for result in self.analyzer.feed(samples, t0):
            if isinstance(result, WindowResult):
                self._count(result.label)
            else:
                self._fall(result)

    def _count(self, label: str) -> None:
        """Seconds per class; a still stretch of REST_AFTER_S or more counts as rest."""
        assert self._period is not None
        secs = self._period.seconds
        dt = self.analyzer.hop / IMU_RATE_HZ
        if label == STILL:
            self._still_run_s += dt
            if self._still_run_s >= REST_AFTER_S:
                moved = min(self._run_in_period_s, secs.get(STILL, 0.0))
                if moved > 0:
                    secs[STILL] -= moved
                    secs[REST] = secs.get(REST, 0.0) + moved
                    if secs[STILL] <= 1e-9:
                        del secs[STILL]
                self._run_in_period_s = 0.0
                label = REST
            else:
                self._run_in_period_s += dt
        else:
            self._still_run_s = 0.0
            self._run_in_period_s = 0.0
        secs[label] = secs.get(label, 0.0) + dt

    def _fall(self, fall: FallDetected) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        ctx.step("fall detected", f"p={fall.confidence:.2f}, impact {fall.impact_g:.1f} g")
        model = self.analyzer.fall
        ctx.trigger(
            Trigger.FALL,
            fall.confidence,
            model=model.ref if model is not None else None,
            impact_g=fall.impact_g,
        )

    def _body(self, batch: ImuBatch, now_s: float) -> None:
        acc = batch.samples[:, :3].astype(np.float64).mean(axis=0)
        norm = float(np.linalg.norm(acc))
        upright = norm > 0.5 and acc[2] / norm >= BODY_TILT_COS
        if upright:
            self._tilted_since = None
            self._knocked_over = False
            return
        if self._tilted_since is None:
            self._tilted_since = now_s
        if not self._knocked_over and now_s - self._tilted_since >= BODY_TILT_S and self._ctx:
            self._knocked_over = True
            self._ctx.emit(
                EventType.DEVICE_FAULT,
                DeviceFaultPayload(
                    component="body", code="knocked_over", detail="the robot lies on its side"
                ),
            )

    def tick(self, now_s: float) -> None:
        """Every period, one `activity` event with minutes per class."""
        period = self._period
        ctx = self._ctx
        if period is None or ctx is None or now_s - period.started_s < self.period_s:
            return
        self._period = _Period(started_s=now_s)
        self._run_in_period_s = 0.0
        model = self.analyzer.activity
        if not period.seconds or model is None:
            return
        end = ctx.clock.now()
        start = end - timedelta(seconds=now_s - period.started_s)
        minutes = {k: round(v / 60.0, 2) for k, v in sorted(period.seconds.items())}
        ctx.emit(
            EventType.ACTIVITY,
            ActivityPayload(period_start=start, period_end=end, minutes=minutes),
            model=model.ref,
        )

    def on_command(self, command: Command) -> CommandResult | None:
        """`model_rollout` for the activity or fall model; other commands are not mine."""
        if command.type is not CommandType.MODEL_ROLLOUT or self._rollout is None:
            return None
        if str(command.payload.get("name")) not in (ACTIVITY, FALL):
            return None
        ok, detail = self._roll_out(command)
        return CommandResult(
            command_id=command.command_id,
            device_id=command.device_id,
            ts=self._now(),
            ok=ok,
            detail=detail[:500],
        )

    def _roll_out(self, command: Command) -> tuple[bool, str]:
        assert self._rollout is not None
        post: Callable[[object], None] = self._ctx.post if self._ctx else (lambda _item: None)
        with self._lock:  # one rollout at a time
            try:
                name, model, detail = self._rollout.run(command.payload)
            except (RolloutError, RolloutPayloadError) as e:
                log.warning("model rollout %s failed: %s", command.command_id, e)
                return False, str(e)
        post(ModelSwap(name, model))
        return True, detail

    def _now(self) -> datetime:
        return self._ctx.clock.now() if self._ctx else datetime.now(UTC)

    def self_tests(self) -> list[SelfTest]:
        """One self-test per model: ok with its version, or why it is missing."""
        tests: list[SelfTest] = []
        for name, model in ((ACTIVITY, self.analyzer.activity), (FALL, self.analyzer.fall)):
            if model is not None:
                tests.append(SelfTest(name=f"model.{name}", ok=True, detail=model.info.version))
            else:
                why = next((d for n, d in self._faults if n == name), "not loaded")
                tests.append(SelfTest(name=f"model.{name}", ok=False, detail=why[:200]))
        return tests

    def stop(self) -> None:
        """Nothing to close: rollouts run on the link's thread and finish with it."""
