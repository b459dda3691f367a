"""Stored escalation: each pending step is an EscalationStep row; running one creates Deliveries.

Every alert with someone to tell escalates: by the senior's stored policy, else by the built-in
default (`escalation.default_config`: all the senior's contacts and the configured webhooks,
re-notified every 5 minutes until acknowledged for critical and major alerts). An alert that
repeats while still open notifies again (`renotify`).
"""

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cloud.alerts import audience, escalation
from cloud.alerts.escalation import EscalationConfig, Position
from cloud.alerts.lifecycle import record_transition
from cloud.alerts.rules import DEVICE_KINDS
from cloud.errors import ConfigError
from cloud.store.models import (
    ACTIVE_ALERT_STATUSES,
    Alert,
    AlertTransition,
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
REPEAT_CHANNEL = "repeat"
# A repeat notifies again at most this often (a robot repeating an emergency every second
# must not flood the family); the first repeat always notifies.
REPEAT_MIN_GAP_S = 30.0
_CHASED = (Severity.CRITICAL, Severity.MAJOR, Severity.HIGH)


def load_config(
    session: Session, senior_id: str | None, webhook_urls: Sequence[str] = ()
) -> EscalationConfig | None:
    """The senior's stored policy, else the built-in default (their contacts and the configured
    webhooks); None when there is nobody to tell at all."""
    if senior_id is not None:
        row = session.scalars(
            select(EscalationPolicy).where(EscalationPolicy.senior_id == senior_id)
        ).one_or_none()
        if row is not None:
            try:
                return escalation.parse_policy(row.tiers)
            except ConfigError as e:
                log.error(
                    "senior %s: escalation policy ignored, using the default policy: %s",
                    senior_id,
                    e,
                )
    contact_ids: list[int] = []
    if senior_id is not None:
        contact_ids = list(
            session.scalars(
                select(Contact.id).where(Contact.senior_id == senior_id).order_by(Contact.id)
            )
        )
    if not contact_ids and not webhook_urls:
        return None
    return escalation.default_config(contact_ids, webhook_urls)


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
    config = load_config(session, alert.senior_id, webhook_urls)
    if config is None:
        log.warning("alert %d: nobody to notify (no contacts, no webhooks)", alert.id)
        return 0
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


def _notify(
    session: Session,
    alert: Alert,
    contact_ids: Sequence[int],
    urls: Sequence[str],
    now: datetime,
) -> tuple[int, list[str]]:
    """Queue a delivery to each contact (not SSE: the dashboard shows every alert) and webhook;
    (deliveries created, who was told). A push contact naming a group (`audience.GROUPS`) is a
    delivery per member; each account gets at most one push per step."""
    contacts = {
        c.id: c
        for c in session.scalars(
            select(Contact).where(Contact.senior_id == alert.senior_id, Contact.id.in_(contact_ids))
        )
    }
    created = 0
    told: list[str] = []
    pushed: set[str] = set()
    for contact_id in contact_ids:
        contact = contacts.get(contact_id)
        if contact is None:
            log.warning("alert %d: contact %d is not the senior's; skipped", alert.id, contact_id)
            continue
        if contact.channel is Channel.PUSH:
            if audience.is_group(contact.target):
                found = [u for _, u in audience.members(session, alert.senior_id, contact.target)]
            else:
                found = [contact.target]
            new = [u for u in found if u not in pushed]
            pushed.update(new)
            for username in new:
                session.add(_delivery(alert, Channel.PUSH.value, username, now, now))
            created += len(new)
            if audience.is_group(contact.target):
                who = ", ".join(found) if found else "nobody on that staff"
                told.append(f"{contact.name} (push {contact.target}: {who})")
            else:
                told.append(f"{contact.name} (push)")
            continue
        told.append(f"{contact.name} ({contact.channel.value})")
        if contact.channel is Channel.SSE:
            continue  # the live dashboard already shows every alert change
        session.add(_delivery(alert, contact.channel.value, contact.target, now, now))
        created += 1
    for url in urls:
        told.append("webhook")
        session.add(_delivery(alert, WEBHOOK_CHANNEL, url, now, now))
        created += 1
    return created, told


def renotify(
    session: Session, alert: Alert, now: datetime, webhook_urls: Sequence[str] = ()
) -> int:
    """The alert repeated while open: tell again everyone its escalation has reached so far.

    Only critical and major alerts, not while quiet hours hold it, and at most once per
    `REPEAT_MIN_GAP_S`; returns the deliveries created.
    """
    if alert.severity not in _CHASED or alert.status not in ACTIVE_ALERT_STATUSES:
        return 0
    if hold_until(session, alert, now) is not None:
        return 0
    last = session.scalar(
        select(func.max(AlertTransition.at)).where(
            AlertTransition.alert_id == alert.id, AlertTransition.channel == REPEAT_CHANNEL
        )
    )
    if last is not None and (now - last).total_seconds() < REPEAT_MIN_GAP_S:
        return 0
    config = load_config(session, alert.senior_id, webhook_urls)
    if config is None:
        return 0
    policy = policy_for(config, alert)
    reached = policy.tiers[: min(alert.tier, len(policy.tiers) - 1) + 1]
    contact_ids = list(dict.fromkeys(i for t in reached for i in t.contact_ids))
    urls = list(dict.fromkeys(u for t in reached for u in t.urls))
    created, told = _notify(session, alert, contact_ids, urls, now)
    record_transition(
        session,
        alert,
        alert.status,
        now,
        actor="escalation",
        channel=REPEAT_CHANNEL,
        note=f"repeat {alert.repeat_count}: told again " + (", ".join(told) or "nobody reachable"),
    )
    return created


def execute_step(
    session: Session,
    step: EscalationStep,
    now: datetime,
    *,
    config: EscalationConfig | None = None,
    webhook_urls: Sequence[str] = (),
) -> int:
    """Run one due step: notify its contacts, store the next step; return deliveries created."""
    alert = session.get_one(Alert, step.alert_id, with_for_update=True)
    if alert.status not in ACTIVE_ALERT_STATUSES:
        step.status = StepStatus.CANCELLED
        return 0
    config = config or load_config(session, alert.senior_id, webhook_urls)
    if config is None:
        log.warning("alert %d: nobody left to notify; escalation stops", alert.id)
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
    created, told = _notify(session, alert, plan.notify, plan.urls, now)
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


def run_step(
    session: Session, step_id: int, now: datetime, webhook_urls: Sequence[str] = ()
) -> int:
    """Claim and run one step inside the caller's transaction (skipped if another worker has it).

    PostgreSQL: the step row is locked `FOR UPDATE SKIP LOCKED`, so a step another node holds is
    skipped, and one whose node died (its transaction rolled back) is taken by the next pass.
    SQLite has no row locks: the claim is a write first (`pending` -> `pending` for this step
    only), which waits for the database's one writer and reads from then on what the last
    writer committed, so a node that finds the step done by another skips it.
    """
    if session.get_bind().dialect.name == "sqlite":
        claimed = session.execute(
            update(EscalationStep)
            .where(EscalationStep.id == step_id, EscalationStep.status == StepStatus.PENDING)
            .values(status=StepStatus.PENDING)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return 0
    step = session.scalars(
        select(EscalationStep)
        .where(EscalationStep.id == step_id, EscalationStep.status == StepStatus.PENDING)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if step is None or step.due_at > now:
        return 0
    return execute_step(session, step, now, webhook_urls=webhook_urls)
