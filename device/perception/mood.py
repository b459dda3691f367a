"""The mood stage: each utterance's emotion (words) and arousal (voice), a `mood` event per period.

On every final utterance (`Heard`) with words, the stage computes on a worker thread — so the
agent's loop, and with it the safety loop, never waits for it:
- the class scores and valence of the transcript (device.perception.emotion),
- the voice's prosody and arousal (device.perception.voice) from `Utterance.samples`,
and posts a `MoodObservation` with `ctx.post` for any stage that wants it (the dialog may
answer more kindly). Calls for help (`Heard.safety`) count too — distress is a data point —
but only after the safety loop has acted on them (the agent hands stages an utterance after
its own safety step), and they never teach the arousal baseline what "ordinary" sounds like.

Every `period_s` the observations are summarised into one `mood` event: the share of each
class, the mean valence and arousal, and how many utterances. The words, the audio and the
per-utterance results never leave the robot.

No model (missing, corrupt, wrong feature spec, failed self-test): the stage reports a
`device_fault` once, fails its heartbeat self-test and stays idle; the robot keeps running.
A `model_rollout` command naming `emotion` installs a new version through
device.perception.rollout (sha256, self-test, atomic swap, rollback) and swaps it in on the
agent's loop.
"""

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from device.audio.pipeline import Utterance
from device.config import DeviceConfig
from device.perception.emotion import EXPECT, MODEL_NAME, EmotionModel
from device.perception.emotion_text import LABELS
from device.perception.loader import SHIPPED_DIR, ModelLoadError
from device.perception.rollout import (
    ModelStore,
    Rollout,
    RolloutError,
    RolloutPayloadError,
    atomic_write,
)
from device.perception.voice import ArousalScorer, Prosody, prosody
from device.stages import Heard, StageContext
from protocol import Command, CommandResult, CommandType, EventType
from protocol.events import DeviceFaultPayload, MoodPayload, SelfTest

log = logging.getLogger(__name__)

STAGE_NAME = "mood"
BASELINE_FILE = "voice_baseline.json"


@dataclass(frozen=True)
class MoodObservation:
    """One utterance's fused mood; posted to the other stages, never sent anywhere."""

    start_s: float  # the utterance, in stream seconds
    end_s: float
    heard_at_s: float  # the agent's monotonic clock when the stage got it
    label: str  # the text's class
    scores: dict[str, float]
    valence: float  # from the text, [-1, 1]
    arousal: float | None  # from the voice, [-1, 1]; None without usable audio
    safety: bool  # the safety loop acted on this utterance
    prosody: Prosody | None = None


@dataclass(frozen=True)
class EmotionModelSwap:
    """A rolled-out emotion model replaces the running one (posted to the agent's loop)."""

    model: EmotionModel


@dataclass(frozen=True)
class _Job:
    utterance: Utterance
    safety: bool
    now_s: float


class MoodStage:
    """Emotion from words and voice; a periodic `mood` summary event."""

    name = STAGE_NAME

    def __init__(
        self,
        model: EmotionModel | None,
        *,
        period_s: float = 1800.0,
        use_voice: bool = True,
        threaded: bool = True,
        load_error: str | None = None,
        rollout: Rollout | None = None,
        baseline_path: Path | None = None,
    ) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self.model = model
        self.period_s = period_s
        self.use_voice = use_voice
        self.threaded = threaded
        self.load_error = load_error if model is None else None
        if model is None and self.load_error is None:
            self.load_error = "no emotion model"
        self.baseline_path = baseline_path
        self.arousal = _load_baseline(baseline_path)
        self._arousal_lock = threading.Lock()
        self._rollout = rollout
        self._rollout_lock = threading.Lock()
        self._ctx: StageContext | None = None
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=64)
        self._worker: threading.Thread | None = None
        self._window: list[MoodObservation] = []
        self._window_start_s: float | None = None
        self._window_start: datetime | None = None
        self._dropped = 0

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "MoodStage":
        """The stage with the newest emotion model of the configured folder (or none, reported)."""
        perception = config.perception
        shipped = Path(perception.models_dir) if perception.models_dir else SHIPPED_DIR
        store = ModelStore(config.data_dir / "models", shipped, threads=perception.threads)
        model: EmotionModel | None = None
        error = None
        try:
            model = EmotionModel(store.load(MODEL_NAME, EXPECT))
        except ModelLoadError as e:
            log.error("emotion model unavailable, mood stage idle: %s", e)
            error = str(e)
        rollout = Rollout(
            store,
            {MODEL_NAME: EXPECT},
            cloud_url=perception.cloud_url,
            ca_file=perception.cloud_ca_file,
            timeout_s=perception.rollout_timeout_s,
            max_bytes=perception.rollout_max_bytes,
        )
        return cls(
            model,
            period_s=perception.mood_period_s,
            use_voice=perception.mood_voice,
            load_error=error,
            rollout=rollout,
            baseline_path=config.data_dir / "mood" / BASELINE_FILE,
        )

    # -- Stage -----------------------------------------------------------------------------
    def start(self, ctx: StageContext) -> None:
        """Open the first period; report a missing model; start the worker."""
        self._ctx = ctx
        self._window_start_s = ctx.clock.monotonic()
        self._window_start = ctx.clock.now()
        if self.model is None:
            detail = (self.load_error or "no emotion model")[:200]
            ctx.emit(
                EventType.DEVICE_FAULT,
                DeviceFaultPayload(
                    component="emotion_model", code="model_unavailable", detail=detail
                ),
            )
            return
        if self.threaded:
            self._worker = threading.Thread(target=self._work, name="mood", daemon=True)
            self._worker.start()

    def handle(self, item: object, now_s: float) -> None:
        """Queue each utterance with words; collect the observations the worker posts back."""
        if isinstance(item, MoodObservation):
            self._window.append(item)
        elif isinstance(item, EmotionModelSwap):
            self._swap(item.model)
        elif isinstance(item, Heard) and self.model is not None:
            if not item.utterance.text.strip():
                return  # no words: nothing for the text model, and silence is not a mood
            job = _Job(item.utterance, item.safety, now_s)
            if not self.threaded:
                self._post(self._observe(job))
                return
            try:
                self._jobs.put_nowait(job)
            except queue.Full:
                self._dropped += 1  # the robot is overloaded: losing one mood sample is fine
                log.warning("mood stage busy, %d utterance(s) skipped", self._dropped)

    def tick(self, now_s: float) -> None:
        """Emit the period's summary when the period is over."""
        if self._ctx is None or self._window_start_s is None:
            return
        if now_s - self._window_start_s < self.period_s:
            return
        self.flush(now_s)

    def flush(self, now_s: float) -> None:
        """Emit the summary of the observations so far (if any) and start a new period."""
        if self._ctx is None or self._window_start is None:
            return
        end = self._ctx.clock.now()
        payload = summarize(self._window, self._window_start, end)
        if payload is not None and self.model is not None:
            self._ctx.emit(EventType.MOOD, payload, model=self.model.ref)
        self._window = []
        self._window_start_s = now_s
        self._window_start = end
        self.save_baseline()

    def save_baseline(self) -> None:
        """Keep what was learnt of the senior's voice across restarts (on the robot only)."""
        if self.baseline_path is None:
            return
        with self._arousal_lock:
            state = self.arousal.state()
        try:
            atomic_write(self.baseline_path, (json.dumps(state) + "\n").encode())
        except OSError as e:
            log.warning("cannot save the voice baseline to %s: %s", self.baseline_path, e)

    def on_command(self, command: Command) -> CommandResult | None:
        """`model_rollout` of the emotion model (on the link's thread); other commands: not mine."""
        if command.type is not CommandType.MODEL_ROLLOUT or self._rollout is None:
            return None
        if str(command.payload.get("name")) != MODEL_NAME:
            return None
        ok, detail = self._roll_out(command)
        now = self._ctx.clock.now() if self._ctx is not None else datetime.now(UTC)
        return CommandResult(
            command_id=command.command_id,
            device_id=command.device_id,
            ts=now,
            ok=ok,
            detail=detail[:500],
        )

    def _roll_out(self, command: Command) -> tuple[bool, str]:
        assert self._rollout is not None
        store = self._rollout.store
        post: Callable[[object], None] = self._ctx.post if self._ctx else (lambda _item: None)
        with self._rollout_lock:  # one rollout at a time
            previous = store.current_version(MODEL_NAME)
            try:
                _name, onnx_model, detail = self._rollout.run(command.payload)
            except (RolloutError, RolloutPayloadError) as e:
                log.warning("emotion model rollout %s failed: %s", command.command_id, e)
                return False, str(e)
            try:
                model = EmotionModel(onnx_model)
            except ModelLoadError as e:  # e.g. trained with another feature spec
                store.set_active(MODEL_NAME, previous, None)
                return False, f"rejected and rolled back to {previous or 'shipped'}: {e}"
        post(EmotionModelSwap(model))
        return True, detail

    def _swap(self, model: EmotionModel) -> None:
        if self._ctx is not None and self._window:
            self.flush(self._ctx.clock.monotonic())  # one event never mixes two models
        self.model = model
        self.load_error = None
        if self._ctx is not None:
            self._ctx.step("model", f"{model.ref.name} {model.ref.version} active")
            if self.threaded and self._worker is None:
                self._worker = threading.Thread(target=self._work, name="mood", daemon=True)
                self._worker.start()

    def self_tests(self) -> list[SelfTest]:
        """The emotion model is loaded (and its committed test vector still gives its output)."""
        if self.model is None:
            return [SelfTest(name="emotion_model", ok=False, detail=(self.load_error or "")[:200])]
        try:
            self.model.self_test()
        except ModelLoadError as e:
            return [SelfTest(name="emotion_model", ok=False, detail=str(e)[:200])]
        return [
            SelfTest(
                name="emotion_model",
                ok=True,
                detail=f"{self.model.ref.name} {self.model.ref.version}",
            )
        ]

    def stop(self) -> None:
        """Stop the worker (what it had not done yet is dropped: it is only mood)."""
        if self._worker is not None:
            while True:
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
            self._jobs.put(None)
            self._worker.join(timeout=2.0)
            self._worker = None
        self.save_baseline()

    # -- work ------------------------------------------------------------------------------
    def _post(self, observation: MoodObservation | None) -> None:
        if observation is not None and self._ctx is not None:
            self._ctx.post(observation)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._post(self._observe(job))
            except Exception:  # one bad utterance must not end the stage's worker
                log.exception("mood analysis of one utterance failed")

    def _observe(self, job: _Job) -> MoodObservation | None:
        model = self.model
        if model is None:
            return None
        utt = job.utterance
        prediction = model.predict(utt.text)
        features: Prosody | None = None
        arousal: float | None = None
        if self.use_voice and utt.samples is not None and len(utt.samples) > 0:
            features = prosody(np.asarray(utt.samples))
            if features is not None and features.voiced_share > 0:
                with self._arousal_lock:
                    arousal = self.arousal.score(features)
                    if not job.safety:
                        self.arousal.update(features)
        return MoodObservation(
            start_s=utt.start_s,
            end_s=utt.end_s,
            heard_at_s=job.now_s,
            label=prediction.label,
            scores=prediction.scores,
            valence=prediction.valence,
            arousal=arousal,
            safety=job.safety,
            prosody=features,
        )


def _load_baseline(path: Path | None) -> ArousalScorer:
    if path is None:
        return ArousalScorer()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ArousalScorer()
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable voice baseline %s: %s", path, e)
        return ArousalScorer()
    return ArousalScorer.from_state(raw)


def summarize(
    observations: list[MoodObservation], start: datetime, end: datetime
) -> MoodPayload | None:
    """One period's `mood` payload: class shares, mean valence and arousal, utterance count.

    None when nobody spoke. Arousal is the mean over utterances with usable audio (0 when none
    had any). Only numbers and labels: no words.
    """
    if not observations:
        return None
    n = len(observations)
    shares = {
        label: round(sum(1 for o in observations if o.label == label) / n, 4) for label in LABELS
    }
    valence = float(np.mean([o.valence for o in observations]))
    voiced = [o.arousal for o in observations if o.arousal is not None]
    arousal = float(np.mean(voiced)) if voiced else 0.0
    return MoodPayload(
        period_start=start,
        period_end=max(end, start),
        shares=shares,
        valence=round(max(-1.0, min(1.0, valence)), 4),
        arousal=round(max(-1.0, min(1.0, arousal)), 4),
        utterances=n,
    )
