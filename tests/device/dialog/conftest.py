"""A fake-clock harness for the companion: type as the senior, read what the robot does."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device.content.library import ContentLibrary, load_library
from device.dialog.actions import Action, Emit, Say, Speech
from device.dialog.companion import Companion, CompanionSettings
from device.dialog.intents import Intent, match_intent
from device.sensors import TouchKind
from protocol import EventType
from protocol.commands import SchedulePayload

SEOUL = ZoneInfo("Asia/Seoul")


def at(hhmm: str, day: int = 27) -> datetime:
    """A local time in Seoul on 2026-11-<day> (the 27th is a Friday)."""
    hh, mm = hhmm.split(":")
    return datetime(2026, 11, day, int(hh), int(mm), tzinfo=SEOUL)


class Sim:
    """Drives one Companion with a fake clock; records what it says and sends."""

    def __init__(self, companion: Companion, start: datetime) -> None:
        self.companion = companion
        self.now = start
        self.log: list[tuple[datetime, Action]] = []

    @property
    def language(self) -> str:
        return self.companion.language

    def _record(self, actions: list[Action]) -> list[Action]:
        self.log += [(self.now, a) for a in actions]
        return actions

    def tick(self, *, safety: bool = False) -> list[Action]:
        return self._record(self.companion.tick(self.now, safety_active=safety))

    def advance(
        self, delta: timedelta, step: timedelta = timedelta(seconds=5), *, safety: bool = False
    ) -> list[Action]:
        out: list[Action] = []
        end = self.now + delta
        while self.now < end:
            self.now = min(self.now + step, end)
            out += self.tick(safety=safety)
        return out

    def until(self, when: datetime, step: timedelta = timedelta(seconds=5)) -> list[Action]:
        return self.advance(when - self.now, step)

    def hear(
        self, text: str, intent: Intent | None = None, duration_s: float = 1.5
    ) -> list[Action]:
        if intent is None:
            intent = match_intent(text, language=self.language).intent
        speech = Speech(text, intent, duration_s)
        return self._record(self.companion.heard(speech, self.now))

    def hear_for_safety(self, text: str) -> list[Action]:
        """An utterance the safety loop took (a call for help, a cry of pain)."""
        intent = match_intent(text, language=self.language).intent
        return self._record(self.companion.heard_for_safety(Speech(text, intent), self.now))

    def touch(self, kind: TouchKind) -> list[Action]:
        return self._record(self.companion.touched(kind, self.now))

    def presence(self, present: bool) -> list[Action]:
        return self._record(self.companion.presence(present, self.now))

    def said(self, since: datetime | None = None) -> list[str]:
        return [a.text for t, a in self.log if isinstance(a, Say) and (since is None or t >= since)]

    def said_at(self) -> list[tuple[datetime, str]]:
        return [(t, a.text) for t, a in self.log if isinstance(a, Say)]

    def events(self, kind: EventType) -> list[dict[str, Any]]:
        return [
            a.payload.model_dump(mode="json")
            for _, a in self.log
            if isinstance(a, Emit) and a.type is kind
        ]


def said_texts(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


@pytest.fixture(scope="session")
def library() -> ContentLibrary:
    return load_library()


SimFactory = Callable[..., Sim]


@pytest.fixture
def make_sim(library: ContentLibrary) -> SimFactory:
    def make(
        start: datetime | None = None,
        language: str = "ko",
        schedule: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Sim:
        companion = Companion(CompanionSettings(language=language, **settings), library)
        if schedule is not None:
            companion.set_schedule(SchedulePayload.model_validate(schedule))
        return Sim(companion, start or at("09:00"))

    return make
