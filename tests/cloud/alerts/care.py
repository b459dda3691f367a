"""Care fixtures for alert tests: a senior with contacts, a policy, a device, a fake clock."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.ingest import ingest_message
from cloud.ingest.handler import IngestOutcome
from cloud.store.models import (
    Alert,
    Channel,
    Contact,
    Delivery,
    Device,
    EscalationPolicy,
    EscalationStep,
    Senior,
    StepStatus,
)
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import Payload


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Care:
    """One senior's setup: ids of their device and contacts."""

    senior_id: str
    device_id: str
    contacts: dict[str, int] = field(default_factory=dict)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def make_care(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    contacts: dict[str, tuple[Channel, str]] | None = None,
    tiers: list[dict[str, Any]] | None = None,
    device_contacts: list[str] | None = None,
    quiet: tuple[str, str] | None = None,
    **senior: Any,
) -> Care:
    """Store a senior, their contacts, a policy (tiers name contacts) and a device."""
    care = Care(senior_id=f"s-{uuid.uuid4().hex[:10]}", device_id=f"t-{uuid.uuid4().hex[:12]}")
    with sessions() as s, s.begin():
        s.add(
            Senior(
                id=care.senior_id,
                display_name=senior.pop("display_name", "김순자"),
                created_at=now,
                settings=senior.pop("settings", {}),
                quiet_hours_start=quiet[0] if quiet else None,
                quiet_hours_end=quiet[1] if quiet else None,
                **senior,
            )
        )
        s.flush()
        for name, (channel, target) in (contacts or {}).items():
            c = Contact(
                senior_id=care.senior_id,
                name=name,
                relation="family",
                channel=channel,
                target=target,
                language="en" if name.startswith("en") else "ko",
            )
            s.add(c)
            s.flush()
            care.contacts[name] = c.id
        if tiers is not None:
            doc: dict[str, Any] = {
                "tiers": [
                    {**t, "contact_ids": [care.contacts[n] for n in t["contacts"]]} for t in tiers
                ]
            }
            for t in doc["tiers"]:
                del t["contacts"]
            if device_contacts is not None:
                doc["device_contact_ids"] = [care.contacts[n] for n in device_contacts]
            s.add(EscalationPolicy(senior_id=care.senior_id, tiers=doc, updated_at=now))
        s.add(
            Device(
                id=care.device_id,
                senior_id=care.senior_id,
                first_seen=now,
                last_seen=now,
                online=True,
            )
        )
    return care


def send(
    sessions: sessionmaker[Session],
    care: Care,
    event_type: EventType,
    payload: Payload,
    now: datetime,
    engine: AlertEngine | None = None,
    ts: datetime | None = None,
) -> IngestOutcome:
    """Ingest one event from the care's device at `now`."""
    env = make_envelope(
        care.device_id, care.next_seq(), payload, event_type=event_type, ts=ts or now
    )
    with sessions() as s, s.begin():
        return ingest_message(
            s, events_topic(care.device_id), encode(env), now, alerts=engine or AlertEngine()
        )


def alerts_of(sessions: sessionmaker[Session], care: Care) -> list[Alert]:
    """The device's alerts, oldest first."""
    with sessions() as s:
        return list(
            s.scalars(select(Alert).where(Alert.device_id == care.device_id).order_by(Alert.id))
        )


def deliveries_of(sessions: sessionmaker[Session], alert_id: int) -> list[tuple[str, str]]:
    """(channel, target) of each delivery of an alert, in creation order."""
    with sessions() as s:
        rows = s.execute(
            select(Delivery.channel, Delivery.target)
            .where(Delivery.alert_id == alert_id)
            .order_by(Delivery.id)
        ).all()
        return [(c, t) for c, t in rows]


def pending_steps(sessions: sessionmaker[Session], alert_id: int) -> list[EscalationStep]:
    """The alert's pending escalation steps."""
    with sessions() as s:
        return list(
            s.scalars(
                select(EscalationStep).where(
                    EscalationStep.alert_id == alert_id,
                    EscalationStep.status == StepStatus.PENDING,
                )
            )
        )
