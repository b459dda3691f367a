"""What the dialog machines take in and give back: plain values, no I/O.

A machine gets `Speech` (what the senior said, already understood) and the local time as an
aware datetime, and returns actions: `Say` a sentence, `Emit` an event, or `Start` a piece of
content. The stage carries them out.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from device.content.library import Category
from device.dialog.intents import Intent
from protocol import EventType
from protocol.events import Payload


@dataclass(frozen=True)
class Speech:
    """One utterance of the senior: its words (they never leave the robot) and its intent."""

    text: str
    intent: Intent
    duration_s: float = 0.0
    answer_text: str = ""  # the constrained recogniser's reading, when an answer was expected


@dataclass(frozen=True)
class Say:
    """Speak a sentence."""

    text: str


@dataclass(frozen=True)
class Emit:
    """Send an event (numbers and labels only)."""

    type: EventType
    payload: Payload


@dataclass(frozen=True)
class Start:
    """Begin a piece of content of this category (the senior said yes to an offer)."""

    category: Category


Action = Say | Emit | Start


def clock_time(text: str) -> time:
    """ "07:30" → time(7, 30); ValueError for anything else."""
    hh, sep, mm = text.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit():
        raise ValueError(f"not a time like '07:30': {text!r}")
    return time(int(hh), int(mm))


def within(now: datetime, start: time, end: time) -> bool:
    """Whether the local time of `now` falls in [start, end), a window that may cross midnight."""
    t = now.timetz().replace(tzinfo=None)
    if start <= end:
        return start <= t < end
    return t >= start or t < end


class DayPart:
    """The four parts of the day a greeting belongs to."""

    MORNING = "morning"  # 05:00-11:00
    AFTERNOON = "afternoon"  # 11:00-17:00
    EVENING = "evening"  # 17:00-21:00
    NIGHT = "night"  # 21:00-05:00

    @staticmethod
    def of(now: datetime) -> str:
        """The part of the day of a local time."""
        hour = now.hour
        if 5 <= hour < 11:
            return DayPart.MORNING
        if 11 <= hour < 17:
            return DayPart.AFTERNOON
        if 17 <= hour < 21:
            return DayPart.EVENING
        return DayPart.NIGHT

    @staticmethod
    def key(now: datetime) -> str:
        """One key per part of one day; the night after midnight belongs to the evening before."""
        day: date = now.date()
        if now.hour < 5:
            day = (now - timedelta(days=1)).date()
        return f"{day.isoformat()}:{DayPart.of(now)}"


class Activity(Protocol):
    """Whatever holds the floor: it asked something and the senior's next words are for it."""

    name: str
    done: bool

    def begin(self, now: datetime) -> list[Action]:
        """Start: usually a question."""

    def hear(self, speech: Speech, now: datetime) -> list[Action]:
        """The senior said something."""

    def tick(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """Time passes; `quiet_since` is when the robot last stopped talking."""

    def interrupt(self, now: datetime) -> list[Action]:
        """The safety loop took over, or the senior wants something else: stop at once."""

    def expecting(self) -> "Expectation | None":
        """The answer it waits for, for constrained recognition (None: free speech)."""


@dataclass(frozen=True)
class Expectation:
    """What kind of answer the floor waits for: "yes_no", or "scale" with its options."""

    kind: str
    options: tuple[str, ...] = ()


YES_NO = Expectation("yes_no")
