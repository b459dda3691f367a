"""Pure alert rules: which events open an alert, of what kind and severity."""

from dataclasses import dataclass

from cloud.store.models import AlertKind, Severity
from protocol import Envelope, EventType
from protocol.events import CountdownOutcome

_KIND_OF: dict[EventType, AlertKind] = {
    EventType.EMERGENCY: AlertKind.EMERGENCY,
    EventType.FALL: AlertKind.FALL,
    EventType.NO_RESPONSE: AlertKind.NO_RESPONSE,
}

_SEVERITY_OF: dict[AlertKind, Severity] = {
    AlertKind.EMERGENCY: Severity.CRITICAL,
    AlertKind.FALL: Severity.CRITICAL,
    AlertKind.NO_RESPONSE: Severity.CRITICAL,
}


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """An alert the event calls for."""

    kind: AlertKind
    severity: Severity


def decide(envelope: Envelope) -> AlertDecision | None:
    """The alert an event calls for, or None (also for a countdown the senior cancelled)."""
    kind = _KIND_OF.get(envelope.type)
    if kind is None:
        return None
    if envelope.payload.get("countdown") == CountdownOutcome.CANCELLED.value:
        return None  # "I'm fine": a near miss, stored as an event but nobody is alerted
    return AlertDecision(kind=kind, severity=_SEVERITY_OF[kind])
