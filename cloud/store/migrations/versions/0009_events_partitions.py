"""PostgreSQL: `events` partitioned by month of `ts` (issue 16: a year of data); SQLite unchanged.

A partitioned table's unique indexes must hold its partition key, so the key becomes
(device_id, epoch, seq, ts) and the primary key (id, ts). A redelivery is the same envelope,
so the same `ts`: it still conflicts. A robot that reuses a key with another `ts` is caught by
ingest's insert (`NOT EXISTS` on the key across partitions, cloud/ingest), as before by the
index. `ts` is the robot's own clock: a month out of range (a robot whose clock is not set)
lands in `events_default`. Partitions: the months of the stored rows through three months
ahead; `dolbom cloud partitions` creates the next ones and applies the retention policy
(cloud/store/partitions.py).

Revision ID: 0009_events_partitions
Revises: 0008_robot_messages
Create Date: 2026-12-05
"""

from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

revision = "0009_events_partitions"
down_revision = "0008_robot_messages"
branch_labels = None
depends_on = None

_COLUMNS = "id, device_id, epoch, seq, type, priority, ts, received_at, payload, model"


def _months(first: datetime, last: datetime) -> list[tuple[int, int]]:
    year, month = first.year, first.month
    out = []
    while (year, month) <= (last.year, last.month):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def upgrade() -> None:
    """Move events into a table partitioned by month of ts (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    for statement in (
        "ALTER TABLE events RENAME TO events_unpartitioned",
        "ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey"
        " TO events_unpartitioned_pkey",
        "ALTER INDEX ix_events_device_ts RENAME TO ix_events_unpartitioned_device_ts",
        "ALTER INDEX ix_events_device_type_ts RENAME TO ix_events_unpartitioned_device_type_ts",
        "ALTER INDEX ix_events_received_at RENAME TO ix_events_unpartitioned_received_at",
        "ALTER TABLE events_unpartitioned RENAME CONSTRAINT uq_events_device_epoch_seq"
        " TO uq_events_unpartitioned_device_epoch_seq",
        """
        CREATE TABLE events (
            id bigint NOT NULL DEFAULT nextval('events_id_seq'),
            device_id varchar(64) NOT NULL REFERENCES devices (id),
            epoch bigint NOT NULL DEFAULT 0,
            seq bigint NOT NULL,
            type varchar(32) NOT NULL,
            priority varchar(16) NOT NULL,
            ts timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            payload jsonb NOT NULL,
            model jsonb,
            CONSTRAINT events_pkey PRIMARY KEY (id, ts),
            CONSTRAINT uq_events_device_epoch_seq_ts UNIQUE (device_id, epoch, seq, ts)
        ) PARTITION BY RANGE (ts)
        """,
        "CREATE INDEX ix_events_device_ts ON events (device_id, ts)",
        "CREATE INDEX ix_events_device_type_ts ON events (device_id, type, ts)",
        "CREATE INDEX ix_events_received_at ON events (received_at)",
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    ):
        bind.execute(text(statement))
    now = datetime.now(UTC)
    # The stored rows' months from 2020 on (an unset robot clock goes to the default one).
    first = bind.execute(
        text("SELECT min(ts) FROM events_unpartitioned WHERE ts >= '2020-01-01 00:00+00'")
    ).scalar()
    start = now if first is None else min(first, now)
    last = datetime(now.year + (now.month + 2) // 12, (now.month + 2) % 12 + 1, 1, tzinfo=UTC)
    for year, month in _months(start, last):
        nxt = (year + 1, 1) if month == 12 else (year, month + 1)
        bind.execute(
            text(
                f"CREATE TABLE events_p{year:04d}{month:02d} PARTITION OF events"
                f" FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00+00')"
                f" TO ('{nxt[0]:04d}-{nxt[1]:02d}-01 00:00+00')"
            )
        )
    bind.execute(
        text(f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM events_unpartitioned")  # noqa: S608 (constants)
    )
    bind.execute(text("ALTER SEQUENCE events_id_seq OWNED BY events.id"))
    bind.execute(text("DROP TABLE events_unpartitioned"))


def downgrade() -> None:
    """Back to one table keyed on (device_id, epoch, seq) (a key stored twice keeps its first)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    for statement in (
        "ALTER TABLE events RENAME TO events_partitioned",
        "ALTER TABLE events_partitioned RENAME CONSTRAINT events_pkey TO events_partitioned_pkey",
        "ALTER INDEX ix_events_device_ts RENAME TO ix_events_partitioned_device_ts",
        "ALTER INDEX ix_events_device_type_ts RENAME TO ix_events_partitioned_device_type_ts",
        "ALTER INDEX ix_events_received_at RENAME TO ix_events_partitioned_received_at",
        "ALTER TABLE events_partitioned RENAME CONSTRAINT uq_events_device_epoch_seq_ts"
        " TO uq_events_partitioned_device_epoch_seq_ts",
        """
        CREATE TABLE events (
            id bigint NOT NULL DEFAULT nextval('events_id_seq'),
            device_id varchar(64) NOT NULL REFERENCES devices (id),
            seq bigint NOT NULL,
            type varchar(32) NOT NULL,
            priority varchar(16) NOT NULL,
            ts timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            payload jsonb NOT NULL,
            model jsonb,
            epoch bigint NOT NULL DEFAULT 0,
            CONSTRAINT events_pkey PRIMARY KEY (id),
            CONSTRAINT uq_events_device_epoch_seq UNIQUE (device_id, epoch, seq)
        )
        """,
        "CREATE INDEX ix_events_device_ts ON events (device_id, ts)",
        "CREATE INDEX ix_events_device_type_ts ON events (device_id, type, ts)",
        "CREATE INDEX ix_events_received_at ON events (received_at)",
        f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM events_partitioned"  # noqa: S608 (constants)
        " ORDER BY id ON CONFLICT DO NOTHING",
        "ALTER SEQUENCE events_id_seq OWNED BY events.id",
        "DROP TABLE events_partitioned CASCADE",
    ):
        bind.execute(text(statement))
