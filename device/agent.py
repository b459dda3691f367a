"""The robot's agent: a thin coordinator with an explicit state; the stages do the work.

Audio runs in its own thread (source → VAD → ASR → intent); everything else runs on one
asyncio loop: the safety countdown, the outbox, heartbeats, commands from the cloud and the
pluggable stages (device.stages: hardware, perception, dialog). The safety loop always
comes first; a stage that raises is switched off and reported, and the robot keeps running.
"""

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import psutil

from device.audio.asr import AnswerKind
from device.audio.pipeline import Utterance
from device.audio.source import AudioChunk, AudioSource
from device.clock import Clock, SystemClock
from device.config import DeviceConfig
from device.dialog.answers import answer_like, resolve_yes_no
from device.dialog.intents import Intent
from device.errors import EventTooLargeError, OutboxError
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from device.safety.countdown import Action, Answer, Countdown, Raise, Say, Trigger
from device.safety.countdown import State as SafetyState
from device.safety.events import safety_event
from device.sensors import ButtonPress
from device.speech.prompts import render
from device.speech.tts import Speaker
from device.stages import Heard, Stage
from protocol import Command, CommandResult, CommandType, EventType
from protocol.envelope import ModelRef
from protocol.events import DeviceFaultPayload, HeartbeatPayload, Payload, Priority, SelfTest
from protocol.release import version

log = logging.getLogger(__name__)

AGENT_VERSION = version()  # the package metadata's, as `dolbom --version` and the cloud API say
ECHO_TAIL_S = 0.3  # the room's echo of the robot's own voice


class State(StrEnum):
    """The agent's life cycle."""

    STARTING = "starting"
    LISTENING = "listening"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Step:
    """One visible step of the agent's work, for the demo's timeline and for benchmarks."""

    name: str
    detail: str
    at_s: float
    stream_end_s: float | None = None  # for "heard": where the speech ended, in stream time


Observer = Callable[[Step], None]


class Ears(Protocol):
    """The listening stage (device.audio.pipeline.Listener): one utterance when one ends."""

    def process(self, chunk: AudioChunk) -> Utterance | None:
        """Take 32 ms of audio."""


@runtime_checkable
class AnsweringEars(Ears, Protocol):
    """Ears that can decode an expected answer with constrained recognition."""

    def expect(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """Expect an answer of this kind next (thread-safe)."""


_TRIGGERS = {
    Intent.HELP: Trigger.SPOKEN_HELP,
    Intent.FELL: Trigger.SPOKEN_FELL,
    Intent.PAIN: Trigger.SPOKEN_PAIN,
    Intent.CHECK: Trigger.CHECK,
    Intent.DISTRESS: Trigger.DISTRESS_SOUND,
}


class Agent:
    """Coordinates the stages of one robot."""

    def __init__(
        self,
        config: DeviceConfig,
        *,
        source: AudioSource,
        listener: Ears,
        speaker: Speaker,
        outbox: Outbox,
        link: MqttLink | None,
        observer: Observer | None = None,
        clock: Clock | None = None,
        stages: Sequence[Stage] = (),
        allows: Callable[[EventType], bool] | None = None,
        asr_check: Callable[[], tuple[bool, str]] | None = None,
    ) -> None:
        self.config = config
        self.state = State.STARTING
        self._source = source
        self._listener = listener
        self._speaker = speaker
        self._outbox = outbox
        self._link = link
        self._observer = observer
        self._clock = clock or SystemClock()
        self._countdown = Countdown(config.safety.countdown_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: asyncio.Queue[object] = asyncio.Queue()
        self._stages = list(stages)
        self._failed: dict[str, str] = {}  # stage name → why it was switched off
        # Consent (device.privacy.ConsentFilter.allows): which events may leave the robot.
        self._allows = allows or (lambda _event_type: True)
        # The recogniser's probe (SpeechRecognizer.self_test): every config.asr_check_every_s.
        self._asr_check = asr_check
        self._asr_result: tuple[bool, str] | None = None
        self._asr_checked_s = float("-inf")
        self.held_back = 0  # events a stage produced that consent kept on the robot
        self._audio_thread: threading.Thread | None = None
        self._audio_error: BaseException | None = None
        self._started_s = self._clock.monotonic()
        self._stopping = threading.Event()
        # Half duplex: the robot does not listen to itself (its prompts say "살려 주세요" too).
        self._speech: queue.Queue[str | None] = queue.Queue()
        self._speaking = threading.Event()
        self._deaf_until_s = 0.0

    # -- called from other threads -------------------------------------------------------
    def press_button(self) -> None:
        """The help button (the hardware layer calls this from its own thread)."""
        self._post(Trigger.BUTTON)

    def on_command(self, command: Command) -> CommandResult:
        """The link hands cloud commands here (from its network thread)."""
        if command.type is CommandType.ALERT_ACK:
            self._post(command)
            return self._result(command, ok=True)
        for stage in self._stages:
            if stage.name in self._failed:
                continue
            try:
                result = stage.on_command(command)
            except Exception as e:
                log.exception("stage %s failed on command %s", stage.name, command.type)
                return self._result(command, ok=False, detail=f"{stage.name} failed: {e}"[:500])
            if result is not None:
                return result
        detail = f"command {command.type} is not supported by agent {AGENT_VERSION}"
        return self._result(command, ok=False, detail=detail)

    def _result(self, command: Command, *, ok: bool, detail: str = "") -> CommandResult:
        return CommandResult(
            command_id=command.command_id,
            device_id=self.config.device_id,
            ts=self._clock.now(),
            ok=ok,
            detail=detail,
        )

    def _post(self, item: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._inbox.put_nowait, item)

    # -- the StageContext the stages see (device.stages) ------------------------------------
    @property
    def device_id(self) -> str:
        """This robot's id."""
        return self.config.device_id

    @property
    def language(self) -> str:
        """The robot's language."""
        return self.config.language

    @property
    def clock(self) -> Clock:
        """The agent's clock."""
        return self._clock

    @property
    def safety_active(self) -> bool:
        """A countdown runs, or help was called and nobody has acknowledged yet."""
        return self._countdown.state is not SafetyState.IDLE

    @property
    def outbox_pending(self) -> int:
        """Events written but not yet acknowledged by the broker (for drains and displays)."""
        return self._outbox.pending_count()

    @property
    def speaking(self) -> bool:
        """The robot is talking or has more to say."""
        return self._speaking.is_set() or not self._speech.empty()

    def emit(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> None:
        """Write an event durably and wake the link, unless consent holds its stream back."""
        if not self._allows(event_type):
            self.held_back += 1
            log.debug("%s held back: no consent for its stream", event_type)
            return
        try:
            env = self._outbox.append(
                event_type, payload, ts=self._clock.now(), priority=priority, model=model
            )
        except EventTooLargeError as e:  # a device_fault saying so was queued in its place
            self._emit_step("outbox", f"{event_type} refused: {e}")
            if self._link is not None:
                self._link.notify()
            return
        if event_type is not EventType.HEARTBEAT:
            self._emit_step("outbox", f"seq {env.seq} {event_type} ({env.priority}) written")
        if self._link is not None:
            self._link.notify()

    def say(self, text: str) -> None:
        """Queue a sentence for the speaker."""
        self._emit_step("robot says", text)
        self._speech.put(text)

    def trigger(
        self,
        trigger: Trigger,
        confidence: float = 1.0,
        *,
        model: ModelRef | None = None,
        impact_g: float | None = None,
    ) -> None:
        """Start the safety loop (from a stage, on the agent's loop)."""
        self._emit_step("trigger", str(trigger))
        now = self._clock.monotonic()
        self._act(self._countdown.trigger(trigger, now, confidence, model=model, impact_g=impact_g))

    def post(self, item: object) -> None:
        """Hand an item to every stage, from any thread."""
        self._post(item)

    def step(self, name: str, detail: str) -> None:
        """A visible step of a stage's work."""
        self._emit_step(name, detail)

    def expect_answer(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """Ask the ears for constrained recognition of the next answer, if they can."""
        if isinstance(self._listener, AnsweringEars):
            self._listener.expect(kind, options)

    def _tick_stages(self, now_s: float) -> None:
        self._each_stage("tick", lambda stage: stage.tick(now_s))

    def _each_stage(self, what: str, call: Callable[[Stage], object]) -> None:
        for stage in self._stages:
            if stage.name in self._failed:
                continue
            try:
                call(stage)
            except Exception as e:
                log.exception("stage %s failed in %s; switching it off", stage.name, what)
                self._failed[stage.name] = f"{what}: {e}"[:200]
                fault = DeviceFaultPayload(
                    component=stage.name, code="stage_failed", detail=self._failed[stage.name]
                )
                self.emit(EventType.DEVICE_FAULT, fault)

    # -- the loop -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; the outbox keeps whatever was not yet sent."""
        self._loop = asyncio.get_running_loop()
        if self._link is not None:
            self._link.start()
        self._audio_thread = threading.Thread(target=self._audio_loop, name="audio", daemon=True)
        self._audio_thread.start()
        speech_thread = threading.Thread(target=self._speech_loop, name="speech", daemon=True)
        speech_thread.start()
        self._each_stage("start", lambda stage: stage.start(self))
        self.state = State.LISTENING
        log.info("agent %s listening", self.config.device_id)
        next_heartbeat = self._clock.monotonic()
        try:
            while not stop.is_set():
                now = self._clock.monotonic()
                if now >= next_heartbeat:
                    self._heartbeat()
                    next_heartbeat = now + self.config.heartbeat_interval_s
                try:
                    item = await asyncio.wait_for(self._inbox.get(), timeout=0.1)
                except TimeoutError:
                    item = None
                if item is not None:
                    self._handle(item)
                now = self._clock.monotonic()
                self._act(self._countdown.tick(now))
                self._tick_stages(now)
                if self._audio_error is not None:
                    raise self._audio_error
        finally:
            self.state = State.STOPPING
            self._stopping.set()
            self._each_stage("stop", lambda stage: stage.stop())
            self._source.close()
            self._speech.put(None)
            if self._audio_thread is not None:
                await asyncio.to_thread(self._audio_thread.join, 2.0)
            if self._link is not None:
                await asyncio.to_thread(self._link.stop)
            self.state = State.STOPPED
            log.info("agent %s stopped", self.config.device_id)

    def _audio_loop(self) -> None:
        try:
            for chunk in self._source.chunks():
                if self._stopping.is_set():
                    return
                if self._speaking.is_set() or self._clock.monotonic() < self._deaf_until_s:
                    chunk = AudioChunk(np.zeros_like(chunk.samples), chunk.start_s)
                utterance = self._listener.process(chunk)
                if utterance is not None:
                    self._post(utterance)
        except Exception as e:  # reported on the agent's loop, not swallowed
            if not self._stopping.is_set():
                log.exception("audio pipeline failed")
                self._audio_error = e

    def _handle(self, item: object) -> None:
        now = self._clock.monotonic()
        if isinstance(item, Utterance):
            safety = self._hear(item, now)
            if not item.early:
                heard = Heard(item, safety=safety)
                self._each_stage("handle", lambda stage: stage.handle(heard, now))
        elif isinstance(item, Command):
            who = str(item.payload.get("by", "")) or (
                "보호자" if self.config.language == "ko" else "Your caregiver"
            )
            self._emit_step("acknowledged", f"by {who}")
            self._act(self._countdown.acknowledged(who))
        elif isinstance(item, Trigger):
            self.trigger(item)
        else:
            if isinstance(item, ButtonPress):
                self.trigger(Trigger.BUTTON)
            self._each_stage("handle", lambda stage: stage.handle(item, now))

    def _hear(self, item: Utterance, now: float) -> bool:
        """The safety loop's part of an utterance; True when it acted on it."""
        kind = "early, partial: " if item.early else ""
        self._emit_step(
            "heard",
            f"{kind}{item.text!r} ({item.start_s:.2f}-{item.end_s:.2f} s) → {item.intent} "
            f"{item.confidence:.2f}",
            stream_end_s=item.end_s,
        )
        if item.reported_early:
            return True  # this segment's call for help already acted on
        return self._safety_answer(item, now)

    def _safety_answer(self, item: Utterance, now: float) -> bool:
        """What an utterance means to the safety loop (True when the loop acted on it)."""
        trigger = _TRIGGERS.get(item.intent)
        asking = self._countdown.state is SafetyState.ASKING
        short = answer_like(item.text, item.duration_s)
        if trigger is not None:
            sound = item.sound.label if item.sound is not None else None
            self._act(self._countdown.trigger(trigger, now, item.confidence, sound=sound))
            if self._countdown.asking_for_help:
                self.expect_answer(AnswerKind.YES_NO)
            return True
        if item.intent is Intent.FINE and short:
            self._act(self._countdown.heard(Answer.FINE, now))
            return asking
        if asking and self._countdown.asking_for_help and short:
            yes = resolve_yes_no(item.text, item.answer_text, self.config.language)
            if yes is None and item.intent in (Intent.YES, Intent.NO):
                yes = item.intent is Intent.YES
            if yes is not None:
                self._act(self._countdown.heard(Answer.YES if yes else Answer.NO, now))
                return True
        self._act(self._countdown.heard(Answer.OTHER, now))
        return asking

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Raise):
                self._raise(action)
            elif isinstance(action, Say):
                self.say(render(action.prompt, self.config.language, **dict(action.values)))

    def _speech_loop(self) -> None:
        """Say prompts one after another; the ears hear silence meanwhile and briefly after."""
        while (text := self._speech.get()) is not None:
            self._speaking.set()
            try:
                self._speaker.say(text, self.config.language)
            finally:
                self._deaf_until_s = self._clock.monotonic() + ECHO_TAIL_S
                self._speaking.clear()

    def _raise(self, decision: Raise) -> None:
        event_type, payload, priority = safety_event(
            decision, self._clock.now(), self.config.language
        )
        self._emit_step("countdown", f"{decision.trigger} → {decision.outcome}")
        env = self._outbox.append(
            event_type, payload, ts=self._clock.now(), priority=priority, model=decision.model
        )
        self._emit_step("outbox", f"seq {env.seq} {event_type} ({priority}) written")
        if self._link is not None:
            self._link.notify()

    def _asr_self_test(self, now_s: float) -> SelfTest | None:
        """The recogniser decodes its committed probe (every config.asr_check_every_s; ~60 ms)."""
        if self._asr_check is None:
            return None  # ears without a recogniser (typed words, test fakes): nothing to test
        if self._asr_result is None or now_s - self._asr_checked_s >= self.config.asr_check_every_s:
            try:
                self._asr_result = self._asr_check()
            except Exception as e:  # a probe that raises is a failed probe, not a dead agent
                log.exception("the recogniser's self-test raised")
                self._asr_result = (False, f"self-test raised: {e}")
            self._asr_checked_s = now_s
        ok, detail = self._asr_result
        return SelfTest(name="asr", ok=ok, detail=detail[:200])

    def _outbox_self_test(self) -> SelfTest:
        """The store takes a durable write, and what waits to be sent is neither too much
        nor too old (OutboxLimits.max_pending_age_s, the pruning caps)."""
        try:
            health = self._outbox.health(self._clock.now())
        except OutboxError as e:
            return SelfTest(name="outbox", ok=False, detail=str(e)[:200])
        return SelfTest(name="outbox", ok=health.ok, detail=health.detail[:200])

    def _heartbeat(self) -> None:
        tests = [
            SelfTest(name="audio", ok=self._audio_error is None),
            self._outbox_self_test(),
        ]
        asr = self._asr_self_test(self._clock.monotonic())
        if asr is not None:
            tests.insert(0, asr)
        if self._link is not None:
            tests.append(SelfTest(name="mqtt", ok=self._link.connected))
        self._each_stage("self_tests", lambda stage: tests.extend(stage.self_tests()))
        tests.extend(
            SelfTest(name=name, ok=False, detail=why) for name, why in self._failed.items()
        )
        payload = HeartbeatPayload(
            uptime_s=round(self._clock.monotonic() - self._started_s, 1),
            agent_version=AGENT_VERSION,
            outbox_pending=self._outbox.pending_count(),
            self_tests=tests,
            rss_mb=round(psutil.Process().memory_info().rss / 2**20, 1),
        )
        self._outbox.append(EventType.HEARTBEAT, payload, ts=self._clock.now())
        if self._link is not None:
            self._link.notify()

    def _emit_step(self, name: str, detail: str, stream_end_s: float | None = None) -> None:
        log.info("%s: %s", name, detail)
        if self._observer is not None:
            self._observer(Step(name, detail, self._clock.monotonic(), stream_end_s))
