"""The daily check-in ("잘 주무셨어요?", "오늘 기분은 어떠세요?") and its gentle follow-ups.

Each question ends in one `check_in` event: the question id, an answer label and, for the
mood question, the mood. Never the words. A sad, lonely or painful answer leads to a
follow-up: the robot listens once, then offers a song or a story.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from device.content.library import Category
from device.dialog.actions import YES_NO, Action, Emit, Expectation, Say, Speech, Start
from device.dialog.intents import Intent
from device.dialog.lines import Line, render
from protocol import EventType
from protocol.events import CheckInPayload

SLEEP = "sleep"
MOOD = "mood"
SPONTANEOUS = "spontaneous"
"""The question id when the senior says "I'm sad" unasked."""

# Answer labels: what leaves the robot.
_SLEEP_ANSWERS = {
    Intent.GOOD: "good",
    Intent.YES: "good",
    Intent.FINE: "good",
    Intent.NO: "poor",
    Intent.SAD: "poor",
    Intent.NOT_YET: "poor",
    Intent.PAIN: "pain",
}
_MOOD_ANSWERS = {
    Intent.GOOD: "good",
    Intent.FINE: "good",
    Intent.YES: "good",
    Intent.THANKS: "good",
    Intent.SAD: "sad",
    Intent.NO: "sad",
    Intent.LONELY: "lonely",
    Intent.PAIN: "pain",
}
MOODS = frozenset({"good", "sad", "lonely", "pain"})


def _event(question: str, answer: str, mood: str | None = None) -> Emit:
    return Emit(EventType.CHECK_IN, CheckInPayload(question_id=question, answer=answer, mood=mood))


@dataclass
class Followup:
    """After a sad, lonely or painful answer: listen once, thank, then offer something nice."""

    mood: str
    language: str
    answer_timeout: timedelta
    question_id: str = "mood_followup"
    name: str = "followup"
    done: bool = False
    asked_at: datetime | None = None
    offering: bool = False

    def begin(self, now: datetime) -> list[Action]:
        """Ask what happened."""
        self.asked_at = now
        line = {"sad": Line.FOLLOW_SAD, "lonely": Line.FOLLOW_LONELY}.get(
            self.mood, Line.FOLLOW_PAIN
        )
        return [Say(render(line, self.language))]

    def _offer(self, now: datetime) -> list[Action]:
        if self.mood == "pain":
            self.done = True
            return []
        self.offering = True
        self.asked_at = now
        line = Line.OFFER_AFTER_SAD if self.mood == "sad" else Line.OFFER_AFTER_LONELY
        return [Say(render(line, self.language))]

    def hear(self, speech: Speech, now: datetime) -> list[Action]:
        """The senior's story (kept on the robot), then their answer to the offer."""
        if not self.offering:
            thanks: list[Action] = [
                _event(self.question_id, "shared", self.mood),
                Say(render(Line.FOLLOW_THANKS, self.language)),
            ]
            return thanks + self._offer(now)
        self.done = True
        if speech.intent in (Intent.YES, Intent.GOOD, Intent.WANT_SONG, Intent.WANT_STORY):
            if speech.intent is Intent.WANT_STORY:
                return [Start(Category.STORY)]
            if speech.intent is Intent.WANT_SONG:
                return [Start(Category.SONG)]
            return [Start(Category.SONG if self.mood == "sad" else Category.STORY)]
        return [Say(render(Line.OKAY_ANYTIME, self.language))]

    def tick(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """Silence: no story to tell is fine; an unanswered offer is a no."""
        if now - max(self.asked_at or now, quiet_since) < self.answer_timeout:
            return []
        if not self.offering:
            return [_event(self.question_id, "no_answer", self.mood), *self._offer(now)]
        self.done = True
        return []

    def expecting(self) -> Expectation | None:
        """The offer is a yes/no question."""
        return YES_NO if self.offering else None

    def interrupt(self, now: datetime) -> list[Action]:
        """Stop at once."""
        self.done = True
        return []


@dataclass
class CheckIn:
    """Today's check-in questions, one after the other."""

    questions: list[str]
    language: str
    answer_timeout: timedelta
    name: str = "check_in"
    done: bool = False
    asked: list[str] = field(default_factory=list)  # the questions already settled
    asked_at: datetime | None = None
    reasked: bool = False
    followup: Followup | None = None

    @property
    def current(self) -> str | None:
        """The question waiting for an answer."""
        left = [q for q in self.questions if q not in self.asked]
        return left[0] if left else None

    def _question_text(self) -> str:
        return render(Line.ASK_SLEEP if self.current == SLEEP else Line.ASK_MOOD, self.language)

    def begin(self, now: datetime) -> list[Action]:
        """Ask the first question."""
        return self._ask(now)

    def _ask(self, now: datetime) -> list[Action]:
        if self.current is None:
            self.done = True
            return []
        self.asked_at = now
        self.reasked = False
        return [Say(self._question_text())]

    def _settle(self, answer: str, now: datetime) -> list[Action]:
        question = self.current
        assert question is not None
        self.asked.append(question)
        mood = answer if question == MOOD and answer in MOODS else None
        actions: list[Action] = [_event(question, answer, mood)]
        if question == SLEEP:
            if answer == "good":
                actions.append(Say(render(Line.SLEEP_GOOD, self.language)))
            elif answer == "poor":
                actions.append(Say(render(Line.SLEEP_POOR, self.language)))
        elif answer == "good":
            actions.append(Say(render(Line.MOOD_GOOD, self.language)))
        elif answer in ("unclear", "no_answer"):
            pass
        if answer in ("sad", "lonely", "pain") and question == MOOD:
            self.followup = Followup(answer, self.language, self.answer_timeout)
            return actions + self.followup.begin(now)
        if answer == "pain":  # a bad night from pain: ask where it hurts
            self.followup = Followup("pain", self.language, self.answer_timeout)
            return actions + self.followup.begin(now)
        return actions + self._ask(now)

    def hear(self, speech: Speech, now: datetime) -> list[Action]:
        """An answer, a "pardon?", a "stop", or something unclear (asked once more)."""
        if self.followup is not None:
            actions = self.followup.hear(speech, now)
            if self.followup.done:
                self.followup = None
                return actions + self._ask(now)
            return actions
        if speech.intent is Intent.STOP:
            self.done = True
            return [Say(render(Line.OKAY_ANYTIME, self.language))]
        if speech.intent is Intent.REPEAT:
            self.asked_at = now
            return [Say(self._question_text())]
        table = _SLEEP_ANSWERS if self.current == SLEEP else _MOOD_ANSWERS
        answer = table.get(speech.intent)
        if answer is not None:
            return self._settle(answer, now)
        if not self.reasked:
            self.reasked = True
            self.asked_at = now
            return [Say(render(Line.REASK, self.language, question=self._question_text()))]
        if self.current == MOOD:
            return [Say(render(Line.MOOD_UNCLEAR, self.language)), *self._settle("unclear", now)]
        return self._settle("unclear", now)

    def tick(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """Silence: ask once more, then record "no_answer"."""
        if self.followup is not None:
            actions = self.followup.tick(now, quiet_since)
            if self.followup.done:
                self.followup = None
                return actions + self._ask(now)
            return actions
        if self.done or now - max(self.asked_at or now, quiet_since) < self.answer_timeout:
            return []
        if not self.reasked:
            self.reasked = True
            self.asked_at = now
            return [Say(self._question_text())]
        return self._settle("no_answer", now)

    def expecting(self) -> Expectation | None:
        """ "잘 주무셨어요?" is a yes/no question; the mood question is not."""
        if self.followup is not None:
            return self.followup.expecting()
        return YES_NO if self.current == SLEEP else None

    def answered_with_pain(self) -> list[Action]:
        """The answer was a cry of pain the safety loop took: record it, ask nothing more."""
        question = self.current
        self.done = True
        if question is None or self.followup is not None:
            return []
        self.asked.append(question)
        return [_event(question, "pain", "pain" if question == MOOD else None)]

    def interrupt(self, now: datetime) -> list[Action]:
        """Stop; today's unasked questions are left (the check-in counts as done)."""
        self.done = True
        return []


def spontaneous_mood(intent: Intent, language: str, answer_timeout: timedelta) -> Followup | None:
    """The senior said "I'm sad" or "I'm lonely" unasked: a follow-up, recorded as a check-in."""
    mood = {Intent.SAD: "sad", Intent.LONELY: "lonely"}.get(intent)
    if mood is None:
        return None
    return Followup(mood, language, answer_timeout, question_id=SPONTANEOUS)
