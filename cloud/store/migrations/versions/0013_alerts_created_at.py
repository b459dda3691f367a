"""An index on alerts.created_at (issue 15): the daily report reads the alerts opened on one
day (a range of created_at) instead of scanning every alert ever raised.

Revision ID: 0013_alerts_created_at
Revises: 0012_event_floors
Create Date: 2026-12-05
"""

from alembic import op

revision = "0013_alerts_created_at"
down_revision = "0012_event_floors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ix_alerts_created_at."""
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])


def downgrade() -> None:
    """Drop ix_alerts_created_at."""
    op.drop_index("ix_alerts_created_at", table_name="alerts")
