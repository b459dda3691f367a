"""Ingest reliability: the outbox epoch in the events key; ingest client-id leases.

Events are keyed by (device_id, epoch, seq): a robot whose outbox starts over (a new epoch,
seq from 1) is heard instead of discarded as duplicates. Existing rows get epoch 0, which is
what robots without an epoch send. `ingest_leases` holds one row per MQTT client id in use by
an ingest worker, with a heartbeat, so two workers cannot share one persistent session.

Revision ID: 0004_epoch_leases
Revises: 0003_research
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_epoch_leases"
down_revision = "0003_research"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add events.epoch, re-key events on (device_id, epoch, seq), add ingest_leases."""
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_events_device_seq", type_="unique")
        batch.create_unique_constraint("uq_events_device_epoch_seq", ["device_id", "epoch", "seq"])
    op.create_table(
        "ingest_leases",
        sa.Column("client_id", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
    )


def downgrade() -> None:
    """Back to (device_id, seq); of rows that would collide, the first stored is kept."""
    op.drop_table("ingest_leases")
    op.execute(
        "DELETE FROM events WHERE id NOT IN"
        " (SELECT keep FROM (SELECT MIN(id) AS keep FROM events GROUP BY device_id, seq) AS k)"
    )
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_device_epoch_seq", type_="unique")
        batch.create_unique_constraint("uq_events_device_seq", ["device_id", "seq"])
        batch.drop_column("epoch")
