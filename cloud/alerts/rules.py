"""Pure alert rules: which events open, cancel or clear an alert, with per-senior settings."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cloud.errors import ConfigError
from cloud.store.models import AlertKind, Senior, Severity
from protocol import Envelope, EventType
from protocol.events import CountdownOutcome, ReminderStatus

# Validated instruments' usual cut-offs (score at or above is flagged for a human to look at).
DEFAULT_SCREENING_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {"phq9": 10.0, "phq2": 3.0, "gds15": 6.0, "sgds_k": 8.0, "gds_k": 8.0}
)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """One senior's rule settings: Senior columns plus optional overrides in `Senior.settings`."""

    inactivity_hours: float = 24.0
    missed_medication_threshold: int = 3
    offline_after_s: float = 600.0  # no heartbeat for this long: device offline
    offline_grace_s: float = 120.0  # an `offline` status (last will) this old: device offline
    low_battery_pct: float = 15.0
    battery_ok_pct: float = 30.0  # hysteresis: a low-battery alert clears at or above this
    mood_window_days: float = 7.0
    mood_baseline_days: float = 28.0
    mood_min_samples: int = 3
    mood_drop: float = 0.3  # a decline: the week's mean this far below the baseline
    mood_recover: float = 0.15  # recovered: the week's mean within this of the baseline
    mood_baseline: float | None = None  # fixed baseline; None: the weeks before this one
    screening_thresholds: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_SCREENING_THRESHOLDS
    )

    @classmethod
    def from_senior(cls, senior: Senior | None) -> "RuleSettings":
        """Settings for `senior` (defaults for a device nobody is linked to)."""
        if senior is None:
            return cls()
        overrides: dict[str, Any] = dict(senior.settings.get("rules", {}) or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"senior {senior.id}: unknown rule settings {unknown}")
        if "screening_thresholds" in overrides:
            overrides["screening_thresholds"] = {
                **DEFAULT_SCREENING_THRESHOLDS,
                **overrides["screening_thresholds"],
            }
        try:
            return cls(
                **{
                    "inactivity_hours": float(senior.inactivity_hours),
                    "missed_medication_threshold": int(senior.missed_medication_threshold),
                    **overrides,
                }
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"senior {senior.id}: bad rule settings: {e}") from e


DEFAULT_RULES = RuleSettings()


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """An alert the event calls for."""

    kind: AlertKind
    severity: Severity


SEVERITY_OF: Mapping[AlertKind, Severity] = MappingProxyType(
    {
        AlertKind.EMERGENCY: Severity.CRITICAL,
        AlertKind.DISTRESS_SOUND: Severity.CRITICAL,
        AlertKind.FALL: Severity.CRITICAL,
        AlertKind.NO_RESPONSE: Severity.CRITICAL,
        AlertKind.INACTIVITY: Severity.MAJOR,
        AlertKind.DEVICE_OFFLINE: Severity.MAJOR,
        AlertKind.MISSED_MEDICATION: Severity.MINOR,
        AlertKind.MOOD_DECLINE: Severity.WARNING,
        AlertKind.SCREENING: Severity.WARNING,
        AlertKind.LOW_BATTERY: Severity.WARNING,
        AlertKind.DEVICE_FAULT: Severity.MINOR,
    }
)

# Kinds about the robot, not the person: they go to the device audience, not the family.
DEVICE_KINDS = frozenset({AlertKind.DEVICE_OFFLINE, AlertKind.LOW_BATTERY, AlertKind.DEVICE_FAULT})

# Kinds that describe an ongoing condition: an acknowledged alert still absorbs repeats, and
# the alert clears (expires, or resolves when acknowledged) when the condition ends.
CONDITION_KINDS = frozenset(
    {
        AlertKind.INACTIVITY,
        AlertKind.DEVICE_OFFLINE,
        AlertKind.LOW_BATTERY,
        AlertKind.MOOD_DECLINE,
        AlertKind.MISSED_MEDICATION,
    }
)

_EPISODE_KIND: Mapping[EventType, AlertKind] = MappingProxyType(
    {
        EventType.EMERGENCY: AlertKind.EMERGENCY,
        EventType.FALL: AlertKind.FALL,
        EventType.NO_RESPONSE: AlertKind.NO_RESPONSE,
        EventType.INACTIVITY: AlertKind.INACTIVITY,
        EventType.DEVICE_FAULT: AlertKind.DEVICE_FAULT,
    }
)


def _decision(kind: AlertKind) -> AlertDecision:
    return AlertDecision(kind=kind, severity=SEVERITY_OF[kind])


def decide(envelope: Envelope, settings: RuleSettings = DEFAULT_RULES) -> AlertDecision | None:
    """The alert one event calls for on its own, or None (also for a cancelled countdown)."""
    p = envelope.payload
    if envelope.type in _EPISODE_KIND:
        if p.get("countdown") == CountdownOutcome.CANCELLED.value:
            return None  # "I'm fine": a near miss, stored as an event but nobody is alerted
        if envelope.type is EventType.EMERGENCY and p.get("trigger") == "distress_sound":
            return _decision(AlertKind.DISTRESS_SOUND)  # wordless: say so to the family
        return _decision(_EPISODE_KIND[envelope.type])
    if envelope.type is EventType.BATTERY:
        if not p.get("charging") and float(p["level_pct"]) <= settings.low_battery_pct:
            return _decision(AlertKind.LOW_BATTERY)
        return None
    if envelope.type is EventType.SCREENING:
        threshold = settings.screening_thresholds.get(str(p["instrument"]))
        if threshold is not None and p.get("complete") and float(p["score"]) >= threshold:
            return _decision(AlertKind.SCREENING)
    return None


def cancels(envelope: Envelope) -> AlertKind | None:
    """The alert kind an event's cancelled countdown ("I'm fine") cancels, if any."""
    kind = _EPISODE_KIND.get(envelope.type)
    if kind is not None and envelope.payload.get("countdown") == CountdownOutcome.CANCELLED.value:
        return kind
    return None


def is_life_sign(event_type: str, payload: Mapping[str, Any]) -> bool:
    """True when an event shows the senior present: presence, touch or voice."""
    if event_type == EventType.EMERGENCY:
        return True
    if event_type == EventType.CHECK_IN:  # an unanswered check-in shows nobody is there
        return payload.get("answer") not in (None, "no_answer")
    if event_type == EventType.SCREENING:  # only answered items show someone answered
        return any(a is not None for a in payload.get("answers", []))
    if event_type == EventType.TOUCH:
        return sum(int(payload.get(k, 0)) for k in ("hug", "pat", "squeeze")) > 0
    if event_type == EventType.ACTIVITY:
        return sum(float(v) for v in payload.get("minutes", {}).values()) > 0
    if event_type == EventType.CONVERSATION:
        return int(payload.get("turns", 0)) > 0
    if event_type == EventType.MOOD:
        return int(payload.get("utterances", 0)) > 0
    if event_type == EventType.REMINDER:
        return payload.get("status") == ReminderStatus.CONFIRMED.value
    return False


LIFE_SIGN_TYPES = tuple(
    t.value
    for t in (
        EventType.CHECK_IN,
        EventType.EMERGENCY,
        EventType.SCREENING,
        EventType.TOUCH,
        EventType.ACTIVITY,
        EventType.CONVERSATION,
        EventType.MOOD,
        EventType.REMINDER,
    )
)


def clears(envelope: Envelope, settings: RuleSettings = DEFAULT_RULES) -> frozenset[AlertKind]:
    """Condition alerts this event shows are over (device back, senior active, battery fine)."""
    p = envelope.payload
    kinds: set[AlertKind] = set()
    if envelope.type is EventType.HEARTBEAT:
        kinds.add(AlertKind.DEVICE_OFFLINE)
    if is_life_sign(envelope.type, p):
        kinds.add(AlertKind.INACTIVITY)
    if envelope.type is EventType.BATTERY and (
        p.get("charging") or float(p["level_pct"]) >= settings.battery_ok_pct
    ):
        kinds.add(AlertKind.LOW_BATTERY)
    if envelope.type is EventType.REMINDER and p.get("status") == ReminderStatus.CONFIRMED.value:
        kinds.add(AlertKind.MISSED_MEDICATION)
    return frozenset(kinds)


def missed_in_a_row(statuses_newest_first: Sequence[str], threshold: int) -> bool:
    """True when the newest `threshold` medication reminders were all missed."""
    if threshold < 1 or len(statuses_newest_first) < threshold:
        return False
    return all(s == ReminderStatus.MISSED.value for s in statuses_newest_first[:threshold])


class MoodVerdict(StrEnum):
    """What the mood rule says: open an alert, clear the open one, or leave things as they are."""

    RAISE = "raise"
    CLEAR = "clear"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class MoodSample:
    """One `mood` summary: when its period ended and its mean valence (-1..1)."""

    at: datetime
    valence: float


@dataclass(frozen=True, slots=True)
class MoodAssessment:
    """The rule's verdict with the numbers behind it (for the alert's note)."""

    verdict: MoodVerdict
    week_mean: float | None = None
    baseline: float | None = None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def assess_mood(
    samples: Sequence[MoodSample], now: datetime, declined: bool, settings: RuleSettings
) -> MoodAssessment:
    """Compare the last week's mean valence with the senior's baseline, with hysteresis."""
    week_start = now - timedelta(days=settings.mood_window_days)
    week = [s.valence for s in samples if week_start < s.at <= now]
    if len(week) < settings.mood_min_samples:
        return MoodAssessment(MoodVerdict.HOLD)
    baseline = settings.mood_baseline
    if baseline is None:
        base_start = week_start - timedelta(days=settings.mood_baseline_days)
        before = [s.valence for s in samples if base_start < s.at <= week_start]
        if len(before) < settings.mood_min_samples:
            return MoodAssessment(MoodVerdict.HOLD, _mean(week))
        baseline = _mean(before)
    week_mean = _mean(week)
    drop = baseline - week_mean
    if not declined and drop >= settings.mood_drop:
        return MoodAssessment(MoodVerdict.RAISE, week_mean, baseline)
    if declined and drop <= settings.mood_recover:
        return MoodAssessment(MoodVerdict.CLEAR, week_mean, baseline)
    return MoodAssessment(MoodVerdict.HOLD, week_mean, baseline)
