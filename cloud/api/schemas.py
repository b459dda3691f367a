"""The API's response and request bodies."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.errors import both
from cloud.store.models import AlertKind, AlertStatus, Channel, DeliveryStatus, Role, Severity
from protocol.commands import MessageText, SenderName
from protocol.release import version
from protocol.topics import DEVICE_ID_PATTERN


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
    senior_id: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = None


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

    @field_validator("last_error")
    @classmethod
    def _no_body(cls, value: str | None) -> str | None:
        """Only the status or the error class: rows stored before the SSRF fix had the
        receiver's response body after a colon, never shown."""
        return None if value is None else value.split(":", 1)[0][:100]


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
    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Who acknowledges; required with the service token, else the account's name.",
    )


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

    items: list["DeviceHealthOut"]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    """Liveness of the store, the broker link and the ingest loop (`mqtt` and `ingest` are null
    without an ingest worker; `ingest` is ok, stuck, dead or stopped)."""

    status: str
    db: bool
    mqtt: bool | None
    ingest: str | None = None
    version: str = Field(default_factory=version)  # the cloud's (protocol.release.version)


# --- auth and accounts -------------------------------------------------------------------------

_IN = ConfigDict(extra="forbid", str_strip_whitespace=True)
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class LoginIn(BaseModel):
    """Credentials, as JSON or as an HTML form."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(BaseModel):
    """Change one's own password: the current one, then the new one."""

    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordSetIn(BaseModel):
    """An admin sets an account's password (every session of the account ends)."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    """A login token (also set as an HttpOnly cookie)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth 2 token type, not a secret)
    expires_in: int
    role: Role
    account_id: int


class MeOut(BaseModel):
    """The caller."""

    account_id: int | None
    username: str
    display_name: str
    role: Role


class AccountIn(BaseModel):
    """A new account (admin only)."""

    model_config = _IN
    username: str = Field(min_length=3, max_length=100)
    password: str = Field(min_length=12, max_length=1024)
    role: Role
    display_name: str | None = Field(default=None, min_length=1, max_length=100)


class AccountOut(_Out):
    """An account, never its password hash."""

    id: int
    username: str
    role: Role
    display_name: str
    disabled: bool
    created_at: datetime


# --- seniors and caregiver links ---------------------------------------------------------------


class SeniorIn(BaseModel):
    """A new senior."""

    model_config = _IN
    id: str = Field(pattern=ID_PATTERN, description="A stable id, e.g. from the care agency.")
    display_name: str = Field(min_length=1, max_length=100)
    language: str = Field(default="ko", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    timezone: str = Field(default="Asia/Seoul", min_length=1, max_length=64)
    inactivity_hours: float = Field(default=24.0, gt=0, le=168)
    missed_medication_threshold: int = Field(default=3, ge=1, le=100)
    quiet_hours_start: str | None = Field(default=None, pattern=HHMM)
    quiet_hours_end: str | None = Field(default=None, pattern=HHMM)


class SeniorPatch(BaseModel):
    """Fields to change on a senior (omitted ones stay)."""

    model_config = _IN
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    inactivity_hours: float | None = Field(default=None, gt=0, le=168)
    missed_medication_threshold: int | None = Field(default=None, ge=1, le=100)
    quiet_hours_start: str | None = Field(default=None, pattern=HHMM)
    quiet_hours_end: str | None = Field(default=None, pattern=HHMM)


class SeniorOut(_Out):
    """A senior."""

    id: str
    display_name: str
    language: str
    timezone: str
    inactivity_hours: float
    missed_medication_threshold: int
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    created_at: datetime


class SeniorPage(BaseModel):
    """A page of seniors."""

    items: list[SeniorOut]
    total: int
    limit: int
    offset: int


class CaregiverLinkIn(BaseModel):
    """How a caregiver is related to the senior."""

    model_config = _IN
    relation: str = Field(min_length=1, max_length=50)
    # A primary caregiver may change the escalation policy; only an admin may set this.
    is_primary: bool = False


class CaregiverLinkOut(BaseModel):
    """A caregiver linked to a senior."""

    account_id: int
    username: str
    display_name: str
    relation: str
    is_primary: bool = False


# --- devices -----------------------------------------------------------------------------------


class SelfTestOut(BaseModel):
    """One self-test from the latest heartbeat."""

    name: str
    ok: bool
    detail: str = ""


class DeviceRegisterIn(BaseModel):
    """Register a robot to a senior (a new id, or reassign a known one)."""

    model_config = _IN
    id: str = Field(pattern=DEVICE_ID_PATTERN, description="The MQTT username it connects with.")
    senior_id: str = Field(pattern=ID_PATTERN)


class DeviceHealthOut(DeviceOut):
    """A robot's health: online, last heartbeat, self-tests, outbox backlog."""

    senior_id: str | None
    uptime_s: float | None = None
    agent_version: str | None = None
    outbox_pending: int | None = None
    self_tests: list[SelfTestOut] = Field(default_factory=list)


# --- contacts, escalation, reminders -----------------------------------------------------------


class ContactIn(BaseModel):
    """A way to reach someone about this senior."""

    model_config = _IN
    name: str = Field(min_length=1, max_length=100)
    relation: str = Field(min_length=1, max_length=50)
    channel: Channel
    target: str = Field(min_length=1, max_length=2000, description="URL, e-mail or username.")
    language: str = Field(default="ko", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


class ContactOut(_Out):
    """A contact."""

    id: int
    senior_id: str
    name: str
    relation: str
    channel: Channel
    target: str
    language: str


class TierIn(BaseModel):
    """One escalation tier: who is told, how long before the next tier."""

    model_config = _IN
    contact_ids: list[int] = Field(min_length=1, max_length=20)
    timeout_s: int = Field(gt=0, le=7 * 86_400)
    renotify_s: int | None = Field(default=None, gt=0, le=7 * 86_400)


class PolicyIn(BaseModel):
    """A senior's escalation tiers, first tier first."""

    model_config = _IN
    tiers: list[TierIn] = Field(min_length=1, max_length=10)


class PolicyOut(BaseModel):
    """A stored escalation policy."""

    senior_id: str
    tiers: list[TierIn]
    updated_at: datetime


class QuietHoursIn(BaseModel):
    """Quiet hours for non-critical alerts, local "HH:MM"; both empty turns them off."""

    model_config = _IN
    start: str | None = Field(default=None, pattern=HHMM)
    end: str | None = Field(default=None, pattern=HHMM)

    @model_validator(mode="after")
    def _both_or_neither(self) -> "QuietHoursIn":
        """A start without an end (or the same time twice) is a mistake, not a wish."""
        if (self.start is None) != (self.end is None):
            raise ValueError(
                both(
                    "시작과 끝을 둘 다 적거나 둘 다 비우세요", "give both start and end, or neither"
                )
            )
        if self.start is not None and self.start == self.end:
            raise ValueError(both("시작과 끝은 달라야 합니다", "start and end must differ"))
        return self


class ReminderKind(StrEnum):
    """What a reminder is for."""

    MEDICINE = "medicine"
    MEAL = "meal"
    WATER = "water"
    WALK = "walk"
    OTHER = "other"


class ReminderIn(BaseModel):
    """A reminder: what, at which local times ("HH:MM"), on which weekdays (0 = Monday)."""

    model_config = _IN
    kind: ReminderKind
    label: str = Field(min_length=1, max_length=200)
    times: list[Annotated[str, Field(pattern=HHMM)]] = Field(min_length=1, max_length=24)
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: list(range(7)), min_length=1, max_length=7
    )
    active: bool = True

    @field_validator("times", "days")
    @classmethod
    def _sorted_unique(cls, value: list[Any]) -> list[Any]:
        """Duplicates are a mistake: refuse them; keep the rest in order."""
        if len(set(value)) != len(value):
            raise ValueError(both("같은 값을 두 번 적을 수 없습니다", "duplicates are not allowed"))
        return sorted(value)


class ReminderOut(BaseModel):
    """A stored reminder."""

    id: int
    senior_id: str
    kind: str
    label: str
    times: list[str]
    days: list[int]
    active: bool
    updated_at: datetime


class ReminderChangeOut(BaseModel):
    """A reminder change and how many of the senior's robots were sent the new schedule."""

    reminder: ReminderOut | None
    devices: int
    commands_published: int


# --- alerts and events -------------------------------------------------------------------------


class ResolveIn(BaseModel):
    """How it ended."""

    model_config = _IN
    note: str = Field(min_length=1, max_length=500)
    by: str | None = Field(default=None, min_length=1, max_length=100)


class EventOut(_Out):
    """One stored event from a senior's robot."""

    id: int
    device_id: str
    seq: int
    type: str
    priority: str
    ts: datetime
    received_at: datetime
    payload: dict[str, Any]


class EventPage(BaseModel):
    """A page of events, newest first."""

    items: list[EventOut]
    total: int
    limit: int
    offset: int


DevicePage.model_rebuild()


# --- a caregiver's message to the robot (issue 15) ---------------------------------------------


class MessageIn(BaseModel):
    """A short message for the robot to say to the senior at a good moment."""

    model_config = _IN
    sender: SenderName = Field(description='How the robot names who wrote it, e.g. "딸 지영".')
    text: MessageText
    valid_hours: int = Field(default=12, ge=1, le=48, description="Unsaid after this, dropped.")


class MessageState(StrEnum):
    """Where a message stands, from the robot's `message` events."""

    WAITING = "waiting"  # sent; the robot waits for a good moment
    SPOKEN = "spoken"  # said with the senior there (`settled_at`: when)
    EXPIRED = "expired"  # no good moment before it expired
    DROPPED = "dropped"  # the robot had too many unsaid messages
    NOT_SENT = "not_sent"  # no robot, or the broker did not take it


class MessageOut(BaseModel):
    """A message and what became of it."""

    id: int
    message_id: str
    senior_id: str
    sender: str
    text: str
    created_at: datetime
    expires_at: datetime
    devices: int
    commands_published: int
    state: MessageState
    settled_at: datetime | None
