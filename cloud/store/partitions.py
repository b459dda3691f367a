"""PostgreSQL's monthly `events` partitions: created ahead, dropped by a retention policy per type.

Migration 0009 partitions `events` by month of `ts` (`events_pYYYYMM`, and `events_default`
for a robot clock outside them). `maintain()` (the `dolbom cloud partitions` job, daily):

1. creates the partitions of this month through `ahead_months` ahead, so ingest never writes
   into the default partition by accident (rows already there for a new month are moved in);
2. applies the retention policy: each event type is kept `days[type]` days (by `ts`), else
   `default_days`. A month older than every type's retention is dropped whole (a metadata
   change, no row scan) unless it holds research data; newer months lose only the rows of
   short-lived types (heartbeats first) with a `DELETE` on that partition.
3. Research data are kept under the study's rules: the events of a robot whose senior is a
   participant of a study that is not closed (unless they withdrew asking for deletion, which
   `cloud/research` carries out) are not removed here; a month holding any is not dropped.

SQLite (one home, a small agency) has no partitions: `maintain()` applies the same policy with
`DELETE`s on its one table.
"""

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, bindparam, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cloud.ingest.stored import settled_progress
from cloud.store.models import SettledFloor
from cloud.store.types import UTCDateTime
from protocol import EventType

log = logging.getLogger(__name__)

_PARTITION = re.compile(r"^events_p(\d{4})(\d{2})$")


class RetentionPolicy(BaseModel):
    """Days each event type is kept (by the robot's `ts`); types not listed keep `default_days`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: dict[str, int] = Field(
        default_factory=lambda: {"heartbeat": 3, "battery": 90, "device_fault": 180}
    )
    default_days: int = Field(default=3 * 365, ge=1)
    ahead_months: int = Field(default=3, ge=1, le=24)
    window_days: int = Field(default=35, ge=1)  # rows older than cutoff - window: a full run

    def longest(self) -> int:
        """The longest any type is kept."""
        return max([self.default_days, *self.days.values()])


@dataclass
class Maintenance:
    """What one run did."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted_rows: int = 0
    held_devices: int = 0
    floors_raised: int = 0


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def is_partitioned(conn: Connection) -> bool:
    """True when `events` is a partitioned table (PostgreSQL after migration 0009)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(
        conn.scalar(
            text(
                "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
                " WHERE c.relname = 'events' AND c.relnamespace = 'public'::regnamespace"
            )
        )
    )


def partitions(conn: Connection) -> list[tuple[str, datetime, datetime]]:
    """The monthly partitions: (name, from, to), oldest first."""
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'public.events'::regclass"
        )
    ).all()
    out = []
    for name in names:
        m = _PARTITION.match(name)
        if m:
            year, month = int(m.group(1)), int(m.group(2))
            out.append((name, _month_start(year, month), _month_start(*_next_month(year, month))))
    return sorted(out, key=lambda p: p[1])


def ensure_partitions(conn: Connection, now: datetime, ahead_months: int) -> list[str]:
    """Create the partitions of `now`'s month through `ahead_months` ahead; the names created.

    Rows the default partition already holds for a new month are moved into it (PostgreSQL
    refuses a partition whose rows sit in the default one).
    """
    existing = {name for name, _, _ in partitions(conn)}
    created = []
    year, month = now.year, now.month
    for _ in range(ahead_months + 1):
        name = f"events_p{year:04d}{month:02d}"
        start, end = _month_start(year, month), _month_start(*_next_month(year, month))
        if name not in existing:
            bounds = {"a": start, "b": end}
            conn.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)"))
            conn.execute(
                text(
                    "WITH moved AS (DELETE FROM events_default WHERE ts >= :a AND ts < :b"  # noqa: S608 (our name)
                    f" RETURNING *) INSERT INTO {name} SELECT * FROM moved"
                ),
                bounds,
            )
            conn.execute(
                text(
                    f"ALTER TABLE events ATTACH PARTITION {name}"
                    f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
            )
            created.append(name)
        year, month = _next_month(year, month)
    return created


_HELD_DEVICES = """
    SELECT DISTINCT pi.device_id FROM participant_identities pi
    JOIN participants p ON p.id = pi.participant_id
    JOIN studies s ON s.id = p.study_id
    WHERE pi.device_id IS NOT NULL AND NOT s.closed
      AND NOT (p.status = 'withdrawn' AND p.retention = 'delete')
"""


def held_devices(conn: Connection) -> list[str]:
    """Robots whose events a study still needs (its own rules decide when they go)."""
    return list(conn.scalars(text(_HELD_DEVICES)).all())


# Per (device, epoch), the end of the run of consecutive seqs just above the current floor:
# `seq - dense_rank()` equals the floor exactly along that run (seqs start at 1 in an epoch).
# Only rows above the floors are read: each nightly run reads what came since the last one.
_SETTLE = """
    INSERT INTO event_floors (device_id, epoch, seq, settled_at)
    SELECT a.device_id, a.epoch, max(a.seq), :now FROM (
        SELECT e.device_id, e.epoch, e.seq, coalesce(f.seq, 0) AS floor,
            e.seq - dense_rank() OVER (PARTITION BY e.device_id, e.epoch ORDER BY e.seq) AS run
        FROM events e
        LEFT JOIN event_floors f ON f.device_id = e.device_id AND f.epoch = e.epoch
        WHERE e.seq > coalesce(f.seq, 0)
    ) a
    WHERE a.run = a.floor
    GROUP BY a.device_id, a.epoch
    ON CONFLICT (device_id, epoch) DO UPDATE
    SET seq = excluded.seq, settled_at = excluded.settled_at
    WHERE excluded.seq > event_floors.seq
"""

# Robots that declared seqs dropped (a device_fault) above their floor: a hole they made on
# purpose, which the stored report counts as settled (cloud/ingest/stored.py).
_DECLARING = """
    SELECT DISTINCT e.device_id, e.epoch FROM events e
    LEFT JOIN event_floors f ON f.device_id = e.device_id AND f.epoch = e.epoch
    WHERE e.type = 'device_fault' AND e.seq > coalesce(f.seq, 0)
"""

_RAISE_FLOOR = """
    UPDATE event_floors SET seq = :seq, settled_at = :now
    WHERE device_id = :device_id AND epoch = :epoch AND seq < :seq
"""


def settle_floors(conn: Connection, now: datetime) -> int:
    """Raise each robot's settled floor (`event_floors`) to the end of its stored prefix.

    Every seq up to the floor was stored (or declared dropped by the robot), so retention may
    then delete rows at or below it: ingest refuses those keys as already stored. Run in the
    transaction that deletes. The number of (device, epoch) floors raised.
    """
    now_param = bindparam("now", type_=UTCDateTime())
    raised = max(conn.execute(text(_SETTLE).bindparams(now_param), {"now": now}).rowcount, 0)
    for device_id, epoch in conn.execute(text(_DECLARING)).all():
        with Session(bind=conn) as session:  # joins the caller's transaction
            progress = settled_progress(session, device_id, epoch, None)
        result = conn.execute(
            text(_RAISE_FLOOR).bindparams(now_param),
            {"seq": progress.base, "now": now, "device_id": device_id, "epoch": epoch},
        )
        if result.rowcount == 0 and progress.base > 0:  # no floor yet: the prefix was empty
            conn.execute(
                insert(SettledFloor).values(
                    device_id=device_id, epoch=epoch, seq=progress.base, settled_at=now
                )
            )
            raised += 1
        raised += max(result.rowcount, 0)
    return raised


def apply_retention(
    conn: Connection, now: datetime, policy: RetentionPolicy, *, full: bool = False
) -> Maintenance:
    """Drop months past every type's retention, delete rows of types kept for less.

    The daily run deletes the rows that passed their retention in the last `window_days`
    (earlier ones went on earlier runs; on PostgreSQL the bounds prune the scan to one or two
    partitions); `full` deletes every row past it (after a policy change or missed runs).
    """
    done = Maintenance()
    done.floors_raised = settle_floors(conn, now)
    held = held_devices(conn)
    done.held_devices = len(held)
    partitioned = is_partitioned(conn)
    longest = now - timedelta(days=policy.longest())
    params: dict[str, object] = {"held": held}
    if partitioned:
        for name, _start, end in partitions(conn):
            if end > longest:
                continue
            holds = conn.scalar(
                text(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE device_id = ANY(:held))"),  # noqa: S608 (a catalog name matching _PARTITION)
                params,
            )
            if holds:
                continue  # research data: only the rows of other robots go, below
            conn.execute(text(f"ALTER TABLE events DETACH PARTITION {name}"))
            conn.execute(text(f"DROP TABLE {name}"))
            done.dropped.append(name)
    cutoffs = {**dict.fromkeys((t.value for t in EventType), policy.default_days), **policy.days}
    held_param: list[str] | str = held
    # Only rows at or below their robot's settled floor go: their keys stay deduplicated.
    settled = (
        "EXISTS (SELECT 1 FROM event_floors f WHERE f.device_id = events.device_id"
        " AND f.epoch = events.epoch AND f.seq >= events.seq)"
    )
    keep = "NOT (device_id = ANY(:held))"
    if conn.dialect.name != "postgresql":
        keep, held_param = "device_id NOT IN (SELECT value FROM json_each(:held))", json.dumps(held)
    for event_type, days in sorted(cutoffs.items()):
        cutoff = now - timedelta(days=days)
        since = (
            datetime(1, 1, 1, tzinfo=UTC) if full else cutoff - timedelta(days=policy.window_days)
        )
        result = conn.execute(
            text(
                "DELETE FROM events WHERE type = :type AND ts < :cutoff AND ts >= :since"  # noqa: S608 (a constant)
                f" AND {keep} AND {settled}"
            ),
            {
                "type": event_type,
                "cutoff": cutoff,
                "since": since,
                "held": held_param,
            },
        )
        done.deleted_rows += max(result.rowcount, 0)
    # The heartbeats' hourly roll-up (cloud/ingest/rollup.py) outlives the heartbeat rows: it
    # is what uptime is computed from, kept as long as events are by default.
    cutoff = now - timedelta(days=policy.default_days)
    result = conn.execute(
        text(f"DELETE FROM heartbeat_hours WHERE hour < :cutoff AND {keep}"),  # noqa: S608 (a constant)
        {"cutoff": cutoff, "held": held_param},
    )
    done.deleted_rows += max(result.rowcount, 0)
    return done


def maintain(
    engine: Engine, now: datetime, policy: RetentionPolicy | None = None, *, full: bool = False
) -> Maintenance:
    """Create the partitions ahead (PostgreSQL), then apply the retention policy."""
    policy = policy or RetentionPolicy()
    with engine.begin() as conn:
        created = ensure_partitions(conn, now, policy.ahead_months) if is_partitioned(conn) else []
    with engine.begin() as conn:
        done = apply_retention(conn, now, policy, full=full)
    done.created = created
    if created or done.dropped or done.deleted_rows:
        log.info(
            "events: created %s, dropped %s, deleted %d rows (research holds %d robots)",
            created,
            done.dropped,
            done.deleted_rows,
            done.held_devices,
        )
    return done
