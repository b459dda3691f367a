"""The durable event queue: SQLite in WAL mode, so an event written survives a power cut.

An event lives here from the moment it is raised until the cloud says it has *stored* it
(protocol/delivery.py), not merely until the broker's PUBACK: a broker may drop an accepted
message (a full queue for an offline cloud session). Its states:

    unsent ──PUBACK──► sent ──stored report covers it──► deleted
      ▲                 │
      └──resend due─────┘   (no report within resend_after_s, doubling up to resend_max_s)

Each outbox file has an incarnation, its `epoch`: a random positive 62-bit integer chosen when
the file is created and stamped on every envelope, so a robot whose outbox was reset (a new
file, seq from 1 again) is heard instead of taken for a replay. A file that predates epochs
keeps epoch 0, which is what its queued envelopes already say.

The queue is bounded (`OutboxLimits`): past its row or byte cap, the oldest routine events
(low, then normal priority) are pruned; safety events (critical, high) never are.
"""

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from device.errors import EventTooLargeError, OutboxError
from protocol import (
    MAX_MESSAGE_BYTES,
    Envelope,
    EventType,
    ModelRef,
    Priority,
    encode,
    make_envelope,
)
from protocol.delivery import SEQS_DROPPED_CODE, StoredReport, format_seq_ranges, seq_ranges
from protocol.events import DeviceFaultPayload, Payload

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_counter (
    device_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX IF NOT EXISTS outbox_send_order ON outbox (device_id, rank, seq);
"""
# Columns added for end-to-end delivery; an older file gets them on open (ALTER TABLE).
_DELIVERY_COLUMNS = {
    "size": "INTEGER NOT NULL DEFAULT 0",
    "sent_at": "REAL",  # wall-clock seconds of the PUBACK; NULL: (re)send it
    "resend_at": "REAL",  # when a sent event not yet reported stored is sent again
    "attempts": "INTEGER NOT NULL DEFAULT 0",
}
_UNSENT_INDEX = (
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (device_id, rank, seq) "
    "WHERE sent_at IS NULL"
)
_EPOCH_BITS = 62
BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another process's lock
HEALTH_WRITE_TIMEOUT_MS = 2_000  # the same for the heartbeat's write check
_SAFETY_RANK = Priority.HIGH.rank  # ranks <= this are never pruned
_PRUNE_CHUNK = 200


@dataclass(frozen=True)
class OutboxLimits:
    """Bounds for a robot's disk and for re-sending (defaults sized for a Pi's SD card).

    `max_rows`/`max_bytes`: past either, the oldest low- then normal-priority events are
    pruned (critical and high never) down to 90 % of the cap. 100,000 rows is about two months
    of a robot's events at its usual ~70 an hour (~600 bytes each: ~60 MB). `resend_after_s`:
    a sent event the cloud has not reported stored is sent again after this long, then after
    twice as long, up to `resend_max_s` (see `requeue_due` for when the cloud is silent).
    """

    max_rows: int = 100_000
    max_bytes: int = 64 * 2**20
    resend_after_s: float = 30.0
    resend_max_s: float = 1800.0
    max_pending_age_s: float = 3600.0  # the heartbeat's self-test fails past this backlog age

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_bytes < MAX_MESSAGE_BYTES:
            raise ValueError(
                f"need max_rows >= 1 and max_bytes >= {MAX_MESSAGE_BYTES}, "
                f"got {self.max_rows}, {self.max_bytes}"
            )
        if self.max_pending_age_s <= 0:
            raise ValueError(f"need max_pending_age_s > 0, got {self.max_pending_age_s}")
        if not 0 < self.resend_after_s <= self.resend_max_s:
            raise ValueError(
                "need 0 < resend_after_s <= resend_max_s, "
                f"got {self.resend_after_s}, {self.resend_max_s}"
            )

    def resend_delay_s(self, attempts: int) -> float:
        """Seconds a sent event waits for its stored report after its `attempts`-th send."""
        return min(self.resend_max_s, self.resend_after_s * 2.0 ** min(max(attempts - 1, 0), 30))


@dataclass(frozen=True)
class OutboxRecord:
    """One queued event as stored: its seq, its priority and the exact bytes to publish."""

    seq: int
    priority: Priority
    data: bytes

    def envelope(self) -> Envelope:
        """The stored bytes parsed back into an envelope."""
        return Envelope.model_validate_json(self.data)


_RANK_TO_PRIORITY = {p.rank: p for p in Priority}


@dataclass(frozen=True)
class OutboxHealth:
    """What the heartbeat's `outbox` self-test reports."""

    writable: bool  # a durable write went through just now
    pending: int  # events not yet acknowledged by the broker
    oldest_pending_age_s: float  # how long the oldest of them has waited (0 when none)
    fill: float  # the larger of rows/max_rows and bytes/max_bytes (pruning starts at 1)
    limits: OutboxLimits

    @property
    def ok(self) -> bool:
        """Writable, the backlog younger than its limit, and below the caps' 90 %."""
        return (
            self.writable
            and self.oldest_pending_age_s <= self.limits.max_pending_age_s
            and self.fill < 0.9
        )

    @property
    def detail(self) -> str:
        """One line for the heartbeat."""
        parts = [] if self.writable else ["not writable"]
        if self.oldest_pending_age_s > self.limits.max_pending_age_s:
            parts.append(
                f"oldest unsent event waits {self.oldest_pending_age_s:.0f} s"
                f" (limit {self.limits.max_pending_age_s:.0f} s)"
            )
        if self.fill >= 0.9:
            parts.append(f"{self.fill:.0%} full, routine events are being pruned")
        parts.append(f"{self.pending} pending, oldest {self.oldest_pending_age_s:.0f} s")
        return "; ".join(parts)


def new_epoch() -> int:
    """A random positive 62-bit outbox incarnation."""
    return secrets.randbelow(2**_EPOCH_BITS - 1) + 1


class Outbox:
    """Events waiting until the cloud has stored them, each with a seq that is never reused."""

    def __init__(
        self,
        path: Path,
        device_id: str,
        *,
        limits: OutboxLimits | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.device_id = device_id
        self.limits = limits or OutboxLimits()
        self._wall = wall
        self._lock = threading.Lock()
        self.pruned = 0  # routine events dropped by the caps since open
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutboxError(f"cannot create the outbox folder {path.parent}: {e}") from None
        try:
            self._db = sqlite3.connect(
                path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as e:
            raise OutboxError(f"cannot open the outbox {path}: {e}") from None
        try:
            self.epoch = self._setup()
            self._rows, self._bytes = self._totals()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise OutboxError(
                f"the outbox {path} is unreadable ({e}); it was left untouched: "
                "move it aside to start a new one (a new epoch, so the cloud hears it), "
                "or restore it from a backup"
            ) from None

    def _setup(self) -> int:
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"journal mode is {mode!r}, WAL is required")
        self._db.execute("PRAGMA synchronous=FULL")
        check = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            have = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            for name, decl in _DELIVERY_COLUMNS.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE outbox ADD COLUMN {name} {decl}")
                    if name == "size":
                        self._db.execute("UPDATE outbox SET size = length(data)")
            self._db.execute(_UNSENT_INDEX)
            epoch = self._load_or_choose_epoch()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return epoch

    def _load_or_choose_epoch(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row is not None:
            return int(row[0])
        used = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM seq_counter) + (SELECT COUNT(*) FROM outbox)"
        ).fetchone()[0]
        # A file that already handed out seqs did so as epoch 0: keep it, so its queued
        # envelopes and the cloud agree. A new file starts a new incarnation.
        epoch = 0 if used else new_epoch()
        self._db.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (str(epoch),))
        if epoch:
            log.info("new outbox %s: epoch %d, seq starts at 1", self.path, epoch)
        return epoch

    def _totals(self) -> tuple[int, int]:
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox WHERE device_id = ?",
            (self.device_id,),
        ).fetchone()
        return int(row[0]), int(row[1])

    # -- writing ------------------------------------------------------------------------------

    def append(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        ts: datetime,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> Envelope:
        """Allocate the next seq and store the encoded event, both in one durable transaction.

        An event whose envelope would exceed MAX_MESSAGE_BYTES is refused with
        EventTooLargeError; a `device_fault` saying so is queued in its place (same seq), so
        the refusal reaches the cloud instead of vanishing.
        """
        too_large: str | None = None
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    env, too_large = self._insert_locked(event_type, payload, ts, priority, model)
                    seq = env.seq
                    if self._rows > self.limits.max_rows or self._bytes > self.limits.max_bytes:
                        self._prune_locked(ts)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self._rows, self._bytes = self._totals()
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None
        if too_large is not None:
            log.error("refused an event: %s (device_fault #%d queued instead)", too_large, seq)
            raise EventTooLargeError(too_large)
        return env

    def _insert_locked(
        self,
        event_type: EventType,
        payload: Payload,
        ts: datetime,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> tuple[Envelope, str | None]:
        """Take the next seq and insert the event (inside a transaction); an oversized event
        becomes a device_fault saying so, and the reason is returned with it."""
        row = self._db.execute(
            "SELECT last_seq FROM seq_counter WHERE device_id = ?", (self.device_id,)
        ).fetchone()
        seq = (row[0] if row else 0) + 1
        env = make_envelope(
            self.device_id,
            seq,
            payload,
            event_type=event_type,
            ts=ts,
            priority=priority,
            model=model,
            epoch=self.epoch,
        )
        data = encode(env)
        too_large: str | None = None
        if len(data) > MAX_MESSAGE_BYTES:
            too_large = (
                f"a {event_type} event of {len(data)} bytes exceeds the "
                f"{MAX_MESSAGE_BYTES}-byte limit; it was not queued"
            )
            fault = DeviceFaultPayload(component="outbox", code="event_too_large", detail=too_large)
            env = make_envelope(
                self.device_id,
                seq,
                fault,
                event_type=EventType.DEVICE_FAULT,
                ts=ts,
                epoch=self.epoch,
            )
            data = encode(env)
        self._db.execute(
            "INSERT INTO seq_counter (device_id, last_seq) VALUES (?, ?) "
            "ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq",
            (self.device_id, seq),
        )
        self._db.execute(
            "INSERT INTO outbox (device_id, seq, rank, data, size) VALUES (?, ?, ?, ?, ?)",
            (self.device_id, seq, env.priority.rank, data, len(data)),
        )
        self._rows += 1
        self._bytes += len(data)
        return env, too_large

    def _declare_dropped_locked(self, seqs: list[int], ts: datetime) -> None:
        """Tell the cloud (device_fault, high priority) which seqs will never come."""
        for text in format_seq_ranges(seq_ranges(seqs)):
            fault = DeviceFaultPayload(component="outbox", code=SEQS_DROPPED_CODE, detail=text)
            self._insert_locked(EventType.DEVICE_FAULT, fault, ts)

    def _prune_locked(self, ts: datetime) -> None:
        """Drop the oldest routine events until under both caps (inside a transaction)."""
        dropped: list[int] = []
        # Down to 90 % of each cap, so pruning (and its declaration) is rare, not per event.
        low_rows, low_bytes = self.limits.max_rows * 9 // 10, self.limits.max_bytes * 9 // 10
        while self._rows > low_rows or self._bytes > low_bytes:
            excess = max(self._rows - low_rows, 1)
            rows = self._db.execute(
                "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox "
                "WHERE device_id = ? AND rank > ? ORDER BY rank DESC, seq LIMIT ?) "
                "RETURNING seq, size",
                (self.device_id, _SAFETY_RANK, min(excess, _PRUNE_CHUNK)),
            ).fetchall()
            if not rows:
                log.warning(
                    "the outbox holds %d events (%d bytes), over its cap, all of them safety"
                    " events: none is pruned",
                    self._rows,
                    self._bytes,
                )
                break
            self._rows -= len(rows)
            self._bytes -= sum(int(r[1]) for r in rows)
            dropped += [int(r[0]) for r in rows]
        if dropped:
            self.pruned += len(dropped)
            log.warning(
                "the outbox is over its cap (%d rows, %d bytes): dropped the %d oldest routine"
                " events",
                self.limits.max_rows,
                self.limits.max_bytes,
                len(dropped),
            )
            self._declare_dropped_locked(dropped, ts)

    # -- sending ------------------------------------------------------------------------------

    def pending_records(self, limit: int, *, exclude: Collection[int] = ()) -> list[OutboxRecord]:
        """Up to `limit` events to send, critical first then by seq, minus the seqs in `exclude`."""
        if limit <= 0:
            return []
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT seq, rank, data FROM outbox WHERE device_id = ? AND sent_at IS NULL "
                    "ORDER BY rank, seq LIMIT ?",
                    (self.device_id, limit + len(exclude)),
                ).fetchall()
            except sqlite3.Error as e:
                raise OutboxError(f"cannot read the outbox {self.path}: {e}") from None
        records = [
            OutboxRecord(seq, _RANK_TO_PRIORITY[rank], bytes(data))
            for seq, rank, data in rows
            if seq not in exclude
        ]
        return records[:limit]

    def pending(self, limit: int = 1000) -> list[Envelope]:
        """Up to `limit` envelopes still to send, in the order they will be sent."""
        return [r.envelope() for r in self.pending_records(limit)]

    def ack(self, seq: int) -> None:
        """The broker acknowledged event `seq`: keep it as sent until the cloud reports it stored.

        Unknown seqs (already confirmed) are ignored.
        """
        now = self._wall()
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT attempts FROM outbox WHERE device_id = ? AND seq = ?",
                    (self.device_id, seq),
                ).fetchone()
                if row is None:
                    return
                attempts = int(row[0]) + 1
                self._db.execute(
                    "UPDATE outbox SET sent_at = ?, resend_at = ?, attempts = ? "
                    "WHERE device_id = ? AND seq = ?",
                    (
                        now,
                        now + self.limits.resend_delay_s(attempts),
                        attempts,
                        self.device_id,
                        seq,
                    ),
                )
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None

    def confirm(self, report: StoredReport) -> int:
        """Forget every event the cloud reports stored; returns how many (0 for another epoch)."""
        if report.epoch != self.epoch or report.stored_up_to < 1:
            return 0
        holes = " ".join("AND seq NOT BETWEEN ? AND ?" for _ in report.missing)
        params: list[object] = [self.device_id, report.stored_up_to]
        for first, last in report.missing:
            params += [first, last]
        with self._lock:
            try:
                sizes = self._db.execute(
                    # `holes` is only "AND seq NOT BETWEEN ? AND ?" repeated: values are bound
                    f"DELETE FROM outbox WHERE device_id = ? AND seq <= ? {holes} RETURNING size",  # noqa: S608
                    params,
                ).fetchall()
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None
            self._rows -= len(sizes)
            self._bytes -= sum(int(s[0]) for s in sizes)
        return len(sizes)

    def requeue_due(self, cloud_heard_at: float | None = None) -> int:
        """Sent events whose stored report is overdue become unsent again; returns how many.

        Overdue means: past its backoff, and either the cloud has reported something since the
        event was sent (`cloud_heard_at`, wall-clock seconds: it is storing, yet not this), or
        `resend_max_s` passed since it was sent. While the cloud is silent (an ingest outage)
        events are therefore re-sent only every `resend_max_s`, not on a doubling schedule
        that would fill the broker's queue with copies.
        """
        now = self._wall()
        heard = -1.0 if cloud_heard_at is None else cloud_heard_at
        with self._lock:
            try:
                cur = self._db.execute(
                    "UPDATE outbox SET sent_at = NULL WHERE device_id = ? "
                    "AND sent_at IS NOT NULL AND resend_at <= ? AND (sent_at < ? OR sent_at <= ?)",
                    (self.device_id, now, heard, now - self.limits.resend_max_s),
                )
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None
        return int(cur.rowcount)

    def expedite(self, within_s: float) -> None:
        """Make every sent, unconfirmed event due for a resend within `within_s` at the latest.

        Called on reconnect and when the cloud shows it is back: what it has not reported by
        then is sent again without waiting out a long backoff.
        """
        deadline = self._wall() + within_s
        with self._lock:
            try:
                self._db.execute(
                    "UPDATE outbox SET resend_at = ? WHERE device_id = ? "
                    "AND sent_at IS NOT NULL AND resend_at > ?",
                    (deadline, self.device_id, deadline),
                )
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None

    def next_resend_at(self) -> float | None:
        """Wall-clock time of the earliest due resend, or None when nothing waits for a report."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(resend_at) FROM outbox WHERE device_id = ? AND sent_at IS NOT NULL",
                (self.device_id,),
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def purge(self, event_types: Collection[EventType]) -> int:
        """Delete held events of these types (a consent withdrawal); returns how many."""
        wanted = {t.value for t in event_types}
        if not wanted:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    rows = self._db.execute(
                        "SELECT seq, data FROM outbox WHERE device_id = ?", (self.device_id,)
                    ).fetchall()
                    doomed = [
                        (self.device_id, seq)
                        for seq, data in rows
                        if json.loads(bytes(data)).get("type") in wanted
                    ]
                    self._db.executemany(
                        "DELETE FROM outbox WHERE device_id = ? AND seq = ?", doomed
                    )
                    if doomed:
                        now = datetime.fromtimestamp(self._wall(), UTC)
                        self._declare_dropped_locked([seq for _, seq in doomed], now)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                self._rows, self._bytes = self._totals()
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None
        return len(doomed)

    # -- counts -------------------------------------------------------------------------------

    def _count(self, where: str) -> int:
        with self._lock:
            try:
                row = self._db.execute(
                    f"SELECT COUNT(*) FROM outbox WHERE device_id = ? {where}",  # noqa: S608 (constant)
                    (self.device_id,),
                ).fetchone()
            except sqlite3.Error as e:
                raise OutboxError(f"cannot read the outbox {self.path}: {e}") from None
        return int(row[0])

    def pending_count(self) -> int:
        """How many events wait to be sent (not yet acknowledged by the broker)."""
        return self._count("AND sent_at IS NULL")

    def unconfirmed_count(self) -> int:
        """How many events the broker acknowledged but the cloud has not yet reported stored."""
        return self._count("AND sent_at IS NOT NULL")

    def held_count(self) -> int:
        """Every event still held: to send, or sent and waiting for the cloud's report."""
        return self._count("")

    def held_bytes(self) -> int:
        """The encoded size of every held event."""
        with self._lock:
            return self._bytes

    def last_seq(self) -> int:
        """The last seq handed out for this device (0 when none was)."""
        with self._lock:
            row = self._db.execute(
                "SELECT last_seq FROM seq_counter WHERE device_id = ?", (self.device_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def health(self, now: datetime) -> OutboxHealth:
        """Write a row durably (the SD card may have turned read-only) and measure the backlog;
        `now` is the agent's clock, the one events are stamped with."""
        writable = True
        with self._lock:
            try:
                # Another process holding the write lock (a CLI inspecting the file) makes this
                # check fail after 2 s instead of the connection's 10 s.
                self._db.execute(f"PRAGMA busy_timeout = {HEALTH_WRITE_TIMEOUT_MS}")
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('checked_at', ?)",
                        (now.isoformat(),),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                log.error("the outbox %s refused a write: %s", self.path, e)
                writable = False
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                pending = int(
                    self._db.execute(
                        "SELECT COUNT(*) FROM outbox WHERE device_id = ? AND sent_at IS NULL",
                        (self.device_id,),
                    ).fetchone()[0]
                )
                row = self._db.execute(
                    "SELECT data FROM outbox WHERE device_id = ? AND sent_at IS NULL"
                    " ORDER BY seq LIMIT 1",
                    (self.device_id,),
                ).fetchone()
            except sqlite3.Error as e:
                raise OutboxError(f"cannot read the outbox {self.path}: {e}") from None
            rows, size = self._rows, self._bytes
        age_s = 0.0
        if row is not None:
            age_s = max(0.0, (now - Envelope.model_validate_json(row[0]).ts).total_seconds())
        fill = max(rows / self.limits.max_rows, size / self.limits.max_bytes)
        return OutboxHealth(writable, pending, age_s, fill, self.limits)

    def journal_mode(self) -> str:
        """SQLite's journal mode for this file ('wal')."""
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        """Close the database; further calls fail."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
