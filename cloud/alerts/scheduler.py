"""Stored escalation: each pending step is an EscalationStep row; running one creates Deliveries."""

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alerts import escalation
from cloud.alerts.escalation import EscalationConfig, Position
from cloud.alerts.lifecycle import record_transition
from cloud.alerts.rules import DEVICE_KINDS
from cloud.errors import ConfigError
from cloud.store.models import (
    ACTIVE_ALERT_STATUSES,
    Alert,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    EscalationPolicy,
    EscalationStep,
    Senior,
    Severity,
    StepStatus,
)

log = logging.getLogger(__name__)

WEBHOOK_CHANNEL = Channel.WEBHOOK.value


def load_config(session: Session, senior_id: str | None) -> EscalationConfig | None:
    """The senior's escalation policy, or None (no senior, no policy, or an invalid one)."""
    if senior_id is None:
        return None
    row = session.scalars(
        select(EscalationPolicy).where(EscalationPolicy.senior_id == senior_id)
    ).one_or_none()
    if row is None:
        return None
    try:
        return escalation.parse_policy(row.tiers)
    except ConfigError as e:
        log.error(
            "senior %s: escalation policy ignored, using the fallback webhooks: %s", senior_id, e
        )
        return None


def policy_for(config: EscalationConfig, alert: Alert) -> escalation.Policy:
    """The policy an alert follows: device kinds to the device audience, care kinds by severity."""
    if alert.kind in DEVICE_KINDS:
        return config.for_device_alerts()
    return config.for_severity(alert.severity)


def hold_until(session: Session, alert: Alert, now: datetime) -> datetime | None:
    """When the senior's quiet hours release this alert, or None to notify now."""
    if alert.senior_id is None or alert.severity is Severity.CRITICAL:
        return None
    senior = session.get(Senior, alert.senior_id)
    if senior is None:
        return None
    try:
        return escalation.quiet_until(
            senior.quiet_hours_start, senior.quiet_hours_end, senior.timezone, alert.severity, now
        )
    except ConfigError as e:
        log.error("senior %s: quiet hours ignored: %s", senior.id, e)
        return None


def _delivery(alert: Alert, channel: str, target: str, due: datetime, now: datetime) -> Delivery:
    return Delivery(
        alert_id=alert.id,
        channel=channel,
        target=target,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=due,
        created_at=now,
    )


def start(session: Session, alert: Alert, now: datetime, webhook_urls: Sequence[str]) -> int:
    """Begin notifying about a new alert; return how many deliveries are due now."""
    config = load_config(session, alert.senior_id)
    held = hold_until(session, alert, now)
    if config is None:
        # No policy: the configured webhooks, as before (held ones wait in the delivery queue).
        alert.held_until = held
        for url in webhook_urls:
            session.add(_delivery(alert, WEBHOOK_CHANNEL, url, held or now, now))
        return 0 if held else len(webhook_urls)
    step = EscalationStep(
        alert_id=alert.id,
        tier=0,
        attempt=0,
        due_at=now,
        status=StepStatus.PENDING,
        created_at=now,
    )
    session.add(step)
    session.flush()
    return execute_step(session, step, now, config=config)


def execute_step(
    session: Session,
    step: EscalationStep,
    now: datetime,
    *,
    config: EscalationConfig | None = None,
) -> int:
    """Run one due step: notify its contacts, store the next step; return deliveries created."""
    alert = session.get_one(Alert, step.alert_id, with_for_update=True)
    if alert.status not in ACTIVE_ALERT_STATUSES:
        step.status = StepStatus.CANCELLED
        return 0
    config = config or load_config(session, alert.senior_id)
    if config is None:
        log.warning("alert %d: the senior's policy is gone; escalation stops", alert.id)
        step.status = StepStatus.CANCELLED
        return 0
    held = hold_until(session, alert, now)
    if held is not None:
        step.due_at = held  # the whole schedule shifts to the morning
        if alert.held_until != held:
            alert.held_until = held
            record_transition(
                session,
                alert,
                alert.status,
                now,
                actor="escalation",
                channel="quiet_hours",
                note=f"held until {held.isoformat()}",
            )
        return 0
    policy = policy_for(config, alert)
    plan = escalation.plan(policy, Position(step.tier, step.attempt), step.due_at, now)
    if plan.position is None:
        return 0  # not due yet
    contacts = {
        c.id: c
        for c in session.scalars(
            select(Contact).where(Contact.senior_id == alert.senior_id, Contact.id.in_(plan.notify))
        )
    }
    created = 0
    told: list[str] = []
    for contact_id in plan.notify:
        contact = contacts.get(contact_id)
        if contact is None:
            log.warning("alert %d: contact %d is not the senior's; skipped", alert.id, contact_id)
            continue
        told.append(f"{contact.name} ({contact.channel.value})")
        if contact.channel is Channel.SSE:
            continue  # the live dashboard already shows every alert change
        session.add(_delivery(alert, contact.channel.value, contact.target, now, now))
        created += 1
    alert.tier = plan.position.tier
    alert.held_until = None
    record_transition(
        session,
        alert,
        alert.status,
        now,
        actor="escalation",
        channel="escalation",
        note=f"tier {plan.position.tier} attempt {plan.position.attempt}: "
        + (", ".join(told) or "nobody reachable"),
    )
    step.status = StepStatus.DONE
    if plan.next is not None and plan.next_due is not None:
        session.add(
            EscalationStep(
                alert_id=alert.id,
                tier=plan.next.tier,
                attempt=plan.next.attempt,
                due_at=plan.next_due,
                status=StepStatus.PENDING,
                created_at=now,
            )
        )
    return created


def due_step_ids(session: Session, now: datetime, limit: int = 50) -> list[int]:
    """Ids of pending steps whose time has come, oldest first."""
    return list(
        session.scalars(
            select(EscalationStep.id)
            .where(EscalationStep.status == StepStatus.PENDING, EscalationStep.due_at <= now)
            .order_by(EscalationStep.due_at, EscalationStep.id)
            .limit(limit)
        )
    )


def run_step(session: Session, step_id: int, now: datetime) -> int:
    """Claim and run one step inside the caller's transaction (skipped if another worker has it)."""
    step = session.scalars(
        select(EscalationStep)
        .where(EscalationStep.id == step_id, EscalationStep.status == StepStatus.PENDING)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if step is None or step.due_at > now:
        return 0
    return execute_step(session, step, now)
