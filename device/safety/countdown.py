"""The "are you OK?" countdown as a pure state machine; the caller passes the time in.

A spoken call for help escalates at once. A fall, a help-button press or words like "I fell"
start a countdown: "I'm fine" cancels it (a near miss, still logged), a call for help or
silence until the deadline escalates.

The check band (issue 12): an utterance that may be a call for help (Trigger.CHECK) or a
wordless distress sound (Trigger.DISTRESS_SOUND) makes the robot ask "도와 드릴까요?". There a
yes, a repeated call or distress sound, or silence escalate; "괜찮아요" or a no cancel (a
`safety_check` event, never the words).
"""

from dataclasses import dataclass, field
from enum import StrEnum

from device.speech.prompts import Prompt
from protocol.envelope import ModelRef
from protocol.events import CountdownOutcome


class Trigger(StrEnum):
    """What set the safety loop off."""

    SPOKEN_HELP = "spoken_help"
    SPOKEN_FELL = "spoken_fell"
    SPOKEN_PAIN = "spoken_pain"
    BUTTON = "button"
    FALL = "fall"
    CHECK = "check"  # maybe a call for help (the evidence's middle band)
    DISTRESS_SOUND = "distress_sound"  # a scream, moaning, crying or panting


CHECK_TRIGGERS = frozenset({Trigger.CHECK, Trigger.DISTRESS_SOUND})
"""Triggers that ask "do you need help?": a yes is a call for help, a no cancels."""


class Answer(StrEnum):
    """What the senior said, as far as the safety loop cares."""

    FINE = "fine"
    HELP = "help"
    YES = "yes"  # to "do you need help?": help; to "are you OK?": nothing decided
    NO = "no"  # to "do you need help?": fine; to "are you OK?": nothing decided
    OTHER = "other"


class State(StrEnum):
    """Where the loop is."""

    IDLE = "idle"
    ASKING = "asking"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class Say:
    """Speak a prompt."""

    prompt: Prompt
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Raise:
    """Write a safety event to the outbox: an emergency, a fall, or a near miss."""

    trigger: Trigger
    outcome: CountdownOutcome
    confidence: float
    started_s: float
    model: ModelRef | None = None  # the model that detected it (a fall), for the event
    impact_g: float | None = None
    sound: str | None = None  # the sound class that set it off (a distress sound)


Action = Say | Raise


@dataclass
class Countdown:
    """One senior's safety loop. Feed it triggers, answers and ticks; act on what it returns."""

    countdown_s: float = 30.0
    state: State = State.IDLE
    _trigger: Trigger | None = field(default=None, repr=False)
    _confidence: float = field(default=1.0, repr=False)
    _started_s: float = field(default=0.0, repr=False)
    _reminded: bool = field(default=False, repr=False)
    _model: ModelRef | None = field(default=None, repr=False)
    _impact_g: float | None = field(default=None, repr=False)
    _sound: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.countdown_s <= 0:
            raise ValueError(f"countdown_s must be positive, not {self.countdown_s}")

    @property
    def deadline_s(self) -> float | None:
        """When silence escalates, while a countdown runs."""
        return self._started_s + self.countdown_s if self.state is State.ASKING else None

    def trigger(
        self,
        trigger: Trigger,
        now_s: float,
        confidence: float = 1.0,
        *,
        model: ModelRef | None = None,
        impact_g: float | None = None,
        sound: str | None = None,
    ) -> list[Action]:
        """Something alarming happened (`model`, `impact_g`: what detected a fall, and how hard;
        `sound`: the class of a distress sound)."""
        if trigger is Trigger.SPOKEN_HELP:
            if self.state is State.ASKING:
                return self._escalate(CountdownOutcome.HELP_REQUESTED)
            self._start(trigger, now_s, confidence)
            return self._escalate(CountdownOutcome.SKIPPED)
        if self.state is State.ASKING:
            if trigger in CHECK_TRIGGERS and self._trigger in CHECK_TRIGGERS:
                return self._escalate(CountdownOutcome.HELP_REQUESTED)  # asked, and heard again
            return []  # already asking; the running countdown covers it
        if self.state is State.ESCALATED:
            # Help is already called: tell the cloud again (it deduplicates) and reassure.
            self._start(trigger, now_s, confidence, model, impact_g, sound)
            return self._escalate(CountdownOutcome.SKIPPED)
        self._start(trigger, now_s, confidence, model, impact_g, sound)
        self.state = State.ASKING
        return [Say(Prompt.NEED_HELP if trigger in CHECK_TRIGGERS else Prompt.ARE_YOU_OK)]

    @property
    def asking_for_help(self) -> bool:
        """The robot asked "do you need help?" (a yes means help) and waits for the answer."""
        return self.state is State.ASKING and self._trigger in CHECK_TRIGGERS

    def heard(self, answer: Answer, now_s: float) -> list[Action]:
        """The senior said something; only matters while asking (or a new call for help)."""
        if answer is Answer.HELP:
            return self.trigger(Trigger.SPOKEN_HELP, now_s)
        if self.state is not State.ASKING:
            return []
        if self._trigger in CHECK_TRIGGERS:
            if answer is Answer.YES:
                return self._escalate(CountdownOutcome.HELP_REQUESTED)
            if answer is Answer.NO:
                answer = Answer.FINE
        if answer is Answer.FINE:
            assert self._trigger is not None
            near_miss = Raise(
                self._trigger,
                CountdownOutcome.CANCELLED,
                self._confidence,
                self._started_s,
                self._model,
                self._impact_g,
                self._sound,
            )
            self._reset()
            return [near_miss, Say(Prompt.GLAD_YOU_ARE_FINE)]
        return self.tick(now_s)

    def tick(self, now_s: float) -> list[Action]:
        """Time passed: remind once halfway, escalate at the deadline."""
        if self.state is not State.ASKING:
            return []
        if now_s >= self._started_s + self.countdown_s:  # same sum as deadline_s: no float drift
            return self._escalate(CountdownOutcome.SILENCE)
        if not self._reminded and now_s >= self._started_s + self.countdown_s / 2:
            self._reminded = True
            again = Prompt.NEED_HELP_AGAIN if self.asking_for_help else Prompt.ARE_YOU_OK_AGAIN
            return [Say(again)]
        return []

    def acknowledged(self, by: str) -> list[Action]:
        """A caregiver acknowledged the alert: tell the senior, and stand down."""
        if self.state is not State.ESCALATED:
            return []
        self._reset()
        return [Say(Prompt.HELP_ACKNOWLEDGED, (("who", by),))]

    def _start(
        self,
        trigger: Trigger,
        now_s: float,
        confidence: float,
        model: ModelRef | None = None,
        impact_g: float | None = None,
        sound: str | None = None,
    ) -> None:
        self._trigger = trigger
        self._confidence = confidence
        self._started_s = now_s
        self._reminded = False
        self._model = model
        self._impact_g = impact_g
        self._sound = sound

    def _escalate(self, outcome: CountdownOutcome) -> list[Action]:
        assert self._trigger is not None
        again = self.state is State.ESCALATED
        self.state = State.ESCALATED
        alert = Raise(
            self._trigger,
            outcome,
            self._confidence,
            self._started_s,
            self._model,
            self._impact_g,
            self._sound,
        )
        return [alert, Say(Prompt.STILL_WITH_YOU if again else Prompt.HELP_CALLED)]

    def _reset(self) -> None:
        self.state = State.IDLE
        self._trigger = None
        self._reminded = False
