"""The alert engine: open or dedupe alerts, record every transition, queue notifications."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.alerts.rules import AlertDecision, decide
from cloud.errors import AlertNotFoundError, AlertStateError
from cloud.store.models import (
    ACTIVE_ALERT_STATUSES,
    Alert,
    AlertStatus,
    AlertTransition,
    Delivery,
    DeliveryStatus,
)
from protocol import Envelope

log = logging.getLogger(__name__)

WEBHOOK_CHANNEL = "webhook"


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What an event did to the alerts: opened a new one, or repeated an active one."""

    alert_id: int
    created: bool
    repeat_count: int


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
            actor=actor,
            channel=channel,
            note=note,
        )
    )
    alert.status = to
    alert.updated_at = now
    alert.revision += 1


class AlertEngine:
    """Turns decisions into stored alerts and deliveries; escalation tiers plug in here later."""

    def __init__(self, webhook_urls: Sequence[str] = ()) -> None:
        self.webhook_urls = tuple(webhook_urls)

    def on_event(self, session: Session, envelope: Envelope, now: datetime) -> AlertChange | None:
        """Apply the rules to a newly stored event."""
        decision = decide(envelope)
        if decision is None:
            return None
        return self.raise_alert(session, envelope.device_id, decision, envelope.seq, now)

    def raise_alert(
        self,
        session: Session,
        device_id: str,
        decision: AlertDecision,
        event_seq: int,
        now: datetime,
    ) -> AlertChange:
        """Open an alert, or count a repeat when one of the same kind is still active."""
        active = self._active(session, device_id, decision)
        if active is None:
            try:
                with session.begin_nested():
                    alert = Alert(
                        device_id=device_id,
                        kind=decision.kind,
                        severity=decision.severity,
                        status=AlertStatus.OPEN,
                        event_seq=event_seq,
                        created_at=now,
                        updated_at=now,
                        repeat_count=1,
                        revision=1,
                    )
                    session.add(alert)
                    session.flush()
            except IntegrityError:
                # Another worker opened it between our select and insert: count a repeat.
                active = self._active(session, device_id, decision)
                if active is None:
                    raise
            else:
                session.add(
                    AlertTransition(
                        alert_id=alert.id,
                        from_status=None,
                        to_status=AlertStatus.OPEN,
                        at=now,
                        actor=f"device:{device_id}",
                        channel="mqtt",
                        note=f"event seq {event_seq}",
                    )
                )
                self._queue_deliveries(session, alert, now)
                log.warning(
                    "alert %d opened: %s (%s) for %s",
                    alert.id,
                    alert.kind,
                    alert.severity,
                    device_id,
                )
                return AlertChange(alert_id=alert.id, created=True, repeat_count=1)
        active.repeat_count += 1
        record_transition(
            session,
            active,
            active.status,
            now,
            actor=f"device:{device_id}",
            channel="mqtt",
            note=f"repeat {active.repeat_count} (event seq {event_seq})",
        )
        log.info("alert %d repeated (%d times)", active.id, active.repeat_count)
        return AlertChange(alert_id=active.id, created=False, repeat_count=active.repeat_count)

    def acknowledge(
        self, session: Session, alert_id: int, by: str, now: datetime, *, channel: str = "api"
    ) -> Alert:
        """Mark an open or notified alert acknowledged by `by`."""
        alert = session.scalars(
            select(Alert).where(Alert.id == alert_id).with_for_update()
        ).one_or_none()
        if alert is None:
            raise AlertNotFoundError(f"no alert with id {alert_id}")
        if alert.status not in ACTIVE_ALERT_STATUSES:
            raise AlertStateError(
                f"alert {alert_id} is {alert.status.value}; only open or notified alerts"
                " can be acknowledged"
            )
        record_transition(session, alert, AlertStatus.ACKNOWLEDGED, now, actor=by, channel=channel)
        alert.acknowledged_by = by
        alert.acknowledged_at = now
        log.info("alert %d acknowledged by %s", alert_id, by)
        return alert

    def mark_notified(
        self, session: Session, alert_id: int, now: datetime, *, channel: str, target: str
    ) -> None:
        """Record that someone was told; an open alert becomes notified."""
        alert = session.get(Alert, alert_id, with_for_update=True)
        if alert is not None and alert.status is AlertStatus.OPEN:
            record_transition(
                session,
                alert,
                AlertStatus.NOTIFIED,
                now,
                actor="dispatcher",
                channel=channel,
                note=target[:500],
            )

    def _active(self, session: Session, device_id: str, decision: AlertDecision) -> Alert | None:
        return session.scalars(
            select(Alert)
            .where(
                Alert.device_id == device_id,
                Alert.kind == decision.kind,
                Alert.status.in_(ACTIVE_ALERT_STATUSES),
            )
            .with_for_update()
        ).first()

    def _queue_deliveries(self, session: Session, alert: Alert, now: datetime) -> None:
        for url in self.webhook_urls:
            session.add(
                Delivery(
                    alert_id=alert.id,
                    channel=WEBHOOK_CHANNEL,
                    target=url,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
