"""The companion as one of the agent's stages: feeds it, speaks for it, remembers for it.

Everything the companion decides is pure (device.dialog.companion); this stage is the thin
I/O around it: it turns `Heard`, `Touch` and `Presence` into calls with the senior's local
time, says the lines with `ctx.say`, writes the events with `ctx.emit`, keeps the state and
the schedule in the data dir (a reboot keeps both), keeps transcripts on the robot for
`transcript_retention_h` at most, and stays silent while the safety loop runs.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from device.audio.asr import AnswerKind
from device.audio.pipeline import Utterance
from device.config import DeviceConfig
from device.content.library import ContentError, ContentLibrary, load_library
from device.dialog.actions import Action, Emit, Expectation, Say, Speech
from device.dialog.answers import answer_like, resolve_yes_no
from device.dialog.companion import Companion, CompanionSettings
from device.dialog.intents import SAFETY_INTENTS, Intent, match_intent
from device.dialog.screening import Plan
from device.dialog.store import DialogStore, DialogStoreError
from device.dialog.transcripts import TranscriptLog
from device.privacy import TRANSCRIPTS_DIR
from device.sensors import Presence, Touch
from device.stages import Heard, StageContext
from protocol import Command, CommandResult, CommandType, ProtocolError
from protocol.commands import SayMessagePayload, SchedulePayload
from protocol.events import SelfTest

log = logging.getLogger(__name__)

TICK_EVERY_S = 0.5
ANSWER_INTENTS = frozenset({Intent.YES, Intent.NO, Intent.DONE, Intent.NOT_YET})
"""Intents that answer the robot: a long sentence (a television) never carries one."""
SAVE_EVERY_S = 30.0
PURGE_EVERY_S = 600.0


@dataclass(frozen=True)
class ScheduleUpdate:
    """A validated schedule, posted from the link's thread to the agent's loop."""

    schedule: SchedulePayload


@dataclass(frozen=True)
class MessageArrived:
    """A caregiver's validated message, posted from the link's thread to the agent's loop."""

    message: SayMessagePayload


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProtocolError(f"timezone {name!r} is not a known time zone") from None


class DialogStage:
    """Greetings, check-ins, reminders, screening and content, as a stage of the agent."""

    name = "dialog"

    def __init__(self, config: DeviceConfig, library: ContentLibrary) -> None:
        self.config = config
        self.library = library
        self.store = DialogStore(config.data_dir / "dialog")
        retention = timedelta(hours=config.dialog.transcript_retention_h)
        # <data_dir>/transcripts/ is what a `data_deletion` command wipes (device.privacy).
        self.transcripts = TranscriptLog(
            config.data_dir / TRANSCRIPTS_DIR / "dialog.jsonl", retention
        )
        self.companion = Companion(
            CompanionSettings.from_config(config.dialog, config.language), library
        )
        self.tz = _zone(config.dialog.timezone)
        self._ctx: StageContext | None = None
        self._last_tick_s: float | None = None
        self._last_save_s = 0.0
        self._last_purge_s = 0.0
        self._dirty = False
        self._errors: list[str] = []
        self.content_error: str | None = None  # an extra content pack that did not load
        self._expected: Expectation | None = None  # what the ears were last asked for

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "DialogStage":
        """The shipped content packs plus `[dialog] content_dirs`.

        A broken extra pack must not keep the robot (and its safety loop) from starting: the
        shipped packs are used alone and the heartbeat's self-test names the problem.
        """
        extra = [Path(d) for d in config.dialog.content_dirs]
        try:
            return cls(config, load_library(extra))
        except ContentError as e:
            log.error("extra content not loaded, using the shipped packs only: %s", e)
            stage = cls(config, load_library())
            stage.content_error = f"extra content not loaded: {e}"
            return stage

    # -- the Stage protocol -------------------------------------------------------------------
    def start(self, ctx: StageContext) -> None:
        """Restore the companion's memory and the last schedule; purge old transcripts."""
        self._ctx = ctx
        if ctx.language != self.companion.language:
            settings = CompanionSettings.from_config(self.config.dialog, ctx.language)
            self.companion = Companion(settings, self.library)
        state = self.store.load_state()
        if state is not None:
            try:
                self.companion.load(state)
            except (KeyError, TypeError, ValueError, ValidationError, ProtocolError) as e:
                log.error("dialog state not restored (%s); starting fresh", e)
                self.store.set_aside_state(type(e).__name__)
                settings = CompanionSettings.from_config(self.config.dialog, ctx.language)
                self.companion = Companion(settings, self.library)  # nothing half-restored
        schedule = self.store.load_schedule()
        if schedule is not None:
            self._apply(schedule)
        self.transcripts.purge(self._now())

    def handle(self, item: object, now_s: float) -> None:
        """Heard words, a touch, presence, or a new schedule."""
        now = self._now()
        safety = self._ctx is not None and self._ctx.safety_active
        if not safety:
            self.companion.paused = False  # the safety loop is over (ticks may not have run yet)
        actions: list[Action]
        if isinstance(item, Heard):
            self._expected = None  # the ears' expectation lapses with each utterance
            speech = self._speech(item.utterance)
            self._keep("senior", speech.text, now)
            if item.safety or safety:  # the safety loop has the floor: count it, never answer
                self._act(self.companion.heard_for_safety(speech, now), now)
                self._dirty = True
                return
            actions = self.companion.heard(speech, now)
        elif isinstance(item, Touch):
            if safety:
                self.companion.noticed(now)
                return
            actions = self.companion.touched(item.kind, now)
        elif isinstance(item, Presence):
            actions = self.companion.presence(item.present, now)
        elif isinstance(item, ScheduleUpdate):
            self._apply(item.schedule)
            actions = []
        elif isinstance(item, MessageArrived):
            actions = self.companion.message(item.message, now)
            self._act(actions, now)
            self.save()  # queued on disk at once: a reboot must not lose it unsaid
            return
        else:
            return
        self._dirty = True
        self._act(actions, now)
        self._expect()

    def tick(self, now_s: float) -> None:
        """Twice a second: the companion's clocks; the state saved and transcripts purged."""
        if self._ctx is None:
            return
        if self._last_tick_s is not None and now_s - self._last_tick_s < TICK_EVERY_S:
            return
        self._last_tick_s = now_s
        now = self._now()
        ctx = self._ctx
        actions = self.companion.tick(now, speaking=ctx.speaking, safety_active=ctx.safety_active)
        if actions:
            self._dirty = True
        self._act(actions, now)
        self._expect()
        if self._dirty and now_s - self._last_save_s >= SAVE_EVERY_S:
            self.save()
            self._last_save_s = now_s
        if now_s - self._last_purge_s >= PURGE_EVERY_S:
            self._last_purge_s = now_s
            self.transcripts.purge(now)

    def on_command(self, command: Command) -> CommandResult | None:
        """`schedule` (and `settings` with a `dialog` part): reminders and screenings;
        `say_message`: a caregiver's message, said at a good moment."""
        if command.type is CommandType.SAY_MESSAGE:
            return self._message_command(command)
        if command.type is CommandType.SCHEDULE:
            raw = command.payload
        elif command.type is CommandType.SETTINGS and isinstance(
            command.payload.get("dialog"), dict
        ):
            raw = command.payload["dialog"]
        else:
            return None
        try:
            schedule = SchedulePayload.model_validate(raw)
            if schedule.timezone is not None:
                _zone(schedule.timezone)
            for spec in schedule.screenings or []:
                Plan.from_spec(spec)
            self.store.merge_schedule(schedule)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            return self._result(command, False, f"bad schedule: {where}: {first['msg']}")
        except (ProtocolError, DialogStoreError) as e:
            return self._result(command, False, f"bad schedule: {e}")
        if self._ctx is not None:
            self._ctx.post(ScheduleUpdate(schedule))
        reminders = "kept" if schedule.reminders is None else str(len(schedule.reminders))
        screenings = "kept" if schedule.screenings is None else str(len(schedule.screenings))
        return self._result(
            command, True, f"schedule: reminders {reminders}, screenings {screenings}"
        )

    def _message_command(self, command: Command) -> CommandResult:
        try:
            message = SayMessagePayload.model_validate(command.payload)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            return self._result(command, False, f"bad message: {where}: {first['msg']}")
        if self._ctx is not None:
            self._ctx.post(MessageArrived(message))
        return self._result(command, True, f"message {message.message_id} queued")

    def self_tests(self) -> list[SelfTest]:
        """Content loaded, the state writable."""
        reminders = len(self.companion.reminders.reminders)
        detail = f"{reminders} reminders, {len(self.library)} content items"
        problem = self._errors[-1] if self._errors else self.content_error
        if problem:
            return [SelfTest(name="dialog", ok=False, detail=problem[:200])]
        return [SelfTest(name="dialog", ok=True, detail=detail)]

    def stop(self) -> None:
        """Save the state."""
        self.save()

    # -- helpers ------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the companion's state (a failure is reported in the next heartbeat)."""
        try:
            self.store.save_state(self.companion.to_dict())
            self._dirty = False
            self._errors.clear()
        except DialogStoreError as e:
            log.error("%s", e)
            self._errors.append(str(e))

    def _now(self) -> datetime:
        clock_now = self._ctx.clock.now() if self._ctx is not None else datetime.now(UTC)
        return clock_now.astimezone(self.tz)

    def _apply(self, schedule: SchedulePayload) -> None:
        if schedule.timezone:
            try:
                self.tz = _zone(schedule.timezone)
            except ProtocolError as e:
                log.error("%s; keeping %s", e, self.tz)
        try:
            self.companion.set_schedule(schedule)
        except ProtocolError as e:
            log.error("schedule not applied: %s", e)
        self._dirty = True

    def _expect(self) -> None:
        """Ask the ears for constrained recognition of the answer the floor waits for."""
        wanted = self.companion.expecting()
        if wanted == self._expected or self._ctx is None:
            return
        self._expected = wanted
        kind = None if wanted is None else AnswerKind(wanted.kind)
        self._ctx.expect_answer(kind, wanted.options if wanted else ())

    def _speech(self, utterance: Utterance) -> Speech:
        language = self.companion.language
        intent = utterance.intent
        if intent not in SAFETY_INTENTS or intent is Intent.FINE:
            intent = match_intent(utterance.text, language=language).intent
        if intent is Intent.NONE and utterance.answer_kind is AnswerKind.YES_NO:
            yes = resolve_yes_no(utterance.text, utterance.answer_text, language)
            if yes is not None:  # "네" lost by the free recogniser, caught by the grammar
                intent = Intent.YES if yes else Intent.NO
        duration = max(0.0, utterance.end_s - utterance.start_s)
        if intent in ANSWER_INTENTS and not answer_like(utterance.text, duration):
            intent = Intent.NONE  # a long sentence (a television?) answers nothing
        return Speech(utterance.text, intent, duration, utterance.answer_text)

    def _keep(self, who: str, text: str, now: datetime) -> None:
        if self.config.dialog.keep_transcripts and text:
            self.transcripts.add(who, text, now)

    def _act(self, actions: list[Action], now: datetime) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        emitted = False
        for action in actions:
            if isinstance(action, Say):
                if ctx.safety_active:
                    continue  # the safety loop has the floor
                self._keep("robot", action.text, now)
                ctx.say(action.text)
            elif isinstance(action, Emit):
                ctx.emit(action.type, action.payload)
                emitted = True
        if emitted:
            # The event is in the outbox now; the state that settled it must be on disk too,
            # or a power cut re-opens it (a confirmed medicine asked for again, then "missed").
            self.save()

    def _result(self, command: Command, ok: bool, detail: str) -> CommandResult:
        now = self._ctx.clock.now() if self._ctx is not None else datetime.now(UTC)
        return CommandResult(
            command_id=command.command_id,
            device_id=self.config.device_id,
            ts=now,
            ok=ok,
            detail=detail[:500],
        )
