"""The motion stage: activity minutes and falls from the wrist band, knocks from the body IMU.

`MotionAnalyzer` is the pure part (windows in, results out; no clock, no I/O): it keeps the
last four seconds of band samples and, every second, runs the activity model on the last
two seconds and the fall detector on the last four. `MotionStage` plugs it into the agent:
a fall starts the safety loop's "are you OK?" countdown, and every period an `activity`
event reports minutes per class with the model that made them.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from device.config import DeviceConfig
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
ACTIVITY_EXPECT = Expect(
    dtype="float32",
    shape=(None, None, 6),
    columns=IMU_COLUMNS,
    sample_rate_hz=IMU_RATE_HZ,
    labels=("lying", "sitting", "standing", "walking", "transition"),
    fixed=(1,),  # the window length
)
FALL_EXPECT = Expect(
    dtype="float32",
    shape=(None, None, 6),
    columns=IMU_COLUMNS,
    sample_rate_hz=IMU_RATE_HZ,
    labels=("fall",),
    fixed=(1,),
)
GAP_S = 0.25  # a longer hole in the band's stream starts the windows afresh
BODY_TILT_COS = 0.5  # the robot lies on its side: gravity more than 60° off its upright axis
BODY_TILT_S = 3.0


@dataclass(frozen=True)
class WindowResult:
    """The activity model's answer for one window."""

    start_s: float
    label: str
    scores: dict[str, float]


@dataclass(frozen=True)
class FallDetected:
    """The fall detector fired; `t_s` is about when the impact happened."""

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
    """Windows the band's samples and runs the models; pure apart from the models themselves."""

    def __init__(self, activity: OnnxModel | None, fall: OnnxModel | None) -> None:
        self.activity = activity
        self.fall = fall
        self._buf = np.zeros((0, 6), dtype=np.float32)
        self._buf_t0 = 0.0  # time of the first sample in the buffer
        self._next_t = 0.0  # when the next sample is expected
        self._since_hop = 0
        self._last_alarm_s = -np.inf
        self._configure()

    def _configure(self) -> None:
        self.act_window = _window_len(self.activity) if self.activity else 0
        self.fall_window = _window_len(self.fall) if self.fall else 0
        decision = self.fall.info.decision if self.fall else {}
        self.threshold = float(decision.get("threshold", 0.5))
        self.refractory_s = float(decision.get("refractory_s", 30.0))
        bucket = decision.get("impact_bucket", [50, 100])
        self.impact_offset = (int(bucket[0]) + int(bucket[1])) // 2
        hops = [
            int(m.info.decision.get("hop", 50)) for m in (self.activity, self.fall) if m is not None
        ]
        self.hop = min(hops) if hops else 50
        self.keep = max(self.act_window, self.fall_window, 1)

    def replace(self, name: str, model: OnnxModel) -> None:
        """Swap in a new version of a model (the buffer is kept)."""
        if name == ACTIVITY:
            self.activity = model
        elif name == FALL:
            self.fall = model
        self._configure()

    def feed(self, samples: np.ndarray, t0_s: float) -> list[WindowResult | FallDetected]:
        """Take consecutive samples starting at `t0_s`; return what the windows showed."""
        if samples.ndim != 2 or samples.shape[1] != 6:
            raise ValueError(f"IMU samples must be (n, 6), not {samples.shape}")
        if not len(self._buf) or abs(t0_s - self._next_t) > GAP_S:
            self._buf = np.zeros((0, 6), dtype=np.float32)
            self._buf_t0 = t0_s
            self._since_hop = 0
        out: list[WindowResult | FallDetected] = []
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

    def _append(self, chunk: np.ndarray) -> None:
        buf = np.concatenate([self._buf, chunk])
        drop = max(0, len(buf) - self.keep)
        self._buf = buf[drop:]
        self._buf_t0 += drop / IMU_RATE_HZ

    def _run_windows(self) -> list[WindowResult | FallDetected]:
        out: list[WindowResult | FallDetected] = []
        end_t = self._buf_t0 + len(self._buf) / IMU_RATE_HZ
        if self.activity is not None and len(self._buf) >= self.act_window:
            window = self._buf[-self.act_window :]
            scores = self.activity.scores(window[None])[0]
            labels = self.activity.info.labels
            best = int(np.argmax(scores))
            out.append(
                WindowResult(
                    start_s=round(end_t - self.act_window / IMU_RATE_HZ, 3),
                    label=labels[best],
                    scores={lab: round(float(s), 4) for lab, s in zip(labels, scores, strict=True)},
                )
            )
        if self.fall is not None and len(self._buf) >= self.fall_window:
            window = self._buf[-self.fall_window :]
            scores = self.fall.scores(window[None])[0]
            p = float(scores[self.fall.info.labels.index(FALL)])
            start_t = end_t - self.fall_window / IMU_RATE_HZ
            if p >= self.threshold and start_t - self._last_alarm_s >= self.refractory_s:
                self._last_alarm_s = start_t
                amag = np.linalg.norm(window[:, :3], axis=1)
                out.append(
                    FallDetected(
                        t_s=round(start_t + int(np.argmax(amag)) / IMU_RATE_HZ, 3),
                        confidence=round(p, 4),
                        impact_g=round(float(amag.max()), 2),
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
        if item.rate_hz != IMU_RATE_HZ:
            if not self._warned_rate:
                log.error(
                    "band IMU at %s Hz; the models need %s Hz: ignored", item.rate_hz, IMU_RATE_HZ
                )
                self._warned_rate = True
            return
        if self._period is None:
            self._period = _Period(started_s=now_s)
        for result in self.analyzer.feed(item.samples, item.t0_s):
            if isinstance(result, WindowResult):
                secs = self._period.seconds
                secs[result.label] = secs.get(result.label, 0.0) + self.analyzer.hop / IMU_RATE_HZ
            else:
                self._fall(result)

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
