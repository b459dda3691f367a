"""Heartbeats rolled up per robot and UTC hour (`heartbeat_hours`), in ingest's transaction.

Both ingest paths (one by one and bulk) call `roll_up()` with the heartbeats whose key they
have just inserted into `events`: the events key (device_id, epoch, seq) stays the one
deduplication, so a redelivered heartbeat (refused by the key) is never counted, and two
workers storing the same redelivery count it once (only one insert wins). The hour rows are
upserted in key order (every worker locks them in the same order) with `count = count + n`,
so concurrent workers adding to one hour add up. Daily metrics and a robot's health read the
roll-up: a day of a robot beating every 60 s is 24 rows, not 1,440.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from protocol import Envelope, EventType


def hour_of(ts: datetime) -> datetime:
    """The UTC hour a timestamp falls in."""
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _failing(payload: dict[str, Any]) -> bool:
    return any(not t.get("ok", True) for t in payload.get("self_tests", []) or [])


def _max(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def hour_rows(envs: Iterable[Envelope], now: datetime) -> list[dict[str, Any]]:
    """Heartbeats aggregated per (device, hour), in key order (pure)."""
    rows: dict[tuple[str, datetime], dict[str, Any]] = {}
    for env in envs:
        if env.type is not EventType.HEARTBEAT:
            continue
        p = env.payload
        key = (env.device_id, hour_of(env.ts))
        row = rows.get(key)
        outbox = p.get("outbox_pending")
        rss = p.get("rss_mb")
        if row is None:
            rows[key] = {
                "device_id": env.device_id,
                "hour": key[1],
                "count": 1,
                "first_ts": env.ts,
                "last_ts": env.ts,
                "failing": int(_failing(p)),
                "outbox_pending_max": outbox,
                "rss_mb_max": rss,
                "last_epoch": env.epoch,
                "last_seq": env.seq,
                "last_payload": p,
                "received_at": now,
            }
            continue
        row["count"] += 1
        row["failing"] += int(_failing(p))
        row["first_ts"] = min(row["first_ts"], env.ts)
        row["outbox_pending_max"] = _max(row["outbox_pending_max"], outbox)
        row["rss_mb_max"] = _max(row["rss_mb_max"], rss)
        if env.ts >= row["last_ts"]:
            row.update(last_ts=env.ts, last_epoch=env.epoch, last_seq=env.seq, last_payload=p)
    return [rows[k] for k in sorted(rows)]


def roll_up(session: Session, envs: Sequence[Envelope], now: datetime) -> int:
    """Add the heartbeats among `envs` (each newly stored) to their hours; rows upserted.

    One prepared text statement per dialect (PostgreSQL: every row in one JSON document;
    SQLite: executemany): building a multi-row ORM upsert per batch cost the worker five
    times the CPU of storing the batch itself (measured, issue 16).
    """
    rows = hour_rows(envs, now)
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        doc = [
            r
            | {
                "hour": r["hour"].isoformat(),
                "first_ts": r["first_ts"].isoformat(),
                "last_ts": r["last_ts"].isoformat(),
                "received_at": r["received_at"].isoformat(),
            }
            for r in rows
        ]
        session.execute(_PG_UPSERT, {"rows": json.dumps(doc)})
    else:
        session.execute(
            _SQLITE_UPSERT,
            [
                r
                | {
                    "hour": _sqlite_ts(r["hour"]),
                    "first_ts": _sqlite_ts(r["first_ts"]),
                    "last_ts": _sqlite_ts(r["last_ts"]),
                    "received_at": _sqlite_ts(r["received_at"]),
                    "last_payload": json.dumps(r["last_payload"]),
                }
                for r in rows
            ],
        )
    return len(rows)


def _sqlite_ts(ts: datetime) -> str:
    """The way UTCDateTime stores a timestamp in SQLite (naive UTC, microseconds)."""
    return ts.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


# Every SET reads the row as it was; `newer`: this batch holds the hour's latest heartbeat.
_SET = """
    count = t.count + excluded.count,
    first_ts = {least}(t.first_ts, excluded.first_ts),
    last_ts = {greatest}(t.last_ts, excluded.last_ts),
    failing = t.failing + excluded.failing,
    outbox_pending_max = {nullmax}(t.outbox_pending_max, excluded.outbox_pending_max),
    rss_mb_max = {nullmax}(t.rss_mb_max, excluded.rss_mb_max),
    last_epoch = CASE WHEN excluded.last_ts >= t.last_ts
        THEN excluded.last_epoch ELSE t.last_epoch END,
    last_seq = CASE WHEN excluded.last_ts >= t.last_ts
        THEN excluded.last_seq ELSE t.last_seq END,
    last_payload = CASE WHEN excluded.last_ts >= t.last_ts
        THEN excluded.last_payload ELSE t.last_payload END,
    received_at = {greatest}(t.received_at, excluded.received_at)
"""
_COLUMNS = (
    "device_id, hour, count, first_ts, last_ts, failing, outbox_pending_max, rss_mb_max,"
    " last_epoch, last_seq, last_payload, received_at"
)
# Rows in key order: every worker locks the hours in the same order.
_PG_UPSERT = text(
    f"""
    INSERT INTO heartbeat_hours AS t ({_COLUMNS})
    SELECT {_COLUMNS}
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(device_id text, hour timestamptz,
        count int, first_ts timestamptz, last_ts timestamptz, failing int,
        outbox_pending_max int, rss_mb_max float8, last_epoch bigint, last_seq bigint,
        last_payload jsonb, received_at timestamptz)
    ORDER BY device_id, hour
    ON CONFLICT (device_id, hour) DO UPDATE SET
    """  # noqa: S608 (constants)
    + _SET.format(least="least", greatest="greatest", nullmax="greatest")
)
# SQLite's two-argument min/max are NULL when either is; the NULL-aware maximum is spelled out.
_SQLITE_UPSERT = text(
    f"""
    INSERT INTO heartbeat_hours AS t ({_COLUMNS})
    VALUES (:device_id, :hour, :count, :first_ts, :last_ts, :failing, :outbox_pending_max,
        :rss_mb_max, :last_epoch, :last_seq, :last_payload, :received_at)
    ON CONFLICT (device_id, hour) DO UPDATE SET
    """  # noqa: S608 (constants)
    + _SET.format(least="min", greatest="max", nullmax="_nullmax")
    .replace(
        "_nullmax(t.outbox_pending_max, excluded.outbox_pending_max)",
        "coalesce(max(t.outbox_pending_max, excluded.outbox_pending_max),"
        " t.outbox_pending_max, excluded.outbox_pending_max)",
    )
    .replace(
        "_nullmax(t.rss_mb_max, excluded.rss_mb_max)",
        "coalesce(max(t.rss_mb_max, excluded.rss_mb_max), t.rss_mb_max, excluded.rss_mb_max)",
    )
)


# Heartbeat rows already in `events` (PostgreSQL) rolled up as ingest would have: for data
# generated or loaded straight into `events` (benchmarks/ingest.py --year, benchmarks/research.py).
# Each heartbeat row must be rolled up once: call it once per range of `ts`.
_PG_FROM_EVENTS = text(
    """
    INSERT INTO heartbeat_hours AS t (device_id, hour, count, first_ts, last_ts, failing,
        outbox_pending_max, rss_mb_max, last_epoch, last_seq, last_payload, received_at)
    SELECT device_id, date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
        min(ts), max(ts),
        count(*) FILTER (WHERE jsonb_path_exists(payload, '$.self_tests[*] ? (@.ok == false)')),
        max((payload->>'outbox_pending')::bigint), max((payload->>'rss_mb')::float8),
        (array_agg(epoch ORDER BY ts DESC, id DESC))[1],
        (array_agg(seq ORDER BY ts DESC, id DESC))[1],
        (array_agg(payload ORDER BY ts DESC, id DESC))[1],
        max(received_at)
    FROM events
    WHERE type = 'heartbeat' AND ts >= :since AND ts < :until
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (device_id, hour) DO UPDATE SET
        count = t.count + excluded.count,
        first_ts = least(t.first_ts, excluded.first_ts),
        last_ts = greatest(t.last_ts, excluded.last_ts),
        failing = t.failing + excluded.failing,
        outbox_pending_max = greatest(t.outbox_pending_max, excluded.outbox_pending_max),
        rss_mb_max = greatest(t.rss_mb_max, excluded.rss_mb_max),
        last_epoch = CASE WHEN excluded.last_ts >= t.last_ts
            THEN excluded.last_epoch ELSE t.last_epoch END,
        last_seq = CASE WHEN excluded.last_ts >= t.last_ts
            THEN excluded.last_seq ELSE t.last_seq END,
        last_payload = CASE WHEN excluded.last_ts >= t.last_ts
            THEN excluded.last_payload ELSE t.last_payload END,
        received_at = greatest(t.received_at, excluded.received_at)
    """
)


def roll_up_stored(conn: Connection, since: datetime, until: datetime) -> int:
    """PostgreSQL: roll up the heartbeat rows of `events` with `since <= ts < until`."""
    result = conn.execute(_PG_FROM_EVENTS, {"since": since, "until": until})
    return max(result.rowcount, 0)
