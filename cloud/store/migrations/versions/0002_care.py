"""Care alerting: seniors, accounts, caregiver links, contacts, escalation, reminders, audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)
# Enum columns widen from 16 to 32 characters ("missed_medication" is 17).
_WIDENED = {
    "alerts": ("kind", "severity", "status"),
    "alert_transitions": ("from_status", "to_status"),
    "deliveries": ("status",),
}


def upgrade() -> None:
    """Add the care tables and the alert columns escalation needs."""
    op.create_table(
        "seniors",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("inactivity_hours", sa.Float(), nullable=False),
        sa.Column("missed_medication_threshold", sa.Integer(), nullable=False),
        sa.Column("quiet_hours_start", sa.String(5), nullable=True),
        sa.Column("quiet_hours_end", sa.String(5), nullable=True),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "caregiver_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False),
        sa.Column("relation", sa.String(50), nullable=False),
        sa.UniqueConstraint("account_id", "senior_id", name="uq_caregiver_links"),
    )
    op.create_index("ix_caregiver_links_account_id", "caregiver_links", ["account_id"])
    op.create_index("ix_caregiver_links_senior_id", "caregiver_links", ["senior_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("relation", sa.String(50), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=True),
    )
    op.create_index("ix_contacts_senior_id", "contacts", ["senior_id"])
    op.create_table(
        "escalation_policies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False, unique=True
        ),
        sa.Column("tiers", _JSON, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_escalation_steps_alert_id", "escalation_steps", ["alert_id"])
    op.create_index("ix_escalation_steps_due", "escalation_steps", ["status", "due_at"])
    op.create_table(
        "reminder_schedules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("times", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_reminder_schedules_senior_id", "reminder_schedules", ["senior_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=True),
        sa.Column("senior_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
    )
    op.create_index("ix_audit_log_senior_at", "audit_log", ["senior_id", "at"])
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("senior_id", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_devices_senior_id", "seniors", ["senior_id"], ["id"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("senior_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("resolved_at", _TS, nullable=True))
        batch.add_column(sa.Column("note", sa.String(500), nullable=True))
        batch.add_column(
            sa.Column("tier", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("held_until", _TS, nullable=True))
    for table, columns in _WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(32), existing_type=sa.String(16))


def downgrade() -> None:
    """Drop the care tables and columns."""
    for table, columns in _WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(16), existing_type=sa.String(32))
    with op.batch_alter_table("alerts") as batch:
        for column in ("held_until", "tier", "note", "resolved_at", "resolved_by", "senior_id"):
            batch.drop_column(column)
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint("fk_devices_senior_id", type_="foreignkey")
        batch.drop_column("senior_id")
    for table in (
        "audit_log",
        "reminder_schedules",
        "escalation_steps",
        "escalation_policies",
        "contacts",
        "caregiver_links",
        "accounts",
        "seniors",
    ):
        op.drop_table(table)
