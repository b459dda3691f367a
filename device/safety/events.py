"""Turn the safety loop's decisions into typed events for the outbox (pure)."""

from datetime import datetime

from device.safety.countdown import CHECK_TRIGGERS, Raise, Trigger
from protocol.events import (
    CountdownOutcome,
    EmergencyPayload,
    EventType,
    FallPayload,
    Payload,
    Priority,
    SafetyCheckPayload,
    TriggerSource,
)

_INTENT = {
    Trigger.SPOKEN_HELP: "help",
    Trigger.SPOKEN_FELL: "fell",
    Trigger.SPOKEN_PAIN: "pain",
    Trigger.BUTTON: "button",
    Trigger.CHECK: "check",
    Trigger.DISTRESS_SOUND: "distress",
}
_SOURCE = {
    Trigger.BUTTON: TriggerSource.BUTTON,
    Trigger.DISTRESS_SOUND: TriggerSource.DISTRESS_SOUND,
}


def safety_event(
    decision: Raise, detected_at: datetime, language: str
) -> tuple[EventType, Payload, Priority]:
    """The event for a decision: critical unless the senior said they are fine (a near miss)."""
    priority = (
        Priority.NORMAL if decision.outcome is CountdownOutcome.CANCELLED else Priority.CRITICAL
    )
    if decision.trigger is Trigger.FALL:
        return (
            EventType.FALL,
            FallPayload(
                confidence=round(decision.confidence, 3),
                countdown=decision.outcome,
                impact_g=decision.impact_g,
            ),
            priority,
        )
    source = _SOURCE.get(decision.trigger, TriggerSource.VOICE)
    if decision.trigger in CHECK_TRIGGERS and decision.outcome is CountdownOutcome.CANCELLED:
        # "do you need help?" – "no, I'm fine": recorded, never the words or the sound
        check = SafetyCheckPayload(
            cause=source,
            confidence=round(decision.confidence, 3),
            countdown=decision.outcome,
            sound=decision.sound,
        )
        return EventType.SAFETY_CHECK, check, priority
    payload = EmergencyPayload(
        trigger=source,
        intent=_INTENT[decision.trigger],
        confidence=round(decision.confidence, 3),
        language=language if source is TriggerSource.VOICE else None,
        countdown=decision.outcome,
        detected_at=detected_at,
    )
    return EventType.EMERGENCY, payload, priority
