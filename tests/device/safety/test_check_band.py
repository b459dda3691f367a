"""The check band: "도와 드릴까요?" after a maybe-call or a distress sound; yes, a repeat or
silence escalate; "괜찮아요" or no cancel as a safety_check event without words."""

from datetime import UTC, datetime

import pytest

from device.safety.countdown import Answer, Countdown, Raise, Say, State, Trigger
from device.safety.events import safety_event
from device.speech.prompts import PROMPTS, Prompt
from protocol import EventType, Priority
from protocol.events import CountdownOutcome, EmergencyPayload, SafetyCheckPayload, TriggerSource

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def _raises(actions: list[Raise | Say]) -> list[Raise]:
    return [a for a in actions if isinstance(a, Raise)]


def _says(actions: list[Raise | Say]) -> list[Prompt]:
    return [a.prompt for a in actions if isinstance(a, Say)]


@pytest.mark.parametrize("trigger", [Trigger.CHECK, Trigger.DISTRESS_SOUND])
def test_a_check_asks_if_help_is_needed_and_raises_nothing_yet(trigger: Trigger) -> None:
    c = Countdown(30)
    actions = c.trigger(trigger, 5.0, 0.6, sound="screaming")
    assert _says(actions) == [Prompt.NEED_HELP]
    assert not _raises(actions)
    assert c.state is State.ASKING
    assert c.asking_for_help


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [(Answer.YES, CountdownOutcome.HELP_REQUESTED), (Answer.HELP, CountdownOutcome.HELP_REQUESTED)],
)
def test_a_yes_or_a_call_escalates(answer: Answer, outcome: CountdownOutcome) -> None:
    c = Countdown(30)
    c.trigger(Trigger.CHECK, 0.0, 0.6)
    (raised,) = _raises(c.heard(answer, 3.0))
    assert raised.outcome is outcome
    assert c.state is State.ESCALATED


def test_a_repeated_maybe_call_or_distress_escalates() -> None:
    c = Countdown(30)
    c.trigger(Trigger.CHECK, 0.0, 0.6)
    (raised,) = _raises(c.trigger(Trigger.DISTRESS_SOUND, 4.0, 0.9))
    assert raised.trigger is Trigger.CHECK
    assert raised.outcome is CountdownOutcome.HELP_REQUESTED


@pytest.mark.parametrize("answer", [Answer.NO, Answer.FINE])
def test_no_or_fine_cancels_as_a_safety_check(answer: Answer) -> None:
    c = Countdown(30)
    c.trigger(Trigger.DISTRESS_SOUND, 0.0, 0.8, sound="moaning")
    actions = c.heard(answer, 2.0)
    (raised,) = _raises(actions)
    assert raised.outcome is CountdownOutcome.CANCELLED
    assert raised.sound == "moaning"
    assert _says(actions) == [Prompt.GLAD_YOU_ARE_FINE]
    assert c.state is State.IDLE
    event_type, payload, priority = safety_event(raised, NOW, "ko")
    assert event_type is EventType.SAFETY_CHECK
    assert priority is Priority.NORMAL
    assert payload == SafetyCheckPayload(
        cause=TriggerSource.DISTRESS_SOUND, confidence=0.8, sound="moaning"
    )
    assert "text" not in payload.model_dump()
    assert "words" not in payload.model_dump()


def test_silence_reminds_once_then_escalates_with_the_distress_cause() -> None:
    c = Countdown(30)
    c.trigger(Trigger.DISTRESS_SOUND, 0.0, 0.9, sound="screaming")
    assert _says(c.tick(15.0)) == [Prompt.NEED_HELP_AGAIN]
    (raised,) = _raises(c.tick(30.0))
    assert raised.outcome is CountdownOutcome.SILENCE
    event_type, payload, priority = safety_event(raised, NOW, "ko")
    assert event_type is EventType.EMERGENCY
    assert priority is Priority.CRITICAL
    assert isinstance(payload, EmergencyPayload)
    assert payload.trigger is TriggerSource.DISTRESS_SOUND
    assert payload.intent == "distress"
    assert payload.language is None


def test_a_voice_check_escalates_as_a_voice_emergency() -> None:
    c = Countdown(30)
    c.trigger(Trigger.CHECK, 0.0, 0.55)
    (raised,) = _raises(c.tick(30.0))
    _, payload, _ = safety_event(raised, NOW, "ko")
    assert isinstance(payload, EmergencyPayload)
    assert payload.trigger is TriggerSource.VOICE
    assert payload.intent == "check"


def test_yes_and_no_to_are_you_ok_decide_nothing() -> None:
    """'괜찮으세요?' – '네' is ambiguous (yes I'm OK? yes help?): only FINE or HELP decide."""
    for answer in (Answer.YES, Answer.NO):
        c = Countdown(30)
        c.trigger(Trigger.FALL, 0.0)
        assert not _raises(c.heard(answer, 2.0))
        assert c.state is State.ASKING


def test_the_check_prompts_exist_in_both_languages() -> None:
    for language in ("ko", "en"):
        assert PROMPTS[language][Prompt.NEED_HELP]
        assert PROMPTS[language][Prompt.NEED_HELP_AGAIN]
    assert "도와 드릴까요" in PROMPTS["ko"][Prompt.NEED_HELP]
