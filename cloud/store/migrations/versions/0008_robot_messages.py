"""Caregivers' messages for the robot to say (issue 15, the `say_message` command).

Revision ID: 0008_robot_messages
Revises: 0007_push_subscriptions
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_robot_messages"
down_revision = "0007_push_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create robot_messages."""
    op.create_table(
        "robot_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("text", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("commands_published", sa.Integer(), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_robot_messages_message_id"),
    )
    op.create_index(
        "ix_robot_messages_senior_created", "robot_messages", ["senior_id", "created_at"]
    )


def downgrade() -> None:
    """Drop robot_messages."""
    op.drop_index("ix_robot_messages_senior_created", table_name="robot_messages")
    op.drop_table("robot_messages")
