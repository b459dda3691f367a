"""Alert lifecycle transitions: checked, audited, and they stop the escalation timers."""

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.errors import AlertStateError, both
from cloud.store.models import Alert, AlertStatus, AlertTransition, EscalationStep, StepStatus

log = logging.getLogger(__name__)

# Which statuses each transition may leave from; anything else is an AlertStateError.
_ALLOWED_FROM: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.NOTIFIED: frozenset({AlertStatus.OPEN}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.OPEN, AlertStatus.NOTIFIED}),
    AlertStatus.RESOLVED: frozenset(
        {AlertStatus.OPEN, AlertStatus.NOTIFIED, AlertStatus.ACKNOWLEDGED}
    ),
    AlertStatus.CANCELLED: frozenset({AlertStatus.OPEN, AlertStatus.NOTIFIED}),
    AlertStatus.EXPIRED: frozenset({AlertStatus.OPEN, AlertStatus.NOTIFIED}),
}

_VERB = {
    AlertStatus.NOTIFIED: "notified",
    AlertStatus.ACKNOWLEDGED: "acknowledged",
    AlertStatus.RESOLVED: "resolved",
    AlertStatus.CANCELLED: "cancelled",
    AlertStatus.EXPIRED: "expired",
}

_VERB_KO = {
    AlertStatus.NOTIFIED: "알렸다고 기록할",
    AlertStatus.ACKNOWLEDGED: "확인할",
    AlertStatus.RESOLVED: "해결할",
    AlertStatus.CANCELLED: "취소할",
    AlertStatus.EXPIRED: "만료할",
}


def record_transition(
    session: Session,
    alert: Alert,
    to: AlertStatus,
    now: datetime,
    *,
    actor: str,
    channel: str,
    note: str | None = None,
) -> None:
    """Move an alert to `to` (or note a repeat when unchanged) and append the audit row."""
    session.add(
        AlertTransition(
            alert_id=alert.id,
            from_status=alert.status,
            to_status=to,
            at=now,
            actor=actor[:100],
            channel=channel[:32],
            note=note[:500] if note is not None else None,
        )
    )
    alert.status = to
    alert.updated_at = now
    alert.revision += 1


def check_transition(alert: Alert, to: AlertStatus) -> None:
    """Raise AlertStateError unless `alert` may move to `to`."""
    allowed = _ALLOWED_FROM[to]
    if alert.status not in allowed:
        ordered = [s.value for s in AlertStatus if s in allowed]
        names = ", ".join(ordered[:-1]) + " or " + ordered[-1] if len(ordered) > 1 else ordered[0]
        raise AlertStateError(
            both(
                f"알림 {alert.id}의 상태가 {alert.status.value}입니다. {names} 상태의 알림만"
                f" {_VERB_KO[to]} 수 있습니다",
                f"alert {alert.id} is {alert.status.value}; only {names} alerts can be {_VERB[to]}",
            )
        )


def cancel_pending_steps(session: Session, alert_id: int) -> int:
    """Cancel the alert's stored escalation timers; return how many were pending."""
    result = session.execute(
        update(EscalationStep)
        .where(EscalationStep.alert_id == alert_id, EscalationStep.status == StepStatus.PENDING)
        .values(status=StepStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def acknowledge(session: Session, alert: Alert, by: str, channel: str, now: datetime) -> None:
    """Someone took responsibility: record who and how, and stop the escalation."""
    check_transition(alert, AlertStatus.ACKNOWLEDGED)
    record_transition(session, alert, AlertStatus.ACKNOWLEDGED, now, actor=by, channel=channel)
    alert.acknowledged_by = by[:100]
    alert.acknowledged_at = now
    alert.held_until = None
    cancel_pending_steps(session, alert.id)
    log.info("alert %d acknowledged by %s via %s", alert.id, by, channel)


def resolve(session: Session, alert: Alert, by: str, note: str | None, now: datetime) -> None:
    """The situation is over: close the alert with an optional note, stop the escalation."""
    check_transition(alert, AlertStatus.RESOLVED)
    record_transition(session, alert, AlertStatus.RESOLVED, now, actor=by, channel="api", note=note)
    alert.resolved_by = by[:100]
    alert.resolved_at = now
    alert.note = note[:500] if note is not None else None
    alert.held_until = None
    cancel_pending_steps(session, alert.id)
    log.info("alert %d resolved by %s", alert.id, by)


def cancel(session: Session, alert: Alert, by: str, now: datetime) -> None:
    """The alert was a false alarm ("I'm fine"): close it before anyone acted, stop timers."""
    check_transition(alert, AlertStatus.CANCELLED)
    channel = "mqtt" if by.startswith("device:") else "api"
    record_transition(session, alert, AlertStatus.CANCELLED, now, actor=by, channel=channel)
    alert.held_until = None
    cancel_pending_steps(session, alert.id)
    log.info("alert %d cancelled by %s", alert.id, by)


def expire(session: Session, alert: Alert, now: datetime) -> None:
    """The condition went away on its own (device back online, battery charged): close it."""
    check_transition(alert, AlertStatus.EXPIRED)
    record_transition(session, alert, AlertStatus.EXPIRED, now, actor="system", channel="sweep")
    alert.held_until = None
    cancel_pending_steps(session, alert.id)
    log.info("alert %d expired", alert.id)
