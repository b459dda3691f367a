"""The API's response and request bodies."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloud.store.models import AlertKind, AlertStatus, DeliveryStatus, Severity


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AlertOut(_Out):
    """One alert."""

    id: int
    device_id: str
    kind: AlertKind
    severity: Severity
    status: AlertStatus
    event_seq: int
    created_at: datetime
    updated_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    repeat_count: int
    revision: int


class TransitionOut(_Out):
    """One audit-trail row."""

    from_status: AlertStatus | None
    to_status: AlertStatus
    at: datetime
    actor: str
    channel: str
    note: str | None


class DeliveryOut(_Out):
    """One notification and how it went."""

    id: int
    channel: str
    target: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class AlertDetail(AlertOut):
    """An alert with its audit trail and notifications."""

    transitions: list[TransitionOut]
    deliveries: list[DeliveryOut]


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class AckIn(BaseModel):
    """Who acknowledges."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    by: str = Field(min_length=1, max_length=100, description="The caregiver's name.")


class AckOut(BaseModel):
    """The acknowledged alert and the command sent to the robot."""

    alert: AlertOut
    command_id: str
    command_published: bool


class DeviceOut(_Out):
    """One robot as the cloud sees it."""

    id: str
    first_seen: datetime
    last_seen: datetime
    online: bool
    last_status_at: datetime | None
    last_heartbeat_at: datetime | None
    last_heartbeat: dict[str, Any] | None


class DevicePage(BaseModel):
    """A page of devices."""

    items: list[DeviceOut]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    """Liveness of the store and the broker link (`mqtt` is null without an ingest worker)."""

    status: str
    db: bool
    mqtt: bool | None
