"""Heartbeats rolled up per robot and UTC hour (issue 16): `heartbeat_hours`, filled from the
heartbeats already stored, then kept up to date by ingest (cloud/ingest/rollup.py).

Revision ID: 0011_heartbeat_hours
Revises: 0010_organisations
Create Date: 2026-12-05
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011_heartbeat_hours"
down_revision = "0010_organisations"
branch_labels = None
depends_on = None

_PG_BACKFILL = """
INSERT INTO heartbeat_hours (device_id, hour, count, first_ts, last_ts, failing,
    outbox_pending_max, rss_mb_max, last_epoch, last_seq, last_payload, received_at)
SELECT device_id, date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
    min(ts), max(ts),
    count(*) FILTER (WHERE jsonb_path_exists(payload, '$.self_tests[*] ? (@.ok == false)')),
    max((payload->>'outbox_pending')::bigint), max((payload->>'rss_mb')::float8),
    (array_agg(epoch ORDER BY ts DESC, id DESC))[1],
    (array_agg(seq ORDER BY ts DESC, id DESC))[1],
    (array_agg(payload ORDER BY ts DESC, id DESC))[1],
    max(received_at)
FROM events WHERE type = 'heartbeat'
GROUP BY 1, 2
"""


def upgrade() -> None:
    """Create heartbeat_hours and roll up the heartbeats already in `events`."""
    op.create_table(
        "heartbeat_hours",
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("outbox_pending_max", sa.Integer(), nullable=True),
        sa.Column("rss_mb_max", sa.Float(), nullable=True),
        sa.Column("last_epoch", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "last_payload",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_PG_BACKFILL)
    else:
        _backfill_in_python(bind)


def _heartbeats(bind: sa.engine.Connection) -> Iterator[Any]:
    yield from bind.execute(
        sa.text(
            "SELECT device_id, epoch, seq, ts, received_at, payload FROM events"
            " WHERE type = 'heartbeat' ORDER BY device_id, ts, id"
        )
    )


def _backfill_in_python(bind: sa.engine.Connection) -> None:
    """SQLite (one home, a small agency): the same roll-up, computed here."""
    import json

    table = sa.table(
        "heartbeat_hours",
        *(
            sa.column(c)
            for c in (
                "device_id",
                "hour",
                "count",
                "first_ts",
                "last_ts",
                "failing",
                "outbox_pending_max",
                "rss_mb_max",
                "last_epoch",
                "last_seq",
                "last_payload",
                "received_at",
            )
        ),
    )
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for device_id, epoch, seq, ts, received, payload in _heartbeats(bind):
        p = json.loads(payload) if isinstance(payload, str) else payload
        when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
        hour = when.replace(tzinfo=None, minute=0, second=0, microsecond=0)
        key = (device_id, hour.isoformat(sep=" "))
        failing = int(any(not t.get("ok", True) for t in p.get("self_tests", []) or []))
        row = rows.get(key)
        if row is None:
            rows[key] = row = {
                "device_id": device_id,
                "hour": hour.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "count": 0,
                "first_ts": ts,
                "failing": 0,
                "outbox_pending_max": None,
                "rss_mb_max": None,
            }
        row["count"] += 1
        row["failing"] += failing
        for name, field in (("outbox_pending_max", "outbox_pending"), ("rss_mb_max", "rss_mb")):
            value = p.get(field)
            if value is not None and (row[name] is None or value > row[name]):
                row[name] = value
        row.update(
            last_ts=ts,
            last_epoch=epoch,
            last_seq=seq,
            last_payload=json.dumps(p),
            received_at=max(str(received), str(row.get("received_at", ""))),
        )
    values = list(rows.values())
    for start in range(0, len(values), 50):
        bind.execute(sa.insert(table), values[start : start + 50])


def downgrade() -> None:
    """Drop heartbeat_hours (the heartbeat rows in `events` are untouched)."""
    op.drop_table("heartbeat_hours")
