"""The events a simulated robot reports: a realistic mix of types with plausible payloads.

Pure: the next event is a function of the device's state, a random generator and the time
passed in. Mostly heartbeats and periodic summaries (mood, activity, conversation, touch),
reminders and check-ins, occasional battery reports and device faults, rarely an emergency
or a fall. Payloads are the protocol's own models, so every event is valid on the wire.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from protocol import EventType, encode, make_envelope
from protocol.events import (
    ActivityPayload,
    BatteryPayload,
    CheckInPayload,
    ConversationPayload,
    CountdownOutcome,
    DeviceFaultPayload,
    EmergencyPayload,
    FallPayload,
    HeartbeatPayload,
    MoodPayload,
    Payload,
    ReminderPayload,
    ReminderStatus,
    SelfTest,
    TouchPayload,
    TriggerSource,
)

AGENT_VERSION = "fleet-sim"

DEFAULT_MIX: Mapping[EventType, float] = MappingProxyType(
    {
        EventType.HEARTBEAT: 0.55,
        EventType.MOOD: 0.08,
        EventType.ACTIVITY: 0.09,
        EventType.CONVERSATION: 0.08,
        EventType.TOUCH: 0.09,
        EventType.REMINDER: 0.06,
        EventType.CHECK_IN: 0.025,
        EventType.BATTERY: 0.02,
        EventType.DEVICE_FAULT: 0.003,
        EventType.EMERGENCY: 0.001,
        EventType.FALL: 0.001,
    }
)
"""Share of each event type; sums to 1."""

ALARM_TYPES = frozenset({EventType.EMERGENCY, EventType.FALL, EventType.DEVICE_FAULT})
"""Types for which the cloud opens an alert (a fall cancelled by "I'm fine" does not)."""

# the labels of the shipped emotion and activity models (models/artifacts), as a robot sends
_MOODS = ("neutral", "happy", "sad_lonely", "anxious", "angry", "pain")
_ACTIVITIES = ("still", "light", "walking", "active", "rest")  # activity 2.x (+ the stage's rest)
_REMINDERS = (("med-morning", "medication"), ("med-evening", "medication"), ("water", "hydration"))
_FAULTS = (("hal", "mcu_silent"), ("mic", "no_audio"), ("imu", "stuck"), ("storage", "low_space"))


@dataclass
class DeviceState:
    """What a robot's reports depend on between events."""

    battery_pct: float
    charging: bool
    started: datetime


@dataclass(frozen=True)
class Event:
    """One event ready to publish: its type, whether it should alert, and its JSON bytes."""

    seq: int
    type: EventType
    alarm: bool
    raw: bytes


class EventMix:
    """Draws event types by their shares and builds their payloads."""

    def __init__(self, shares: Mapping[EventType, float] = DEFAULT_MIX) -> None:
        total = sum(shares.values())
        if total <= 0 or any(v < 0 for v in shares.values()):
            raise ValueError("event shares must be >= 0 and not all 0")
        self.types = list(shares)
        self.weights = [shares[t] / total for t in self.types]

    def new_state(self, rng: random.Random, now: datetime) -> DeviceState:
        """A robot somewhere in its battery cycle, started up to a day ago."""
        return DeviceState(
            battery_pct=rng.uniform(35.0, 100.0),
            charging=rng.random() < 0.3,
            started=now - timedelta(seconds=rng.uniform(60.0, 86400.0)),
        )

    def next_event(
        self, device_id: str, seq: int, state: DeviceState, rng: random.Random, now: datetime
    ) -> Event:
        """The device's next event, stamped `now`, as encoded envelope bytes."""
        event_type = rng.choices(self.types, self.weights)[0]
        payload, alarm = _payload(event_type, state, rng, now)
        env = make_envelope(device_id, seq, payload, event_type=event_type, ts=now)
        return Event(seq, event_type, alarm, encode(env))


def _payload(
    event_type: EventType, state: DeviceState, rng: random.Random, now: datetime
) -> tuple[Payload, bool]:
    """A plausible payload for `event_type`, and whether the cloud should raise an alert."""
    start = now - timedelta(minutes=15)
    # The battery drains ~1 %/event while unplugged and charges while plugged in.
    if state.charging:
        state.battery_pct = min(100.0, state.battery_pct + rng.uniform(0.5, 2.0))
        state.charging = state.battery_pct < 100.0
    else:
        state.battery_pct = max(5.0, state.battery_pct - rng.uniform(0.0, 1.0))
        state.charging = state.battery_pct < 25.0 and rng.random() < 0.5
    match event_type:
        case EventType.HEARTBEAT:
            ok = rng.random() > 0.01
            return HeartbeatPayload(
                uptime_s=round((now - state.started).total_seconds(), 1),
                agent_version=AGENT_VERSION,
                outbox_pending=0,
                self_tests=[
                    SelfTest(name="mic", ok=True),
                    SelfTest(name="mcu", ok=ok, detail="" if ok else "no frames for 5 s"),
                ],
                rss_mb=round(rng.uniform(520.0, 640.0), 1),
            ), False
        case EventType.MOOD:
            shares = _shares(rng, _MOODS)
            return MoodPayload(
                period_start=start,
                period_end=now,
                shares=shares,
                valence=round(rng.uniform(-0.4, 0.6), 3),
                arousal=round(rng.uniform(-0.3, 0.4), 3),
                utterances=rng.randint(0, 40),
            ), False
        case EventType.ACTIVITY:
            minutes = _shares(rng, _ACTIVITIES)
            return ActivityPayload(
                period_start=start,
                period_end=now,
                minutes={k: round(v * 15.0, 2) for k, v in minutes.items()},
            ), False
        case EventType.CONVERSATION:
            turns = rng.randint(0, 30)
            return ConversationPayload(
                period_start=start,
                period_end=now,
                turns=turns,
                robot_turns=max(0, turns - rng.randint(0, 3)),
                talk_minutes=round(turns * rng.uniform(0.05, 0.3), 2),
            ), False
        case EventType.TOUCH:
            return TouchPayload(
                period_start=start,
                period_end=now,
                hug=rng.randint(0, 3),
                pat=rng.randint(0, 8),
                squeeze=rng.randint(0, 2),
            ), False
        case EventType.REMINDER:
            reminder_id, kind = rng.choice(_REMINDERS)
            status = rng.choices(list(ReminderStatus), [0.5, 0.42, 0.08])[0]
            return ReminderPayload(
                reminder_id=reminder_id, kind=kind, status=status, attempts=rng.randint(1, 3)
            ), False
        case EventType.CHECK_IN:
            return CheckInPayload(
                question_id="daily-wellbeing",
                answer=rng.choice(("good", "okay", "not_good")),
                mood=rng.choice(_MOODS),
            ), False
        case EventType.BATTERY:
            return BatteryPayload(
                level_pct=round(state.battery_pct, 1), charging=state.charging
            ), False
        case EventType.DEVICE_FAULT:
            component, code = rng.choice(_FAULTS)
            return DeviceFaultPayload(component=component, code=code), True
        case EventType.EMERGENCY:
            voice = rng.random() < 0.6
            return EmergencyPayload(
                trigger=TriggerSource.VOICE if voice else TriggerSource.BUTTON,
                intent="call_for_help" if voice else None,
                confidence=round(rng.uniform(0.7, 1.0), 3) if voice else 1.0,
                language="ko" if voice else None,
                countdown=CountdownOutcome.SKIPPED,
                detected_at=now,
            ), True
        case EventType.FALL:
            outcome = rng.choice(list(CountdownOutcome)[1:])  # a fall always asks first
            return FallPayload(
                confidence=round(rng.uniform(0.6, 0.99), 3),
                countdown=outcome,
                impact_g=round(rng.uniform(2.0, 6.0), 2),
            ), outcome is not CountdownOutcome.CANCELLED
    raise ValueError(f"the fleet mix has no payload for {event_type}")


def _shares(rng: random.Random, labels: tuple[str, ...]) -> dict[str, float]:
    weights = [rng.random() for _ in labels]
    total = sum(weights) or 1.0
    return {label: round(w / total, 3) for label, w in zip(labels, weights, strict=True)}
