"""Settled floors per robot and epoch (issue 16): `event_floors`, written by retention, read by
ingest and the stored report, so heartbeat rows can be deleted after days, not 90.

Revision ID: 0012_event_floors
Revises: 0011_heartbeat_hours
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_event_floors"
down_revision = "0011_heartbeat_hours"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create event_floors (empty: the first retention run settles the floors)."""
    op.create_table(
        "event_floors",
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("epoch", sa.BigInteger(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop event_floors."""
    op.drop_table("event_floors")
