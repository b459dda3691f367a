"""The pure rules and the pure sweep: each fires, stays quiet, and (mood) has hysteresis."""

from datetime import UTC, datetime, timedelta

import pytest

from cloud.alerts.rules import (
    AlertDecision,
    MoodSample,
    MoodVerdict,
    RuleSettings,
    assess_mood,
    cancels,
    clears,
    decide,
    missed_in_a_row,
)
from cloud.alerts.sweep import DeviceSnapshot, sweep
from cloud.errors import ConfigError
from cloud.store.models import AlertKind, Senior, Severity
from protocol import Envelope, EventType, make_envelope
from protocol.events import (
    BatteryPayload,
    CheckInPayload,
    CountdownOutcome,
    DeviceFaultPayload,
    EmergencyPayload,
    FallPayload,
    NoResponsePayload,
    Payload,
    ScreeningPayload,
    TouchPayload,
    TriggerSource,
)

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def env(event_type: EventType, payload: Payload) -> Envelope:
    return make_envelope("dev-1", 1, payload, event_type=event_type, ts=NOW)


@pytest.mark.parametrize("trigger", [TriggerSource.VOICE, TriggerSource.BUTTON])
def test_spoken_or_button_emergency_is_critical(trigger: TriggerSource) -> None:
    e = env(EventType.EMERGENCY, EmergencyPayload(trigger=trigger))
    assert decide(e) == AlertDecision(AlertKind.EMERGENCY, Severity.CRITICAL)


def test_fall_after_silence_is_critical_and_cancelled_fall_cancels() -> None:
    silent = env(EventType.FALL, FallPayload(confidence=0.9, countdown=CountdownOutcome.SILENCE))
    fine = env(EventType.FALL, FallPayload(confidence=0.9, countdown=CountdownOutcome.CANCELLED))
    assert decide(silent) == AlertDecision(AlertKind.FALL, Severity.CRITICAL)
    assert decide(fine) is None
    assert cancels(fine) is AlertKind.FALL
    assert cancels(silent) is None


def test_no_response_to_a_check_in_is_critical() -> None:
    e = env(EventType.NO_RESPONSE, NoResponsePayload(context="check_in", waited_s=60))
    assert decide(e) == AlertDecision(AlertKind.NO_RESPONSE, Severity.CRITICAL)


@pytest.mark.parametrize(
    ("level", "charging", "kind"),
    [(10.0, False, AlertKind.LOW_BATTERY), (10.0, True, None), (50.0, False, None)],
)
def test_low_battery_fires_only_when_low_and_not_charging(
    level: float, charging: bool, kind: AlertKind | None
) -> None:
    decision = decide(env(EventType.BATTERY, BatteryPayload(level_pct=level, charging=charging)))
    assert (decision.kind if decision else None) is kind


def test_battery_clears_with_hysteresis() -> None:
    assert AlertKind.LOW_BATTERY not in clears(
        env(EventType.BATTERY, BatteryPayload(level_pct=20, charging=False))
    )
    assert AlertKind.LOW_BATTERY in clears(
        env(EventType.BATTERY, BatteryPayload(level_pct=20, charging=True))
    )
    assert AlertKind.LOW_BATTERY in clears(
        env(EventType.BATTERY, BatteryPayload(level_pct=35, charging=False))
    )


def test_device_fault_is_minor() -> None:
    e = env(EventType.DEVICE_FAULT, DeviceFaultPayload(component="mic", code="no_signal"))
    assert decide(e) == AlertDecision(AlertKind.DEVICE_FAULT, Severity.MINOR)


@pytest.mark.parametrize(
    ("instrument", "score", "complete", "fires"),
    [
        ("phq9", 12, True, True),
        ("phq9", 9, True, False),
        ("phq9", 12, False, False),
        ("unknown_test", 99, True, False),
    ],
)
def test_screening_over_its_threshold(
    instrument: str, score: float, complete: bool, fires: bool
) -> None:
    p = ScreeningPayload(instrument=instrument, answers=[1], score=score, complete=complete)
    assert (decide(env(EventType.SCREENING, p)) is not None) is fires


def test_screening_threshold_comes_from_the_senior() -> None:
    settings = RuleSettings(screening_thresholds={"phq9": 5.0})
    p = ScreeningPayload(instrument="phq9", answers=[1], score=6, complete=True)
    assert decide(env(EventType.SCREENING, p), settings) is not None


def test_touch_is_a_life_sign_that_clears_inactivity() -> None:
    touched = env(EventType.TOUCH, TouchPayload(period_start=NOW, period_end=NOW, hug=1))
    untouched = env(EventType.TOUCH, TouchPayload(period_start=NOW, period_end=NOW))
    assert AlertKind.INACTIVITY in clears(touched)
    assert AlertKind.INACTIVITY not in clears(untouched)


def test_an_unanswered_check_in_or_screening_is_no_sign_of_life() -> None:
    answered = env(EventType.CHECK_IN, CheckInPayload(question_id="mood", answer="good"))
    silent = env(EventType.CHECK_IN, CheckInPayload(question_id="mood", answer="no_answer"))
    assert AlertKind.INACTIVITY in clears(answered)
    assert AlertKind.INACTIVITY not in clears(silent)
    nobody = ScreeningPayload(
        instrument="ucla3", answers=[None, None, None], score=0, complete=False
    )
    someone = ScreeningPayload(instrument="ucla3", answers=[1, None, None], score=1, complete=False)
    assert AlertKind.INACTIVITY not in clears(env(EventType.SCREENING, nobody))
    assert AlertKind.INACTIVITY in clears(env(EventType.SCREENING, someone))


@pytest.mark.parametrize(
    ("statuses", "fires"),
    [
        (["missed", "missed", "missed"], True),
        (["missed", "missed", "confirmed", "missed"], False),
        (["missed", "missed"], False),
        (["missed", "missed", "missed", "confirmed"], True),
    ],
)
def test_missed_medication_needs_n_in_a_row(statuses: list[str], fires: bool) -> None:
    assert missed_in_a_row(statuses, 3) is fires


def test_rule_settings_come_from_the_senior_row() -> None:
    senior = Senior(
        id="s1",
        inactivity_hours=12.0,
        missed_medication_threshold=2,
        settings={"rules": {"mood_drop": 0.5, "screening_thresholds": {"phq9": 15}}},
    )
    s = RuleSettings.from_senior(senior)
    assert (s.inactivity_hours, s.missed_medication_threshold, s.mood_drop) == (12.0, 2, 0.5)
    assert s.screening_thresholds["phq9"] == 15
    assert s.screening_thresholds["gds15"] == 6.0


def test_unknown_rule_settings_are_named() -> None:
    senior = Senior(
        id="s1", inactivity_hours=24.0, missed_medication_threshold=3, settings={"rules": {"x": 1}}
    )
    with pytest.raises(ConfigError, match=r"senior s1: unknown rule settings \['x'\]"):
        RuleSettings.from_senior(senior)


def mood(week: list[float], baseline: list[float]) -> list[MoodSample]:
    """Daily samples: `baseline` in the weeks before, `week` in the last seven days."""
    out = [MoodSample(NOW - timedelta(days=8 + i), v) for i, v in enumerate(baseline)]
    return out + [MoodSample(NOW - timedelta(days=i, hours=1), v) for i, v in enumerate(week)]


SETTINGS = RuleSettings()


def test_mood_well_below_baseline_raises() -> None:
    r = assess_mood(mood([0.0] * 5, [0.5] * 10), NOW, False, SETTINGS)
    assert r.verdict is MoodVerdict.RAISE
    assert r.baseline == pytest.approx(0.5)


def test_mood_a_little_below_baseline_does_not_raise() -> None:
    assert assess_mood(mood([0.3] * 5, [0.5] * 10), NOW, False, SETTINGS).verdict is (
        MoodVerdict.HOLD
    )


def test_mood_hysteresis_keeps_the_alert_until_well_recovered() -> None:
    samples = mood([0.3] * 5, [0.5] * 10)  # drop 0.2: between recover (0.15) and raise (0.3)
    assert assess_mood(samples, NOW, True, SETTINGS).verdict is MoodVerdict.HOLD
    recovered = mood([0.4] * 5, [0.5] * 10)
    assert assess_mood(recovered, NOW, True, SETTINGS).verdict is MoodVerdict.CLEAR


def test_mood_does_not_raise_twice() -> None:
    assert assess_mood(mood([0.0] * 5, [0.5] * 10), NOW, True, SETTINGS).verdict is (
        MoodVerdict.HOLD
    )


def test_mood_needs_enough_samples() -> None:
    assert assess_mood(mood([0.0] * 2, [0.5] * 10), NOW, False, SETTINGS).verdict is (
        MoodVerdict.HOLD
    )
    assert assess_mood(mood([0.0] * 5, [0.5] * 2), NOW, False, SETTINGS).verdict is (
        MoodVerdict.HOLD
    )


def test_mood_fixed_baseline_from_settings() -> None:
    settings = RuleSettings(mood_baseline=0.6)
    assert assess_mood(mood([0.2] * 5, []), NOW, False, settings).verdict is MoodVerdict.RAISE


def snapshot(**kw: object) -> DeviceSnapshot:
    base: dict[str, object] = {
        "device_id": "d1",
        "online": True,
        "first_seen": NOW - timedelta(days=30),
        "last_seen": NOW - timedelta(seconds=30),
        "last_status_at": NOW - timedelta(days=1),
        "last_heartbeat_at": NOW - timedelta(seconds=30),
        "failed_self_tests": (),
        "last_life_sign_at": NOW - timedelta(hours=1),
    }
    return DeviceSnapshot(**{**base, **kw})  # type: ignore[arg-type]


def found(d: DeviceSnapshot) -> dict[AlertKind, bool]:
    return {f.kind: f.active for f in sweep([d], NOW)}


def test_sweep_healthy_active_senior_raises_nothing() -> None:
    assert found(snapshot()) == {AlertKind.DEVICE_OFFLINE: False, AlertKind.INACTIVITY: False}


def test_sweep_inactivity_fires_after_the_seniors_hours() -> None:
    idle = snapshot(last_life_sign_at=NOW - timedelta(hours=25))
    assert found(idle)[AlertKind.INACTIVITY] is True
    short = snapshot(
        last_life_sign_at=NOW - timedelta(hours=7), settings=RuleSettings(inactivity_hours=6)
    )
    assert found(short)[AlertKind.INACTIVITY] is True


@pytest.mark.parametrize(
    "sick",
    [
        {"failed_self_tests": ("pir",)},
        {"last_heartbeat_at": NOW - timedelta(hours=1)},
        {"online": False, "last_status_at": NOW - timedelta(minutes=10)},
    ],
)
def test_sweep_inactivity_only_while_the_device_is_healthy(sick: dict[str, object]) -> None:
    d = snapshot(last_life_sign_at=NOW - timedelta(hours=30), **sick)
    assert AlertKind.INACTIVITY not in found(d)


def test_sweep_lost_heartbeat_is_device_offline() -> None:
    assert found(snapshot(last_heartbeat_at=NOW - timedelta(minutes=11)))[AlertKind.DEVICE_OFFLINE]


def test_sweep_offline_status_needs_a_grace_period() -> None:
    assert not found(snapshot(online=False, last_status_at=NOW - timedelta(seconds=30)))[
        AlertKind.DEVICE_OFFLINE
    ]
    assert found(snapshot(online=False, last_status_at=NOW - timedelta(minutes=3)))[
        AlertKind.DEVICE_OFFLINE
    ]
