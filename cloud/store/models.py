"""The cloud's tables as typed SQLAlchemy 2 ORM classes."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from cloud.store.types import UTCDateTime, json_type

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AlertStatus(StrEnum):
    """Where an alert is in its lifecycle."""

    OPEN = "open"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.NOTIFIED)


class AlertKind(StrEnum):
    """What an alert is about."""

    EMERGENCY = "emergency"
    FALL = "fall"
    NO_RESPONSE = "no_response"


class Severity(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


class DeliveryStatus(StrEnum):
    """Where one notification attempt series stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def _str_enum(enum: type[StrEnum]) -> Enum:
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    """Declarative base with the cloud's column types."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: json_type()}  # noqa: RUF012


class Device(Base):
    """A robot the cloud has heard from."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    online: Mapped[bool] = mapped_column(default=False)
    last_status_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    last_heartbeat: Mapped[dict[str, Any] | None]


class Event(Base):
    """One stored event envelope; (device_id, seq) is unique so redelivery is harmless."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("device_id", "seq", name="uq_events_device_seq"),
        Index("ix_events_device_ts", "device_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    model: Mapped[dict[str, Any] | None]


class DeadLetter(Base):
    """A message ingest refused, with the reason; raw bytes kept up to 64 KiB."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(String(1000))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_size: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(index=True)


class Alert(Base):
    """One alert; at most one open/notified alert per (device, kind) — repeats count up."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_active",
            "device_id",
            "kind",
            unique=True,
            sqlite_where=text("status IN ('open', 'notified')"),
            postgresql_where=text("status IN ('open', 'notified')"),
        ),
        Index("ix_alerts_status", "status"),
        Index("ix_alerts_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"))
    kind: Mapped[AlertKind] = mapped_column(_str_enum(AlertKind))
    severity: Mapped[Severity] = mapped_column(_str_enum(Severity))
    status: Mapped[AlertStatus] = mapped_column(_str_enum(AlertStatus))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None]
    repeat_count: Mapped[int] = mapped_column(default=1)
    revision: Mapped[int] = mapped_column(default=1)

    transitions: Mapped[list["AlertTransition"]] = relationship(
        back_populates="alert", order_by="AlertTransition.id"
    )


class AlertTransition(Base):
    """The audit trail: every status change (and repeat) of an alert, who did it and how."""

    __tablename__ = "alert_transitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    from_status: Mapped[AlertStatus | None] = mapped_column(_str_enum(AlertStatus))
    to_status: Mapped[AlertStatus] = mapped_column(_str_enum(AlertStatus))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))

    alert: Mapped[Alert] = relationship(back_populates="transitions")


class Delivery(Base):
    """One notification of one alert to one target; stored so a restart resumes retries."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2000))
    status: Mapped[DeliveryStatus] = mapped_column(_str_enum(DeliveryStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
