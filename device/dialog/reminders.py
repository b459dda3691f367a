"""Reminders for medicine, meals, water and walks: when to speak, how to repeat, what to record.

Schedules come from the cloud (`schedule` commands). Each scheduled time of a day becomes an
occurrence that ends in exactly one `reminder` event:
- `confirmed`: the senior said it is done ("먹었어", "I took it"; "네" to "드셨어요?");
- `given`: the senior heard and acknowledged it ("네", "thanks", "그만") without saying it
  was done, and did not say so within the confirm window;
- `missed`: no confirmation after the last prompt, or never given at all (the senior was
  away, asleep in quiet hours or busy until the reminder was too late).
Prompts back off (by default at +0, +10 and +40 minutes) and stop at the last one: never
nagging. Whether a prompt may be spoken now (present, not talking, not quiet hours) is the
companion's call; this module only says which occurrence is due.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from device.dialog.actions import YES_NO, Action, Emit, Expectation, Say, Speech, clock_time
from device.dialog.intents import Intent
from device.dialog.lines import Line, render
from protocol import EventType
from protocol.commands import ReminderSpec
from protocol.events import ReminderPayload, ReminderStatus

KINDS = ("medicine", "meal", "water", "walk", "other")
LOOKBACK = timedelta(hours=24)
"""After a power cut, occurrences further back than this are not reported at all."""
_FIRST = {
    "medicine": Line.REMIND_MEDICINE,
    "meal": Line.REMIND_MEAL,
    "water": Line.REMIND_WATER,
    "walk": Line.REMIND_WALK,
    "other": Line.REMIND_OTHER,
}
_AGAIN = {
    "medicine": Line.AGAIN_MEDICINE,
    "meal": Line.AGAIN_MEAL,
    "water": Line.AGAIN_WATER,
    "walk": Line.AGAIN_WALK,
    "other": Line.AGAIN_OTHER,
}


_KIND_WORDS = {
    "ko": (
        ("medicine", ("약",)),
        ("meal", ("밥", "식사", "아침", "점심", "저녁", "진지")),
        ("water", ("물", "마셨")),
        ("walk", ("산책", "걸었", "걷고", "다녀왔")),
    ),
    "en": (
        ("medicine", ("pill", "medicine", "tablet", "meds")),
        ("meal", ("ate", "eaten", "breakfast", "lunch", "dinner", "meal")),
        ("water", ("water", "drank", "drink")),
        ("walk", ("walk",)),
    ),
}


def kind_named(text: str, language: str = "ko") -> str | None:
    """The reminder kind the senior's words name, if exactly one ("약 먹었어" → medicine)."""
    lowered = text.lower()
    if language == "en":
        words = set(re.findall(r"[a-z]+", lowered))
        found = {
            k for k, stems in _KIND_WORDS["en"] for w in words for st in stems if w.startswith(st)
        }
    else:
        tokens = lowered.split()
        found = {
            k
            for k, stems in _KIND_WORDS["ko"]
            for st in stems
            if any(t.startswith(st) if len(st) == 1 else st in t for t in tokens)
        }
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class Reminder:
    """One scheduled reminder as the robot keeps it."""

    id: str
    kind: str
    label: str
    times: tuple[time, ...]
    days: frozenset[int] = frozenset(range(7))  # 0 = Monday

    @classmethod
    def from_spec(cls, spec: ReminderSpec) -> "Reminder":
        """From the wire model; an unknown kind is kept as "other"."""
        kind = spec.kind.lower() if spec.kind.lower() in KINDS else "other"
        return cls(
            id=str(spec.id),
            kind=kind,
            label=spec.label,
            times=tuple(sorted(clock_time(t) for t in spec.times)),
            days=frozenset(spec.days),
        )

    def to_dict(self) -> dict[str, Any]:
        """For the device's state file."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "times": [t.strftime("%H:%M") for t in self.times],
            "days": sorted(self.days),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Reminder":
        """Back from the state file."""
        return cls.from_spec(ReminderSpec.model_validate(raw))


@dataclass(frozen=True)
class ReminderPolicy:
    """How gently to remind."""

    repeat_after: tuple[timedelta, ...] = (timedelta(minutes=10), timedelta(minutes=30))
    final_wait: timedelta = timedelta(minutes=10)
    max_delay: timedelta = timedelta(hours=2)
    confirm_window: timedelta = timedelta(minutes=30)
    answer_timeout: timedelta = timedelta(seconds=30)

    @property
    def max_prompts(self) -> int:
        """The first prompt and one per repeat."""
        return len(self.repeat_after) + 1


@dataclass
class Occurrence:
    """One reminder at one scheduled time, until it is confirmed, given or missed."""

    reminder: Reminder
    due: datetime
    attempts: int = 0
    next_at: datetime | None = None
    last_prompt: datetime | None = None
    acknowledged_at: datetime | None = None

    @property
    def key(self) -> str:
        """Unique per reminder and scheduled time."""
        return f"{self.reminder.id}@{self.due.strftime('%Y-%m-%dT%H:%M')}"

    def to_dict(self) -> dict[str, Any]:
        """For the device's state file."""
        return {
            "reminder": self.reminder.id,
            "due": self.due.isoformat(),
            "attempts": self.attempts,
            "next_at": self.next_at.isoformat() if self.next_at else None,
            "last_prompt": self.last_prompt.isoformat() if self.last_prompt else None,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
        }


def _when(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


@dataclass
class ReminderBook:
    """Every reminder, its open occurrences, and which ones are already settled."""

    policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    reminders: list[Reminder] = field(default_factory=list)
    open: list[Occurrence] = field(default_factory=list)
    settled: dict[str, str] = field(default_factory=dict)  # occurrence key → status
    last_scan: datetime | None = None

    def replace(self, reminders: Sequence[Reminder]) -> None:
        """A new schedule: occurrences of reminders that are gone are dropped unreported."""
        self.reminders = list(reminders)
        ids = {r.id for r in self.reminders}
        self.open = [o for o in self.open if o.reminder.id in ids]

    def scan(self, now: datetime) -> list[Action]:
        """Open the occurrences that came due since the last scan; settle the finished ones."""
        actions: list[Action] = []
        since = max(self.last_scan or now, now - LOOKBACK)
        for reminder in self.reminders:
            day = since.date()
            while day <= now.date():
                if day.weekday() in reminder.days:
                    for t in reminder.times:
                        due = datetime.combine(day, t, tzinfo=now.tzinfo)
                        if since < due <= now:
                            actions += self._open(Occurrence(reminder, due, next_at=due), now)
                day += timedelta(days=1)
        for occ in list(self.open):
            actions += self._expire(occ, now)
        self.last_scan = now
        return actions

    def _open(self, occ: Occurrence, now: datetime) -> list[Action]:
        if occ.key in self.settled or any(o.key == occ.key for o in self.open):
            return []
        actions: list[Action] = []
        for old in [o for o in self.open if o.reminder.id == occ.reminder.id]:
            actions += self._settle(old, self._outcome(old))  # the next dose supersedes it
        self.open.append(occ)
        return actions

    def _outcome(self, occ: Occurrence) -> ReminderStatus:
        return ReminderStatus.GIVEN if occ.acknowledged_at else ReminderStatus.MISSED

    def _expire(self, occ: Occurrence, now: datetime) -> list[Action]:
        p = self.policy
        if occ.acknowledged_at is not None and now >= occ.acknowledged_at + p.confirm_window:
            return self._settle(occ, ReminderStatus.GIVEN)
        if occ.acknowledged_at is not None:
            return []
        last = occ.last_prompt
        if occ.attempts >= p.max_prompts and last is not None and now >= last + p.final_wait:
            return self._settle(occ, ReminderStatus.MISSED)
        if now >= occ.due + p.max_delay and (last is None or now >= last + p.final_wait):
            return self._settle(occ, ReminderStatus.MISSED)
        return []

    def _settle(self, occ: Occurrence, status: ReminderStatus) -> list[Action]:
        self.open = [o for o in self.open if o is not occ]
        self.settled[occ.key] = status.value
        cutoff = (occ.due - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
        self.settled = {k: v for k, v in self.settled.items() if k.split("@", 1)[1] >= cutoff}
        payload = ReminderPayload(
            reminder_id=occ.reminder.id,
            kind=occ.reminder.kind,
            status=status,
            attempts=occ.attempts,
        )
        return [Emit(EventType.REMINDER, payload)]

    def due_now(self, now: datetime) -> Occurrence | None:
        """The occurrence that wants a prompt now, the earliest first."""
        ready = [
            o
            for o in self.open
            if o.acknowledged_at is None
            and o.attempts < self.policy.max_prompts
            and o.next_at is not None
            and o.next_at <= now
            and now < o.due + self.policy.max_delay
        ]
        return min(ready, key=lambda o: o.due) if ready else None

    def prompted(self, occ: Occurrence, now: datetime) -> None:
        """A prompt was spoken: schedule the next one (if any) from now."""
        occ.attempts += 1
        occ.last_prompt = now
        repeats = self.policy.repeat_after
        occ.next_at = now + repeats[occ.attempts - 1] if occ.attempts <= len(repeats) else None

    def confirm(self, occ: Occurrence) -> list[Action]:
        """The senior said it is done."""
        return self._settle(occ, ReminderStatus.CONFIRMED)

    def acknowledge(self, occ: Occurrence, now: datetime) -> None:
        """The senior heard it: no more prompts; "given" unless they confirm soon."""
        occ.acknowledged_at = now

    def for_done(self, text: str = "", language: str = "ko") -> Occurrence | None:
        """The occurrence a spontaneous "I took it" is about: of the kind the words name
        ("약 먹었어" → medicine, "밥 먹었어" → a meal), else the one prompted last, else the
        earliest open one. None when the words name a kind with nothing open."""
        kind = kind_named(text, language)
        candidates = [o for o in self.open if kind is None or o.reminder.kind == kind]
        if not candidates:
            return None
        prompted = [o for o in candidates if o.last_prompt is not None]
        if prompted:
            return max(prompted, key=lambda o: o.last_prompt or o.due)
        return min(candidates, key=lambda o: o.due)

    # -- the device's state file --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything a reboot must keep."""
        return {
            "reminders": [r.to_dict() for r in self.reminders],
            "open": [o.to_dict() for o in self.open],
            "settled": dict(self.settled),
            "last_scan": self.last_scan.isoformat() if self.last_scan else None,
        }

    def load(self, raw: dict[str, Any]) -> None:
        """Restore from the state file (reminders unknown to it are skipped)."""
        self.reminders = [Reminder.from_dict(r) for r in raw.get("reminders", [])]
        by_id = {r.id: r for r in self.reminders}
        self.open = []
        for o in raw.get("open", []):
            reminder = by_id.get(str(o.get("reminder")))
            due = _when(o.get("due"))
            if reminder is None or due is None:
                continue
            self.open.append(
                Occurrence(
                    reminder,
                    due,
                    attempts=int(o.get("attempts", 0)),
                    next_at=_when(o.get("next_at")),
                    last_prompt=_when(o.get("last_prompt")),
                    acknowledged_at=_when(o.get("acknowledged_at")),
                )
            )
        self.settled = {str(k): str(v) for k, v in dict(raw.get("settled", {})).items()}
        self.last_scan = _when(raw.get("last_scan"))


@dataclass
class ReminderPrompt:
    """The floor while a reminder waits for its answer."""

    book: ReminderBook
    occ: Occurrence
    language: str
    name: str = "reminder"
    done: bool = False
    asked_at: datetime | None = None
    reasked: bool = False

    def _line(self) -> str:
        kind = self.occ.reminder.kind
        line = _FIRST[kind] if self.occ.attempts <= 1 else _AGAIN[kind]
        return render(line, self.language, label=self.occ.reminder.label)

    def begin(self, now: datetime) -> list[Action]:
        """Say the reminder (a question from the second prompt on)."""
        self.book.prompted(self.occ, now)
        self.asked_at = now
        return [Say(self._line())]

    def hear(self, speech: Speech, now: datetime) -> list[Action]:
        """Confirmed, acknowledged, "not yet", or unclear."""
        intent = speech.intent
        question = self.occ.attempts > 1
        named = kind_named(speech.text, self.language) if intent is Intent.DONE else None
        if named is not None and named != self.occ.reminder.kind:
            # "밥 먹었어" to "혈압약 드셨어요?": the meal is done, the pills are not said to be
            other = self.book.for_done(speech.text, self.language)
            done: list[Action] = []
            if other is not None:
                line = render(Line.REMIND_CONFIRMED, self.language, other.attempts)
                done = [*self.book.confirm(other), Say(line)]
            return done + self._unclear(now)
        if intent is Intent.DONE or (intent is Intent.YES and question):
            self.done = True
            variant = self.occ.attempts
            return [
                *self.book.confirm(self.occ),
                Say(render(Line.REMIND_CONFIRMED, self.language, variant)),
            ]
        if intent in (Intent.YES, Intent.THANKS, Intent.GOOD, Intent.FINE):
            self.done = True
            self.book.acknowledge(self.occ, now)
            return [Say(render(Line.REMIND_ACK, self.language))]
        if intent is Intent.STOP:
            self.done = True
            self.book.acknowledge(self.occ, now)
            return [Say(render(Line.REMIND_STOPPED, self.language))]
        if intent in (Intent.NOT_YET, Intent.NO):
            self.done = True
            last = self.occ.attempts >= self.book.policy.max_prompts
            return [Say(render(Line.REMIND_LAST if last else Line.REMIND_LATER, self.language))]
        if intent is Intent.REPEAT:
            self.asked_at = now
            return [Say(self._line())]
        return self._unclear(now)

    def _unclear(self, now: datetime) -> list[Action]:
        """Ask once how it went; a second unclear answer leaves it to the next prompt."""
        if not self.reasked:
            self.reasked = True
            self.asked_at = now
            label = self.occ.reminder.label
            return [Say(render(Line.REMIND_UNCLEAR, self.language, label=label))]
        self.done = True
        return []

    def tick(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """No answer: leave it to the next prompt (or to "missed")."""
        start = max(self.asked_at or now, quiet_since)
        if now - start >= self.book.policy.answer_timeout:
            self.done = True
        return []

    def expecting(self) -> Expectation | None:
        """ "드셨어요?" is a yes/no question; the first prompt is not."""
        return YES_NO if self.occ.attempts > 1 else None

    def interrupt(self, now: datetime) -> list[Action]:
        """The prompt counts; the next one comes on its schedule."""
        self.done = True
        return []
