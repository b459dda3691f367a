"""API security (issue 14 items 9, 10, 13, 14): login counters, token revocation, device
assignments, primary caregivers.

- `login_counters`: failed-login counters per (account, source) and per account, in a fixed
  window, updated atomically by an UPSERT so every API worker shares them.
- `login_sources`: the sources an account has logged in from successfully (exempt from the
  per-account cap, see docs/api-security.md).
- `revoked_tokens`: the `jti` of every logged-out token until it expires.
- `accounts.token_version`: bumped by disable and password change; older tokens stop working.
- `caregiver_links.is_primary`: a primary caregiver may change the senior's escalation policy.
- `device_assignments`: which senior a robot served when; events are scoped to the period.
  Every robot already assigned gets one open period covering its whole history.

Revision ID: 0005_api_security
Revises: 0004_epoch_leases
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_api_security"
down_revision = "0004_epoch_leases"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the tables and columns; backfill one open assignment per assigned robot."""
    op.create_table(
        "login_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "login_sources",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("last_ok_at", _TS, nullable=False),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("caregiver_links") as batch:
        batch.add_column(
            sa.Column("is_primary", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "device_assignments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False),
        sa.Column("valid_from", _TS, nullable=True),  # NULL: since the robot's first event
        sa.Column("valid_to", _TS, nullable=True),
    )
    op.create_index("ix_device_assignments_device_id", "device_assignments", ["device_id"])
    op.create_index("ix_device_assignments_senior_id", "device_assignments", ["senior_id"])
    op.execute(
        "INSERT INTO device_assignments (device_id, senior_id, valid_from, valid_to)"
        " SELECT id, senior_id, NULL, NULL FROM devices WHERE senior_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_device_assignments_senior_id", "device_assignments")
    op.drop_index("ix_device_assignments_device_id", "device_assignments")
    op.drop_table("device_assignments")
    with op.batch_alter_table("caregiver_links") as batch:
        batch.drop_column("is_primary")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("token_version")
    op.drop_index("ix_revoked_tokens_expires_at", "revoked_tokens")
    op.drop_table("revoked_tokens")
    op.drop_table("login_sources")
    op.drop_table("login_counters")
