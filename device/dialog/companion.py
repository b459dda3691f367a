"""The companion: who holds the floor, what to start when, and what never to do.

A pure state machine over local, timezone-aware datetimes. It takes what the senior said
(already understood), touches, presence and the passing of time, and returns what to say and
which events to send. One activity holds the floor at a time (a reminder's question, the
check-in, a screening, a story...); when nothing does and the senior is around, it starts
the most important thing due: a reminder, a greeting (and the day's check-in), a screening,
the check-in, or, when the senior has been idle a while, an offer of content.

Never nagging: nothing proactive while the senior is away, while a conversation is going on,
during quiet hours (a reminder only if the senior is plainly awake), or for an hour after
"그만". The safety loop always wins: `tick(..., safety_active=True)` stops everything at once
and keeps the robot silent until it is over.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from device.config import DialogConfig
from device.content.library import Category, ContentLibrary
from device.dialog.actions import (
    Action,
    Activity,
    DayPart,
    Emit,
    Expectation,
    Say,
    Speech,
    Start,
    clock_time,
    within,
)
from device.dialog.checkin import MOOD, SLEEP, CheckIn, spontaneous_mood
from device.dialog.content import WANTS, ContentSession, Preferences
from device.dialog.intents import Intent
from device.dialog.jamo import best_substring, normalize, syllable_boundaries, to_jamo
from device.dialog.lines import Line, render
from device.dialog.messages import MessageBook, MessagePolicy
from device.dialog.reminders import Reminder, ReminderBook, ReminderPolicy, ReminderPrompt
from device.dialog.screening import ScreeningBook, ScreeningSession
from device.sensors import TouchKind
from protocol import EventType
from protocol.commands import SayMessagePayload, SchedulePayload
from protocol.events import CheckInPayload, ConversationPayload

NAME_MIN_SIMILARITY = 0.8
"""The robot's name fits this closely at the jamo level ("돌봄아", "돌보미야")..."""
NAME_MAX_EXTRA_SYLLABLES = 4
"""...in an utterance at most this much longer: a call, not a sentence that holds the name."""
_GREETINGS = {
    DayPart.MORNING: Line.GREET_MORNING,
    DayPart.AFTERNOON: Line.GREET_AFTERNOON,
    DayPart.EVENING: Line.GREET_EVENING,
    DayPart.NIGHT: Line.GREET_NIGHT,
}
_TOUCH = {
    TouchKind.HUG: Line.TOUCH_HUG,
    TouchKind.PAT: Line.TOUCH_PAT,
    TouchKind.SQUEEZE: Line.TOUCH_SQUEEZE,
}


@dataclass(frozen=True)
class CompanionSettings:
    """The companion's manners, from the robot's [dialog] config."""

    language: str = "ko"
    robot_name: str = "돌봄이"
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    checkin_from: time = time(8, 0)
    checkin_until: time = time(20, 0)
    answer_timeout: timedelta = timedelta(seconds=30)
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    messages: MessagePolicy = field(default_factory=MessagePolicy)
    offer_every: timedelta = timedelta(minutes=90)
    offer_idle: timedelta = timedelta(minutes=10)
    max_offers_per_day: int = 4
    away_after: timedelta = timedelta(minutes=30)
    screening_resume_after: timedelta = timedelta(minutes=20)
    conversation_period: timedelta = timedelta(minutes=60)
    conversation_gap: timedelta = timedelta(minutes=2)
    """A turn this recent means a conversation is going on: nothing proactive meanwhile."""
    awake_window: timedelta = timedelta(minutes=10)
    """In quiet hours, a reminder is spoken only if the senior spoke or touched this recently."""
    hush: timedelta = timedelta(hours=1)
    touch_reply_gap: timedelta = timedelta(seconds=30)
    addressed_for: timedelta = timedelta(seconds=60)

    @classmethod
    def from_config(cls, config: DialogConfig, language: str) -> "CompanionSettings":
        """From the robot's [dialog] section."""
        minutes = [timedelta(minutes=m) for m in config.reminder_repeat_min]
        return cls(
            language=language,
            robot_name=config.robot_name,
            quiet_start=clock_time(config.quiet_start),
            quiet_end=clock_time(config.quiet_end),
            checkin_from=clock_time(config.checkin_from),
            checkin_until=clock_time(config.checkin_until),
            answer_timeout=timedelta(seconds=config.answer_timeout_s),
            reminders=ReminderPolicy(
                repeat_after=tuple(minutes),
                final_wait=timedelta(minutes=config.reminder_final_wait_min),
                max_delay=timedelta(minutes=config.reminder_max_delay_min),
                confirm_window=timedelta(minutes=config.reminder_confirm_window_min),
                answer_timeout=timedelta(seconds=config.answer_timeout_s),
            ),
            offer_every=timedelta(minutes=config.offer_every_min),
            offer_idle=timedelta(minutes=config.offer_idle_min),
            max_offers_per_day=config.max_offers_per_day,
            away_after=timedelta(minutes=config.away_after_min),
            screening_resume_after=timedelta(minutes=config.screening_resume_after_min),
            conversation_period=timedelta(minutes=config.conversation_period_min),
        )


@dataclass
class ConversationMeter:
    """Turns and talk time per period, sent as `conversation` events (never words)."""

    period: timedelta
    start: datetime | None = None
    turns: int = 0
    robot_turns: int = 0
    talk_s: float = 0.0

    def _align(self, now: datetime) -> datetime:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return now - (now - midnight) % self.period

    def tick(self, now: datetime) -> list[Action]:
        """Close the period when it is over (an empty one sends nothing)."""
        if self.start is None:
            self.start = self._align(now)
            return []
        end = self.start + self.period
        if now < end:
            return []
        actions: list[Action] = []
        if self.turns or self.robot_turns:
            payload = ConversationPayload(
                period_start=self.start.astimezone(UTC),
                period_end=end.astimezone(UTC),
                turns=self.turns,
                robot_turns=self.robot_turns,
                talk_minutes=round(self.talk_s / 60.0, 2),
            )
            actions.append(Emit(EventType.CONVERSATION, payload))
        self.start, self.turns, self.robot_turns, self.talk_s = self._align(now), 0, 0, 0.0
        return actions

    def to_dict(self) -> dict[str, Any]:
        """For the device's state file."""
        return {
            "start": self.start.isoformat() if self.start else None,
            "turns": self.turns,
            "robot_turns": self.robot_turns,
            "talk_s": self.talk_s,
        }

    def load(self, raw: dict[str, Any]) -> None:
        """Back from the state file."""
        start = raw.get("start")
        self.start = datetime.fromisoformat(start) if start else None
        self.turns = int(raw.get("turns", 0))
        self.robot_turns = int(raw.get("robot_turns", 0))
        self.talk_s = float(raw.get("talk_s", 0.0))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


class Companion:
    """Everything the robot says of its own accord, and its replies to everyday talk."""

    def __init__(self, settings: CompanionSettings, library: ContentLibrary) -> None:
        self.s = settings
        self.library = library
        self.reminders = ReminderBook(settings.reminders)
        self.messages = MessageBook(settings.messages)
        self.screenings = ScreeningBook()
        self.prefs = Preferences()
        self.meter = ConversationMeter(settings.conversation_period)
        self.current: Activity | None = None
        self.present: bool | None = None  # None: no presence sensor has spoken yet
        self.last_seen: datetime | None = None  # presence, voice or touch
        self.last_senior: datetime | None = None  # voice or touch
        self.last_turn: datetime | None = None
        self.quiet_since: datetime | None = None  # the robot stopped talking
        self.greeted: set[str] = set()
        self.checkin_day: str | None = None
        self.offers: dict[str, str] = {}  # category → when last offered
        self.offers_day: str = ""
        self.offers_today = 0
        self.last_offer: datetime | None = None
        self.hush_until: datetime | None = None
        self.addressed_until: datetime | None = None
        self.last_said: tuple[str, datetime] | None = None
        self.last_touch_reply: datetime | None = None
        self.touch_replies = 0
        self.paused = False

    @property
    def language(self) -> str:
        """The robot's language."""
        return self.s.language

    # -- what the companion knows about the senior ------------------------------------------
    def around(self, now: datetime) -> bool:
        """The senior is in the room (the sensor says so, or they did something lately)."""
        if self.present:
            return True
        return self.last_seen is not None and now - self.last_seen < self.s.away_after

    def reachable(self, now: datetime) -> bool:
        """A reminder may be spoken: around, or no presence sensor to tell either way."""
        return self.present is None or self.around(now)

    def present_now(self, now: datetime) -> bool:
        """The senior is here to hear a message: the sensor says so, or they spoke, touched
        or were sensed within the last `messages.present_within`."""
        if self.present:
            return True
        window = self.s.messages.present_within
        return self.last_seen is not None and now - self.last_seen < window

    def in_conversation(self, now: datetime) -> bool:
        """Someone spoke a moment ago."""
        return self.last_turn is not None and now - self.last_turn < self.s.conversation_gap

    def quiet_hours(self, now: datetime) -> bool:
        """Night-time: nothing proactive."""
        return within(now, self.s.quiet_start, self.s.quiet_end)

    def awake(self, now: datetime) -> bool:
        """The senior spoke or touched the robot very recently."""
        return self.last_senior is not None and now - self.last_senior < self.s.awake_window

    def hushed(self, now: datetime) -> bool:
        """The senior said "그만" not long ago."""
        return self.hush_until is not None and now < self.hush_until

    # -- inputs -------------------------------------------------------------------------------
    def set_schedule(self, schedule: SchedulePayload) -> None:
        """Reminders and screenings from the cloud (a part left out is kept)."""
        if schedule.reminders is not None:
            self.reminders.replace([Reminder.from_spec(r) for r in schedule.reminders])
        if schedule.screenings is not None:
            self.screenings.replace(schedule.screenings)

    def message(self, message: SayMessagePayload, now: datetime) -> list[Action]:
        """A caregiver's message arrived: it waits for a good moment (or is reported back)."""
        return list(self.messages.add(message, now))

    def presence(self, present: bool, now: datetime) -> list[Action]:
        """The presence sensor changed."""
        self.present = present
        self.last_seen = now
        return []

    def noticed(self, now: datetime) -> None:
        """The senior is here (a touch while the safety loop runs); not a presence reading."""
        self.last_seen = self.last_senior = now

    def touched(self, kind: TouchKind, now: datetime) -> list[Action]:
        """A hug, a pat or a squeeze: a warm word back, not too often, never over an activity."""
        self.last_seen = self.last_senior = now
        if self.paused or self.current is not None:
            return []
        if self.last_touch_reply and now - self.last_touch_reply < self.s.touch_reply_gap:
            return []
        self.last_touch_reply = now
        self.touch_replies += 1
        return self._process([Say(render(_TOUCH[kind], self.language, self.touch_replies))], now)

    def _count(self, speech: Speech, now: datetime) -> None:
        self.meter.turns += 1
        self.meter.talk_s += speech.duration_s
        self.last_seen = self.last_senior = self.last_turn = now

    def heard_for_safety(self, speech: Speech, now: datetime) -> list[Action]:
        """The safety loop took this utterance: count it, never answer it. A cry of pain in
        answer to the check-in is still the check-in's answer (an event, no words)."""
        self._count(speech, now)
        current = self.current
        if isinstance(current, CheckIn) and speech.intent is Intent.PAIN:
            self.current = None
            return current.answered_with_pain()
        return []

    def heard(self, speech: Speech, now: datetime) -> list[Action]:
        """The senior said something (not a call for help)."""
        self._count(speech, now)
        if self.paused:
            return []
        intent = speech.intent
        current = self.current
        if current is not None:
            switch = intent in WANTS and not (
                isinstance(current, ContentSession)
                and current.item.category is WANTS[intent]
                and current.phase == "offer"
            )
            if switch:
                current.interrupt(now)
                self.current = None
                return self._process([Start(WANTS[intent])], now)
            occ = self.reminders.for_done(speech.text, self.language)
            if (
                intent is Intent.DONE
                and not isinstance(current, ReminderPrompt)
                and occ is not None
                and occ.last_prompt is not None
            ):  # "I took it" in the middle of something else: it is about the reminder
                line = Say(render(Line.REMIND_CONFIRMED, self.language, occ.attempts))
                return self._process([*self.reminders.confirm(occ), line], now)
            actions = current.hear(speech, now)
            if current.done and self.current is current:
                self.current = None
            return self._process(actions, now)
        return self._process(self._reply(speech, now), now)

    def _reply(self, speech: Speech, now: datetime) -> list[Action]:
        """Everyday talk when nothing holds the floor."""
        intent = speech.intent
        called = self._called(speech.text)
        if intent in WANTS:
            return [Start(WANTS[intent])]
        if intent is Intent.DONE:
            occ = self.reminders.for_done(speech.text, self.language)
            if occ is None:
                return [Say(render(Line.DONE_NOTHING_OPEN, self.language))]
            return [
                *self.reminders.confirm(occ),
                Say(render(Line.REMIND_CONFIRMED, self.language, occ.attempts)),
            ]
        if intent is Intent.GREETING or (called and DayPart.key(now) not in self.greeted):
            return self._greet(now)
        if called:
            self.addressed_until = now + self.s.addressed_for
            return [Say(render(Line.CALLED, self.language, len(self.greeted)))]
        followup = spontaneous_mood(intent, self.language, self.s.answer_timeout)
        if followup is not None:
            self.current = followup
            mood = followup.mood
            event = CheckInPayload(question_id=followup.question_id, answer=mood, mood=mood)
            return [Emit(EventType.CHECK_IN, event), *followup.begin(now)]
        if intent is Intent.THANKS:
            return [Say(render(Line.THANKS_REPLY, self.language, self.meter.turns))]
        if intent is Intent.GOOD:
            return [Say(render(Line.GOOD_REPLY, self.language, self.meter.turns))]
        if intent is Intent.STOP:
            self.hush_until = now + self.s.hush
            return [Say(render(Line.HUSH, self.language))]
        if intent is Intent.REPEAT and self.last_said is not None:
            text, at = self.last_said
            if now - at < timedelta(minutes=5):
                return [Say(text)]
        if self.addressed_until is not None and now < self.addressed_until:
            self.addressed_until = None
            return [Say(render(Line.NOT_UNDERSTOOD, self.language))]
        return []

    def _called(self, text: str) -> bool:
        """The senior said the robot's name (fuzzily: "돌봄아", "돌보미야")."""
        name = normalize(self.s.robot_name)
        if not name:
            return False
        if self.language == "en" or not any("가" <= ch <= "힣" for ch in name):
            return f" {name} " in f" {' '.join(normalize(w) for w in text.split())} "
        core = name[:-1] if len(name) > 2 and name.endswith("이") else name
        norm = normalize(text)
        if len(norm) > len(core) + NAME_MAX_EXTRA_SYLLABLES:
            return False  # "엄마를 돌보느라" is talk about caring, not a call
        jamo = to_jamo(core)
        found = best_substring(jamo, to_jamo(norm), syllable_boundaries(norm))
        return found is not None and found.similarity(len(jamo)) >= NAME_MIN_SIMILARITY

    def _greet(self, now: datetime) -> list[Action]:
        key = DayPart.key(now)
        self.greeted = {k for k in self.greeted if k >= key[:10]} | {key}
        line = _GREETINGS[DayPart.of(now)]
        actions: list[Action] = [Say(render(line, self.language, len(self.greeted)))]
        checkin = self._checkin_due(now)
        if checkin is not None:
            self.current = checkin
            actions += checkin.begin(now)
        return actions

    # -- time passes --------------------------------------------------------------------------
    def tick(
        self, now: datetime, *, speaking: bool = False, safety_active: bool = False
    ) -> list[Action]:
        """Run the clocks; start something if it is time. Silent while the safety loop runs."""
        if speaking or self.quiet_since is None:
            self.quiet_since = now
        events = self.reminders.scan(now) + self.screenings.expire(now) + self.meter.tick(now)
        events += self.messages.expire(now)
        if safety_active:
            if not self.paused:
                self.paused = True
                if self.current is not None:
                    events += self.current.interrupt(now)
                    self.current = None
            return [a for a in events if isinstance(a, Emit)]
        self.paused = False
        actions: list[Action] = list(events)
        current = self.current
        if current is not None:
            actions += current.tick(now, self.quiet_since)
            if current.done and self.current is current:
                self.current = None
        if self.current is None and not speaking:
            actions += self._initiative(now)
        return self._process(actions, now)

    def expecting(self) -> Expectation | None:
        """The answer the floor waits for (the stage asks the ears for constrained recognition)."""
        return None if self.current is None or self.paused else self.current.expecting()

    def interrupt(self, now: datetime) -> None:
        """Stop whatever holds the floor (the stage calls this when the safety loop starts)."""
        if self.current is not None:
            self.current.interrupt(now)
            self.current = None

    def _checkin_due(self, now: datetime) -> CheckIn | None:
        today = now.date().isoformat()
        if self.checkin_day == today or not within(now, self.s.checkin_from, self.s.checkin_until):
            return None
        self.checkin_day = today
        questions = [SLEEP, MOOD] if now.hour < 12 else [MOOD]
        return CheckIn(questions, self.language, self.s.answer_timeout)

    def _initiative(self, now: datetime) -> list[Action]:
        if self.in_conversation(now):
            return []
        occ = self.reminders.due_now(now)
        quiet = self.quiet_hours(now)
        if occ is not None and self.reachable(now) and (not quiet or self.awake(now)):
            return self._begin(ReminderPrompt(self.reminders, occ, self.language), now)
        if quiet or self.hushed(now) or not self.around(now):
            return []
        waiting = self.messages.next(now)
        if waiting is not None and self.present_now(now):
            line = render(Line.MESSAGE, self.language, sender=waiting.sender, text=waiting.text)
            return [Say(line), self.messages.spoken(waiting, now)]
        if DayPart.key(now) not in self.greeted and DayPart.of(now) != DayPart.NIGHT:
            return self._greet(now)
        plan = self.screenings.ready(now)
        if plan is not None and within(now, self.s.checkin_from, self.s.checkin_until):
            session = ScreeningSession(
                plan, self.language, self.s.answer_timeout, self.s.screening_resume_after
            )
            return self._begin(session, now)
        checkin = self._checkin_due(now)
        if checkin is not None:
            return self._begin(checkin, now)
        return self._maybe_offer(now)

    def _maybe_offer(self, now: datetime) -> list[Action]:
        today = now.date().isoformat()
        if self.offers_day != today:
            self.offers_day, self.offers_today = today, 0
        if self.offers_today >= self.s.max_offers_per_day:
            return []
        if self.last_offer is not None and now - self.last_offer < self.s.offer_every:
            return []
        if self.last_turn is not None and now - self.last_turn < self.s.offer_idle:
            return []
        if self.last_turn is None and self.last_senior is None and not self.present:
            return []
        category = self.prefs.next_category(self.offers)
        item = self.prefs.choose(self.library, self.language, category, now)
        self.offers[category.value] = now.isoformat()
        self.last_offer = now
        if item is None:
            return []
        self.offers_today += 1
        session = ContentSession(item, self.prefs, self.language, self.s.answer_timeout)
        return self._begin(session, now)

    def _begin(self, activity: Activity, now: datetime) -> list[Action]:
        self.current = activity
        return activity.begin(now)

    def _start_content(self, category: Category, now: datetime) -> list[Action]:
        item = self.prefs.choose(self.library, self.language, category, now)
        if item is None:
            return [Say(render(Line.NOTHING_TO_OFFER, self.language))]
        session = ContentSession(
            item, self.prefs, self.language, self.s.answer_timeout, offer=False
        )
        return self._begin(session, now)

    def _process(self, actions: Sequence[Action], now: datetime) -> list[Action]:
        """Start what was asked for; keep count of what the robot says."""
        out: list[Action] = []
        for action in actions:
            if isinstance(action, Start):
                if self.current is not None:
                    self.current.interrupt(now)
                    self.current = None
                out += self._process(self._start_content(action.category, now), now)
                continue
            if isinstance(action, Say):
                self.meter.robot_turns += 1
                self.last_turn = self.quiet_since = now
                self.last_said = (action.text, now)
            out.append(action)
        return out

    # -- the device's state file --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything a reboot must keep (no words: transcripts live elsewhere, briefly)."""
        return {
            "v": 1,
            "reminders": self.reminders.to_dict(),
            "screenings": self.screenings.to_dict(),
            "preferences": self.prefs.to_dict(),
            "conversation": self.meter.to_dict(),
            "greeted": sorted(self.greeted),
            "checkin_day": self.checkin_day,
            "offers": dict(self.offers),
            "offers_day": self.offers_day,
            "offers_today": self.offers_today,
            "last_offer": _iso(self.last_offer),
            "hush_until": _iso(self.hush_until),
            "messages": self.messages.to_dict(),
        }

    def load(self, raw: dict[str, Any]) -> None:
        """Back from the state file."""
        self.reminders.load(dict(raw.get("reminders", {})))
        self.screenings.load(list(raw.get("screenings", [])))
        self.prefs.load(dict(raw.get("preferences", {})))
        self.meter.load(dict(raw.get("conversation", {})))
        self.greeted = {str(k) for k in raw.get("greeted", [])}
        checkin_day = raw.get("checkin_day")
        self.checkin_day = str(checkin_day) if checkin_day else None
        self.offers = {str(k): str(v) for k, v in dict(raw.get("offers", {})).items()}
        self.offers_day = str(raw.get("offers_day", ""))
        self.offers_today = int(raw.get("offers_today", 0))
        self.last_offer = _when(raw.get("last_offer"))
        self.hush_until = _when(raw.get("hush_until"))
        self.messages.load(dict(raw.get("messages", {})))
