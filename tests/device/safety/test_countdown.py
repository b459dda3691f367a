"""The "are you OK?" countdown, exhaustively and without sleeping."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.safety.countdown import Answer, Countdown, Raise, Say, State, Trigger
from device.safety.events import safety_event
from device.speech.prompts import PROMPTS, Prompt, render
from protocol import EventType, Priority
from protocol.events import CountdownOutcome, EmergencyPayload, FallPayload, TriggerSource


def _raises(actions: list[Raise | Say]) -> list[Raise]:
    return [a for a in actions if isinstance(a, Raise)]


def _says(actions: list[Raise | Say]) -> list[Prompt]:
    return [a.prompt for a in actions if isinstance(a, Say)]


def test_spoken_call_for_help_skips_the_countdown() -> None:
    c = Countdown(30)
    actions = c.trigger(Trigger.SPOKEN_HELP, 10.0, confidence=0.8)
    assert _raises(actions) == [Raise(Trigger.SPOKEN_HELP, CountdownOutcome.SKIPPED, 0.8, 10.0)]
    assert _says(actions) == [Prompt.HELP_CALLED]
    assert c.state is State.ESCALATED


def test_fall_asks_are_you_ok_and_raises_nothing_yet() -> None:
    c = Countdown(30)
    actions = c.trigger(Trigger.FALL, 0.0)
    assert _says(actions) == [Prompt.ARE_YOU_OK]
    assert not _raises(actions)
    assert c.state is State.ASKING
    assert c.deadline_s == 30.0


def test_countdown_escalates_when_senior_stays_silent() -> None:
    c = Countdown(30)
    c.trigger(Trigger.FALL, 100.0)
    assert not _raises(c.tick(129.9))
    actions = c.tick(130.0)
    assert _raises(actions) == [Raise(Trigger.FALL, CountdownOutcome.SILENCE, 1.0, 100.0)]
    assert c.state is State.ESCALATED


def test_countdown_reminds_once_halfway() -> None:
    c = Countdown(30)
    c.trigger(Trigger.BUTTON, 0.0)
    assert c.tick(14.9) == []
    assert _says(c.tick(15.0)) == [Prompt.ARE_YOU_OK_AGAIN]
    assert c.tick(20.0) == []


def test_im_fine_cancels_and_logs_a_near_miss() -> None:
    c = Countdown(30)
    c.trigger(Trigger.FALL, 0.0, confidence=0.7)
    actions = c.heard(Answer.FINE, 5.0)
    assert _raises(actions) == [Raise(Trigger.FALL, CountdownOutcome.CANCELLED, 0.7, 0.0)]
    assert _says(actions) == [Prompt.GLAD_YOU_ARE_FINE]
    assert c.state is State.IDLE
    assert c.tick(100.0) == []


def test_call_for_help_during_countdown_escalates_at_once() -> None:
    c = Countdown(30)
    c.trigger(Trigger.SPOKEN_FELL, 0.0)
    actions = c.heard(Answer.HELP, 3.0)
    assert _raises(actions)[0].outcome is CountdownOutcome.HELP_REQUESTED
    assert c.state is State.ESCALATED


def test_other_words_during_countdown_do_not_cancel_it() -> None:
    c = Countdown(30)
    c.trigger(Trigger.FALL, 0.0)
    assert c.heard(Answer.OTHER, 5.0) == []
    assert c.state is State.ASKING
    assert _raises(c.heard(Answer.OTHER, 31.0))[0].outcome is CountdownOutcome.SILENCE


def test_im_fine_when_nothing_happened_does_nothing() -> None:
    c = Countdown(30)
    assert c.heard(Answer.FINE, 0.0) == []
    assert c.state is State.IDLE


def test_second_call_for_help_after_escalation_reports_again_and_reassures() -> None:
    c = Countdown(30)
    c.trigger(Trigger.SPOKEN_HELP, 0.0)
    actions = c.trigger(Trigger.SPOKEN_HELP, 60.0)
    assert len(_raises(actions)) == 1
    assert _says(actions) == [Prompt.STILL_WITH_YOU]


def test_acknowledgement_tells_the_senior_who_is_coming_and_stands_down() -> None:
    c = Countdown(30)
    c.trigger(Trigger.SPOKEN_HELP, 0.0)
    actions = c.acknowledged("지은")
    assert actions == [Say(Prompt.HELP_ACKNOWLEDGED, (("who", "지은"),))]
    assert c.state is State.IDLE
    assert c.acknowledged("지은") == []


def test_countdown_rejects_a_non_positive_duration() -> None:
    with pytest.raises(ValueError, match="countdown_s"):
        Countdown(0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["trigger", "heard", "tick", "ack"]),
            st.sampled_from(list(Trigger)),
            st.sampled_from(list(Answer)),
            st.floats(min_value=0, max_value=5, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_every_escalation_raises_exactly_one_event_and_silence_always_escalates(
    steps: list[tuple[str, Trigger, Answer, float]],
) -> None:
    c = Countdown(30)
    now = 0.0
    for op, trig, ans, dt in steps:
        now += dt
        before = c.state
        if op == "trigger":
            actions = c.trigger(trig, now)
        elif op == "heard":
            actions = c.heard(ans, now)
        elif op == "tick":
            actions = c.tick(now)
        else:
            actions = c.acknowledged("x")
        assert len(_raises(actions)) <= 1
        if c.state is State.ESCALATED and before is not State.ESCALATED:
            assert len(_raises(actions)) == 1
    if c.state is State.ASKING:
        assert c.deadline_s is not None
        assert _raises(c.tick(c.deadline_s))[0].outcome is CountdownOutcome.SILENCE


def test_safety_events_are_critical_except_near_misses() -> None:
    at = datetime(2026, 11, 27, tzinfo=UTC)
    t, p, prio = safety_event(
        Raise(Trigger.SPOKEN_HELP, CountdownOutcome.SKIPPED, 0.9, 0), at, "ko"
    )
    assert (t, prio) == (EventType.EMERGENCY, Priority.CRITICAL)
    assert isinstance(p, EmergencyPayload)
    assert (p.trigger, p.intent, p.language) == (TriggerSource.VOICE, "help", "ko")
    t, p, prio = safety_event(Raise(Trigger.FALL, CountdownOutcome.CANCELLED, 0.6, 0), at, "ko")
    assert (t, prio) == (EventType.FALL, Priority.NORMAL)
    assert isinstance(p, FallPayload)
    _, p, _ = safety_event(Raise(Trigger.BUTTON, CountdownOutcome.SILENCE, 1.0, 0), at, "en")
    assert isinstance(p, EmergencyPayload)
    assert (p.trigger, p.language) == (TriggerSource.BUTTON, None)


def test_every_prompt_exists_in_korean_and_english() -> None:
    for language in ("ko", "en"):
        assert set(PROMPTS[language]) == set(Prompt)
    assert "지은" in render(Prompt.HELP_ACKNOWLEDGED, "ko", who="지은")
    assert render(Prompt.HELP_CALLED, "en").startswith("I have called")
