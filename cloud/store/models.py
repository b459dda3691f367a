"""The cloud's tables as typed SQLAlchemy 2 ORM classes."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
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
    INACTIVITY = "inactivity"
    DEVICE_OFFLINE = "device_offline"
    MISSED_MEDICATION = "missed_medication"
    MOOD_DECLINE = "mood_decline"
    LOW_BATTERY = "low_battery"
    DEVICE_FAULT = "device_fault"
    SCREENING = "screening"
    DISTRESS_SOUND = "distress_sound"  # a scream or moaning, then no "I'm fine"


class Severity(StrEnum):
    """How urgent an alert is (ThingsBoard's scale; HIGH/NORMAL kept for the skeleton's rows)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"
    HIGH = "high"
    NORMAL = "normal"


class Role(StrEnum):
    """What an account may do."""

    ADMIN = "admin"
    CAREGIVER = "caregiver"
    RESEARCHER = "researcher"
    INSTALLER = "installer"
    COORDINATOR = "coordinator"  # study staff: enrol, consent, withdraw (sees identities)


class Channel(StrEnum):
    """How a contact is reached."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    SSE = "sse"
    PUSH = "push"  # Web Push to the browsers of the contact's app account (issue 15)


class StepStatus(StrEnum):
    """A stored escalation timer."""

    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


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
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    """Declarative base with the cloud's column types."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: json_type()}  # noqa: RUF012


class Senior(Base):
    """A person the platform cares for; their settings drive the alert rules."""

    __tablename__ = "seniors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8), default="ko")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")
    # Rule settings (ARCHITECTURE.md defaults); quiet hours as local "HH:MM".
    inactivity_hours: Mapped[float] = mapped_column(Float, default=24.0)
    missed_medication_threshold: Mapped[int] = mapped_column(default=3)
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5))
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Account(Base):
    """A person who logs in: admin, caregiver, researcher or installer."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_str_enum(Role))
    display_name: Mapped[str] = mapped_column(String(100))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    # Bumped by disable and password change: tokens carrying an older version are refused.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")


class CaregiverLink(Base):
    """Which caregiver account may see which senior."""

    __tablename__ = "caregiver_links"
    __table_args__ = (UniqueConstraint("account_id", "senior_id", name="uq_caregiver_links"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), index=True)
    relation: Mapped[str] = mapped_column(String(50))
    # A primary caregiver may change the senior's escalation policy (as an admin may).
    is_primary: Mapped[bool] = mapped_column(default=False, server_default=false())


class Organisation(Base):
    """A care agency or a municipal care centre: its staff see its seniors (issue 15)."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class OrganisationRegion(Base):
    """A region an organisation divides its seniors into (a district, a team's area)."""

    __tablename__ = "organisation_regions"
    __table_args__ = (
        UniqueConstraint("organisation_id", "name", name="uq_organisation_regions_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organisations.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))


class OrganisationStaff(Base):
    """A caregiver account working for an organisation (one organisation per account);
    `is_admin`: may manage the organisation's staff, regions and seniors' regions."""

    __tablename__ = "organisation_staff"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organisations.id"), index=True
    )
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    added_at: Mapped[datetime]


class OrganisationSenior(Base):
    """Which organisation cares for a senior (at most one), and in which of its regions."""

    __tablename__ = "organisation_seniors"

    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organisations.id"), index=True
    )
    region_id: Mapped[int | None] = mapped_column(ForeignKey("organisation_regions.id"), index=True)
    assigned_at: Mapped[datetime]


class LoginCounter(Base):
    """Failed logins in a fixed window, per `a:<user>` or `s:<user>|<source>` (all workers)."""

    __tablename__ = "login_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int]


class LoginSource(Base):
    """A source an account has logged in from successfully: exempt from the per-account cap."""

    __tablename__ = "login_sources"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_ok_at: Mapped[datetime]


class RevokedToken(Base):
    """A logged-out token's id, kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeviceAssignment(Base):
    """Which senior a robot served from `valid_from` (None: its whole history) to `valid_to`."""

    __tablename__ = "device_assignments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"), index=True)
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), index=True)
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime | None]


class Contact(Base):
    """Someone an alert can reach, by one channel (a person may have several contacts)."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(50))
    channel: Mapped[Channel] = mapped_column(_str_enum(Channel))
    target: Mapped[str] = mapped_column(String(2000))
    language: Mapped[str] = mapped_column(String(8), default="ko")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class EscalationPolicy(Base):
    """One senior's ordered tiers: `[{"contact_ids": [...], "timeout_s": .., "renotify_s": ..}]`."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), unique=True)
    tiers: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class EscalationStep(Base):
    """A stored escalation timer: notify `tier` of an alert at `due_at` (survives restarts)."""

    __tablename__ = "escalation_steps"
    __table_args__ = (Index("ix_escalation_steps_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    tier: Mapped[int]
    attempt: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime]
    status: Mapped[StepStatus] = mapped_column(_str_enum(StepStatus))
    created_at: Mapped[datetime]


class ReminderSchedule(Base):
    """A reminder (medicine, meal, water, walk) sent to the robot as a command."""

    __tablename__ = "reminder_schedules"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    times: Mapped[dict[str, Any]]  # {"times": ["08:00", "20:00"], "days": [0..6]}
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class AuditLog(Base):
    """Every read of a senior's data and every change: who, what, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_senior_at", "senior_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    senior_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))


class Device(Base):
    """A robot the cloud has heard from (or that was provisioned for a senior)."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    senior_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("seniors.id"))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    online: Mapped[bool] = mapped_column(default=False)
    last_status_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    last_heartbeat: Mapped[dict[str, Any] | None]


class Event(Base):
    """One stored event envelope; (device_id, epoch, seq) is unique so redelivery is harmless.

    `epoch` is the robot's outbox incarnation (0 for robots that predate it).
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("device_id", "epoch", "seq", name="uq_events_device_epoch_seq"),
        Index("ix_events_device_ts", "device_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    model: Mapped[dict[str, Any] | None]


class HeartbeatHour(Base):
    """A robot's heartbeats rolled up per UTC hour of the robot's `ts`, updated at ingest.

    Daily metrics (uptime hours) and a robot's health read this, not a row per heartbeat.
    Only heartbeats whose key ingest actually inserted are counted, so a redelivery (same
    (device_id, epoch, seq), refused by the events key) is never counted twice. `first_ts` and
    `last_ts` make "any heartbeat in [lo, hi)" exact for any one-hour window that overlaps
    the row's hour (one of them lies inside it). Battery has an event type of its own.
    """

    __tablename__ = "heartbeat_hours"

    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int]
    first_ts: Mapped[datetime]
    last_ts: Mapped[datetime]
    # Heartbeats in the hour reporting a failed self-test; the largest outbox backlog and RSS.
    failing: Mapped[int] = mapped_column(default=0, server_default="0")
    outbox_pending_max: Mapped[int | None]
    rss_mb_max: Mapped[float | None] = mapped_column(Float)
    # The latest heartbeat of the hour (by ts): its key and whole payload (self-tests).
    last_epoch: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]  # when ingest last added to this hour


class SettledFloor(Base):
    """Per robot and epoch, the seq up to which every event was stored (or declared dropped).

    Written by retention (`cloud/store/partitions.py`) before it deletes rows, in the same
    transaction; read by ingest, which refuses a key at or below it as already stored, and by
    the stored report, which starts its watermark there. So retention may delete rows (a
    heartbeat after a few days) without a redelivery of their key being stored and counted again.
    """

    __tablename__ = "event_floors"

    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    settled_at: Mapped[datetime]


class IngestLease(Base):
    """An ingest worker's claim on an MQTT client id (one persistent session per worker).

    A worker refuses to start when another live holder (heartbeat newer than the lease
    timeout) holds its client id: two workers sharing one session would kick each other off.
    """

    __tablename__ = "ingest_leases"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


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
        Index("ix_alerts_created_at", "created_at"),  # the daily report's day (0013)
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
    senior_id: Mapped[str | None] = mapped_column(String(64))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))
    tier: Mapped[int] = mapped_column(default=0)
    held_until: Mapped[datetime | None]  # quiet hours: notify no earlier than this

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


class PushSubscription(Base):
    """A browser's Web Push subscription (issue 15): where to send an account's alerts."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2000))
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class RobotMessage(Base):
    """A caregiver's short message for the robot to say (issue 15, `say_message`). What became
    of it comes back as `message` events with its `message_id` (never the senior's words)."""

    __tablename__ = "robot_messages"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_robot_messages_message_id"),
        Index("ix_robot_messages_senior_created", "senior_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64))
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    sender: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    devices: Mapped[int] = mapped_column(default=0)  # robots it was addressed to
    commands_published: Mapped[int] = mapped_column(default=0)  # handed to the broker


# --- Research (issue 7): studies, participants, consent, assessments, daily metrics -------
# Identities (the senior and robot behind a pseudonymous code) live in their own table that
# no researcher-facing code reads; everything else is keyed by the participant's code.


class ParticipantStatus(StrEnum):
    """Where a participant is in a study."""

    ENROLLED = "enrolled"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


class Retention(StrEnum):
    """What happens to a participant's data when they withdraw, as their consent says."""

    DELETE = "delete"
    RETAIN = "retain"


class AssessmentSource(StrEnum):
    """Where an assessment came from: the robot's spoken screening, entered over the API, or
    imported from a CSV file of visits (`cloud/research/bulk_import.py`)."""

    DEVICE = "device"
    API = "api"
    IMPORT = "import"


class Study(Base):
    """A pilot study; `shift_secret` keys the per-participant date shifting of its exports."""

    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")
    min_k: Mapped[int] = mapped_column(default=5)
    shift_secret: Mapped[str] = mapped_column(String(128))
    closed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    metrics_watermark: Mapped[datetime | None]  # events received up to here are in the metrics


class StudyArm(Base):
    """One arm of a study (intervention, control, ...)."""

    __tablename__ = "study_arms"
    __table_args__ = (UniqueConstraint("study_id", "code", name="uq_study_arms"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(String(64), ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100))


class StudyTimePoint(Base):
    """A scheduled assessment: `label` (baseline, week4, ...) `day` days after enrolment."""

    __tablename__ = "study_time_points"
    __table_args__ = (UniqueConstraint("study_id", "label", name="uq_study_time_points"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(String(64), ForeignKey("studies.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    day: Mapped[int]
    window_days: Mapped[int] = mapped_column(default=7)
    instruments: Mapped[list[str]] = mapped_column(json_type())


class ConsentForm(Base):
    """A versioned consent form: which streams it asks for."""

    __tablename__ = "consent_forms"
    __table_args__ = (UniqueConstraint("study_id", "version", name="uq_consent_forms"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(String(64), ForeignKey("studies.id"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    streams: Mapped[list[str]] = mapped_column(json_type())
    summary: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[datetime]


class Participant(Base):
    """A senior in a study, known to researchers only by `code`; demographics are exported
    only generalised (age band, region level)."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(String(64), ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    arm: Mapped[str] = mapped_column(String(32))
    status: Mapped[ParticipantStatus] = mapped_column(_str_enum(ParticipantStatus))
    retention: Mapped[Retention] = mapped_column(_str_enum(Retention))
    timezone: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    birth_year: Mapped[int | None]
    sex: Mapped[str | None] = mapped_column(String(8))
    region: Mapped[str | None] = mapped_column(String(100))


class ParticipantIdentity(Base):
    """Who a participant is: their senior and robot. Never read for a researcher."""

    __tablename__ = "participant_identities"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    senior_id: Mapped[str] = mapped_column(String(64), ForeignKey("seniors.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]


class ConsentRecord(Base):
    """One grant or withdrawal of consent for one stream (append-only; the latest counts)."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_participant", "participant_id", "stream", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    stream: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    form_version: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))


class Assessment(Base):
    """One administered instrument: item answers, score, time point and source."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("device_id", "event_epoch", "event_seq", name="uq_assessments_event"),
        Index("ix_assessments_participant", "participant_id", "administered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    instrument: Mapped[str] = mapped_column(String(32))
    time_point: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[list[Any]] = mapped_column(json_type())
    score: Mapped[float | None] = mapped_column(Float)
    complete: Mapped[bool]
    prorated: Mapped[bool] = mapped_column(default=False)
    band: Mapped[str | None] = mapped_column(String(32))
    flags: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    source: Mapped[AssessmentSource] = mapped_column(_str_enum(AssessmentSource))
    device_id: Mapped[str | None] = mapped_column(String(64))
    event_epoch: Mapped[int | None] = mapped_column(BigInteger)  # the robot outbox's epoch
    event_seq: Mapped[int | None] = mapped_column(BigInteger)
    administered_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


# The incremental metrics run finds late events by when they arrived; the daily metrics read
# one participant-day's events of a few types (heartbeats would swamp a (device, ts) scan).
Index("ix_events_received_at", Event.received_at)
Index("ix_events_device_type_ts", Event.device_id, Event.type, Event.ts)


class DailyMetric(Base):
    """One participant's local day; NULL where the stream is not consented or has no data."""

    __tablename__ = "daily_metrics"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    talk_minutes: Mapped[float | None] = mapped_column(Float)
    turns: Mapped[int | None]
    robot_turns: Mapped[int | None]
    touches: Mapped[int | None]
    touch_counts: Mapped[dict[str, Any] | None]
    mood_shares: Mapped[dict[str, Any] | None]
    mood_valence: Mapped[float | None] = mapped_column(Float)
    mood_arousal: Mapped[float | None] = mapped_column(Float)
    mood_utterances: Mapped[int | None]
    activity_minutes: Mapped[dict[str, Any] | None]
    present_minutes: Mapped[float | None] = mapped_column(Float)
    reminders_given: Mapped[int | None]
    reminders_confirmed: Mapped[int | None]
    reminders_missed: Mapped[int | None]
    reminder_adherence: Mapped[float | None] = mapped_column(Float)
    alerts: Mapped[dict[str, Any] | None]
    device_up_hours: Mapped[int] = mapped_column(default=0)
    hours_with_data: Mapped[int] = mapped_column(default=0)
    events: Mapped[int] = mapped_column(default=0)
    model_versions: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime]
