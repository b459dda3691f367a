"""Assessments from a robot's screening events are keyed by (device_id, event_epoch, event_seq),
like the events themselves: a robot whose outbox starts over (a new epoch, seq from 1) still has
its screenings recorded. Existing device rows get epoch 0.

Revision ID: 0006_assessment_epoch
Revises: 0005_api_security
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_assessment_epoch"
down_revision = "0005_api_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add assessments.event_epoch and re-key device assessments on it."""
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("event_epoch", sa.BigInteger(), nullable=True))
    op.execute("UPDATE assessments SET event_epoch = 0 WHERE device_id IS NOT NULL")
    with op.batch_alter_table("assessments") as batch:
        batch.drop_constraint("uq_assessments_event", type_="unique")
        batch.create_unique_constraint(
            "uq_assessments_event", ["device_id", "event_epoch", "event_seq"]
        )


def downgrade() -> None:
    """Back to (device_id, event_seq); of rows that would collide, the first is kept."""
    op.execute(
        "DELETE FROM assessments WHERE device_id IS NOT NULL AND id NOT IN (SELECT keep FROM"
        " (SELECT MIN(id) AS keep FROM assessments WHERE device_id IS NOT NULL"
        " GROUP BY device_id, event_seq) AS k)"
    )
    with op.batch_alter_table("assessments") as batch:
        batch.drop_constraint("uq_assessments_event", type_="unique")
        batch.create_unique_constraint("uq_assessments_event", ["device_id", "event_seq"])
        batch.drop_column("event_epoch")
