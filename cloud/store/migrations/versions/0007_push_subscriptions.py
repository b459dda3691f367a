"""Web Push subscriptions of the caregivers' app (issue 15): one row per browser, by endpoint.

Revision ID: 0007_push_subscriptions
Revises: 0006_assessment_epoch
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_push_subscriptions"
down_revision = "0006_assessment_epoch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create push_subscriptions."""
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("endpoint", sa.String(2000), nullable=False),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_account_id", "push_subscriptions", ["account_id"])


def downgrade() -> None:
    """Drop push_subscriptions."""
    op.drop_index("ix_push_subscriptions_account_id", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
