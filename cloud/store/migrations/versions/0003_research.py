"""Pilot-study research: studies, arms, schedules, consent, participants, assessments, metrics.

Revision ID: 0003_research
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_research"
down_revision = "0002"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the research tables."""
    op.create_table(
        "studies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("min_k", sa.Integer(), nullable=False),
        sa.Column("shift_secret", sa.String(128), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("metrics_watermark", _TS, nullable=True),
    )
    op.create_table(
        "study_arms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(64), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.UniqueConstraint("study_id", "code", name="uq_study_arms"),
    )
    op.create_index("ix_study_arms_study_id", "study_arms", ["study_id"])
    op.create_table(
        "study_time_points",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(64), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("instruments", _JSON, nullable=False),
        sa.UniqueConstraint("study_id", "label", name="uq_study_time_points"),
    )
    op.create_index("ix_study_time_points_study_id", "study_time_points", ["study_id"])
    op.create_table(
        "consent_forms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(64), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("streams", _JSON, nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("published_at", _TS, nullable=False),
        sa.UniqueConstraint("study_id", "version", name="uq_consent_forms"),
    )
    op.create_index("ix_consent_forms_study_id", "consent_forms", ["study_id"])
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(64), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("arm", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("retention", sa.String(32), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("enrolled_at", _TS, nullable=False),
        sa.Column("withdrawn_at", _TS, nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(8), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
    )
    op.create_index("ix_participants_study_id", "participants", ["study_id"])
    op.create_table(
        "participant_identities",
        sa.Column(
            "participant_id", sa.Integer(), sa.ForeignKey("participants.id"), primary_key=True
        ),
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_participant_identities_senior_id", "participant_identities", ["senior_id"])
    op.create_index("ix_participant_identities_device_id", "participant_identities", ["device_id"])
    op.create_table(
        "consent_records",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("stream", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("form_version", sa.String(32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
    )
    op.create_index(
        "ix_consent_records_participant", "consent_records", ["participant_id", "stream", "id"]
    )
    op.create_table(
        "assessments",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("time_point", sa.String(32), nullable=True),
        sa.Column("answers", _JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("prorated", sa.Boolean(), nullable=False),
        sa.Column("band", sa.String(32), nullable=True),
        sa.Column("flags", _JSON, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("event_seq", sa.BigInteger(), nullable=True),
        sa.Column("administered_at", _TS, nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.UniqueConstraint("device_id", "event_seq", name="uq_assessments_event"),
    )
    op.create_index(
        "ix_assessments_participant", "assessments", ["participant_id", "administered_at"]
    )
    op.create_index("ix_events_received_at", "events", ["received_at"])
    op.create_index("ix_events_device_type_ts", "events", ["device_id", "type", "ts"])
    op.create_table(
        "daily_metrics",
        sa.Column(
            "participant_id", sa.Integer(), sa.ForeignKey("participants.id"), primary_key=True
        ),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("talk_minutes", sa.Float(), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=True),
        sa.Column("robot_turns", sa.Integer(), nullable=True),
        sa.Column("touches", sa.Integer(), nullable=True),
        sa.Column("touch_counts", _JSON, nullable=True),
        sa.Column("mood_shares", _JSON, nullable=True),
        sa.Column("mood_valence", sa.Float(), nullable=True),
        sa.Column("mood_arousal", sa.Float(), nullable=True),
        sa.Column("mood_utterances", sa.Integer(), nullable=True),
        sa.Column("activity_minutes", _JSON, nullable=True),
        sa.Column("present_minutes", sa.Float(), nullable=True),
        sa.Column("reminders_given", sa.Integer(), nullable=True),
        sa.Column("reminders_confirmed", sa.Integer(), nullable=True),
        sa.Column("reminders_missed", sa.Integer(), nullable=True),
        sa.Column("reminder_adherence", sa.Float(), nullable=True),
        sa.Column("alerts", _JSON, nullable=True),
        sa.Column("device_up_hours", sa.Integer(), nullable=False),
        sa.Column("hours_with_data", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("model_versions", _JSON, nullable=False),
        sa.Column("computed_at", _TS, nullable=False),
    )


def downgrade() -> None:
    """Drop the research tables."""
    op.drop_index("ix_events_device_type_ts", table_name="events")
    op.drop_index("ix_events_received_at", table_name="events")
    for table in (
        "daily_metrics",
        "assessments",
        "consent_records",
        "participant_identities",
        "participants",
        "consent_forms",
        "study_time_points",
        "study_arms",
        "studies",
    ):
        op.drop_table(table)
