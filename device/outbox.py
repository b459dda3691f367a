"""The durable event queue: SQLite in WAL mode, so an event written survives a power cut."""

import json
import logging
import sqlite3
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from device.errors import OutboxError
from protocol import Envelope, EventType, ModelRef, Priority, encode, make_envelope
from protocol.events import Payload

log = logging.getLogger(__name__)

_SCHEMA = """
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


class Outbox:
    """Events waiting for the broker's PUBACK, each with a seq that is never reused."""

    def __init__(self, path: Path, device_id: str) -> None:
        self.path = path
        self.device_id = device_id
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutboxError(f"cannot create the outbox folder {path.parent}: {e}") from None
        try:
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as e:
            raise OutboxError(f"cannot open the outbox {path}: {e}") from None
        try:
            self._setup()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise OutboxError(
                f"the outbox {path} is unreadable ({e}); it was left untouched: "
                "move it aside to start a new one, or restore it from a backup"
            ) from None

    def _setup(self) -> None:
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"journal mode is {mode!r}, WAL is required")
        self._db.execute("PRAGMA synchronous=FULL")
        check = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        self._db.executescript(_SCHEMA)

    def append(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        ts: datetime,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> Envelope:
        """Allocate the next seq and store the encoded event, both in one durable transaction."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
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
                    )
                    self._db.execute(
                        "INSERT INTO seq_counter (device_id, last_seq) VALUES (?, ?) "
                        "ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq",
                        (self.device_id, seq),
                    )
                    self._db.execute(
                        "INSERT INTO outbox (device_id, seq, rank, data) VALUES (?, ?, ?, ?)",
                        (self.device_id, seq, env.priority.rank, encode(env)),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None
        return env

    def pending_records(self, limit: int, *, exclude: Collection[int] = ()) -> list[OutboxRecord]:
        """Up to `limit` queued events, critical first then by seq, minus the seqs in `exclude`."""
        if limit <= 0:
            return []
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT seq, rank, data FROM outbox WHERE device_id = ? "
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
        """Up to `limit` queued envelopes, in the order they will be sent."""
        return [r.envelope() for r in self.pending_records(limit)]

    def ack(self, seq: int) -> None:
        """Forget a delivered event (the broker acknowledged it); unknown seqs are ignored."""
        with self._lock:
            try:
                self._db.execute(
                    "DELETE FROM outbox WHERE device_id = ? AND seq = ?", (self.device_id, seq)
                )
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None

    def purge(self, event_types: Collection[EventType]) -> int:
        """Delete queued events of these types (a consent withdrawal); returns how many."""
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
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                raise OutboxError(f"cannot write to the outbox {self.path}: {e}") from None
        return len(doomed)

    def pending_count(self) -> int:
        """How many events still wait for delivery."""
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE device_id = ?", (self.device_id,)
                ).fetchone()
            except sqlite3.Error as e:
                raise OutboxError(f"cannot read the outbox {self.path}: {e}") from None
        return int(row[0])

    def last_seq(self) -> int:
        """The last seq handed out for this device (0 when none was)."""
        with self._lock:
            row = self._db.execute(
                "SELECT last_seq FROM seq_counter WHERE device_id = ?", (self.device_id,)
            ).fetchone()
        return int(row[0]) if row else 0

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
