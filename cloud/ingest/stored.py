"""Tell each robot what the cloud has stored: a retained `StoredReport` per device.

After ingest commits a batch, the worker calls `StoredPublisher.note()` with the (device,
epoch) pairs it touched. A thread of its own then, at most once per `interval_s` per device,
computes from the store what is stored for that epoch and publishes the report, retained at
QoS 1, on `dolbom/v1/devices/{id}/stored`. The robot forgets only what a report covers and
re-sends the rest (protocol/delivery.py), so an event a broker dropped is not lost.

Cost: a per-(device, epoch) watermark `base` (every seq <= base is settled) is cached in memory;
each report reads the events above it with the unique (device_id, epoch, seq) index, at most
`window` rows at a time, never the device's whole history. A cold cache (a worker start) finds
the base with one index-only count when there is no hole, else one ordered index scan up to
the first hole (benchmarks/stored_reports.py). Seqs the robot declared dropped (a
`device_fault` with code `seqs_dropped`, sent when it purges or prunes its outbox) count as
settled, so a hole the robot made on purpose does not hold the watermark back forever.
"""

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import Event, SettledFloor
from protocol import EventType, ProtocolError
from protocol.delivery import (
    MAX_MISSING_RANGES,
    SEQS_DROPPED_CODE,
    StoredReport,
    encode_stored,
    parse_seq_ranges,
)
from protocol.topics import stored_topic

log = logging.getLogger(__name__)

Key = tuple[str, int]  # (device_id, epoch)
Publish = Callable[[str, bytes], object]  # (topic, payload): QoS 1, retained

DEFAULT_WINDOW = 1000
_MAX_WINDOWS = 20  # per report; a longer contiguous run is caught up by the next report
_MAX_DECLARATIONS = 200


@dataclass(frozen=True, slots=True)
class Progress:
    """A report and the new settled watermark it implies."""

    base: int
    report: StoredReport


def _settled(seq: int, dropped: list[tuple[int, int]]) -> bool:
    return any(first <= seq <= last for first, last in dropped)


def advance(
    epoch: int,
    base: int,
    seqs: Iterable[int],
    dropped: list[tuple[int, int]] = [],  # noqa: B006 (read only)
    max_ranges: int = MAX_MISSING_RANGES,
) -> Progress:
    """Pure: from the settled watermark and the stored seqs above it (ascending), the report.

    `base` rises through stored or declared-dropped seqs; past the first real hole, holes
    become `missing` ranges (at most `max_ranges`; the report stops short rather than list more).
    """
    missing: list[tuple[int, int]] = []
    up_to = base
    expected = base + 1
    for seq in seqs:
        if seq < expected:
            continue
        if seq > expected:
            parts = _unsettled((expected, seq - 1), dropped)
            if len(missing) + len(parts) > max_ranges:
                break  # stop short: the report stays small
            missing += parts
        if not missing:
            base = seq
        up_to = seq
        expected = seq + 1
    return Progress(base, StoredReport(epoch=epoch, stored_up_to=up_to, missing=tuple(missing)))


def _unsettled(hole: tuple[int, int], dropped: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `hole` not covered by declared-dropped ranges."""
    parts = [hole]
    for first, last in dropped:
        nxt: list[tuple[int, int]] = []
        for a, b in parts:
            if last < a or first > b:
                nxt.append((a, b))
                continue
            if a < first:
                nxt.append((a, first - 1))
            if last < b:
                nxt.append((last + 1, b))
        parts = nxt
    return parts


class StoredPublisher:
    """Coalesces `note()`s and publishes one retained report per device at most every interval."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        publish: Publish,
        *,
        interval_s: float = 1.0,
        window: int = DEFAULT_WINDOW,
        max_devices_per_round: int = 2000,
    ) -> None:
        self._sessions = session_factory
        self._publish = publish
        self.interval_s = interval_s
        self.window = window
        self.max_devices_per_round = max_devices_per_round
        self._dirty: dict[Key, None] = {}  # insertion-ordered set
        self._base: dict[Key, int] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0

    def note(self, keys: Iterable[Key]) -> None:
        """(device_id, epoch) pairs whose events were just committed (thread-safe, cheap)."""
        with self._cond:
            for key in keys:
                self._dirty[key] = None
            self._cond.notify_all()

    def start(self) -> None:
        """Run the publishing thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stored-reports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Publish what is pending once more, then end the thread."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread.join(10.0)
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._dirty and not self._stop.is_set():
                    self._cond.wait(self.interval_s)
                keys = list(self._dirty)[: self.max_devices_per_round]
                for key in keys:
                    del self._dirty[key]
            if keys:
                try:
                    self.flush(keys)
                except Exception:  # a store hiccup: try these devices again next round
                    log.exception("stored reports failed for %d devices; retrying", len(keys))
                    self.note(keys)
            if self._stop.is_set():
                return
            self._stop.wait(self.interval_s)  # coalesce: at most one report per interval

    def flush(self, keys: Iterable[Key]) -> None:
        """Compute and publish the report of each (device_id, epoch) now."""
        keys = list(keys)
        with self._sessions() as session:
            quick = self.contiguous(session, keys)
            for key in keys:
                progress = quick.get(key) or self.report(session, *key)
                self._base[key] = progress.base
                self._publish(stored_topic(key[0]), encode_stored(progress.report))
                self.published += 1

    def contiguous(self, session: Session, keys: Sequence[Key]) -> dict[Key, Progress]:
        """PostgreSQL: one statement for many devices, the reports of those with no hole.

        Per key, the count and the highest seq above its watermark (0 when not cached: the
        seqs start at 1): when count = highest - watermark, every seq up to the highest is
        stored, the report has nothing missing and no declared drop matters. The others (a
        hole; SQLite) are left to `report()`. Measured: the per-device queries cost the
        ingest worker as much CPU as storing the events (issue 16, benchmarks/ingest.py).
        """
        if not keys or session.get_bind().dialect.name != "postgresql":
            return {}
        rows = [{"d": d, "e": e, "b": self._base.get((d, e), 0)} for d, e in keys]
        found = session.execute(_PG_CONTIGUOUS, {"keys": json.dumps(rows)}).all()
        out: dict[Key, Progress] = {}
        for device_id, epoch, base, count, top in found:
            if count == top - base:
                report = StoredReport(epoch=epoch, stored_up_to=top)
                out[(device_id, epoch)] = Progress(top, report)
        return out

    def report(self, session: Session, device_id: str, epoch: int) -> Progress:
        """The current report for one device's epoch, read from the store."""
        return settled_progress(
            session, device_id, epoch, self._base.get((device_id, epoch)), self.window
        )


def settled_progress(
    session: Session, device_id: str, epoch: int, base: int | None, window: int = DEFAULT_WINDOW
) -> Progress:
    """The report of one device's epoch from a known watermark (None: found from the store)."""
    if base is None:
        base = _cold_base(session, device_id, epoch)
    else:  # retention may have settled (and deleted) past a cached watermark
        base = max(base, _floor(session, device_id, epoch))
    dropped = _declared_dropped(session, device_id, epoch, base)
    seqs: list[int] = []
    after = base
    holes = 0  # an upper bound on missing ranges (declared drops not subtracted)
    for _ in range(_MAX_WINDOWS):
        rows = session.scalars(
            select(Event.seq)
            .where(Event.device_id == device_id, Event.epoch == epoch, Event.seq > after)
            .order_by(Event.seq)
            .limit(window)
        ).all()
        seqs += rows
        for seq in rows:
            holes += seq > after + 1
            after = seq
        if len(rows) < window or holes > MAX_MISSING_RANGES:
            break
    return advance(epoch, base, seqs, dropped)


# The watermark of a key not cached starts at its settled floor (retention may have deleted the
# rows below it), else 0.
_PG_CONTIGUOUS = text(
    """
    SELECT k.d, k.e, k.b, count(ev.seq), coalesce(max(ev.seq), k.b)
    FROM (
        SELECT k.d, k.e, greatest(k.b, coalesce(f.seq, 0)) AS b
        FROM jsonb_to_recordset(CAST(:keys AS jsonb)) AS k(d text, e bigint, b bigint)
        LEFT JOIN event_floors f ON f.device_id = k.d AND f.epoch = k.e
    ) k
    LEFT JOIN events ev ON ev.device_id = k.d AND ev.epoch = k.e AND ev.seq > k.b
    GROUP BY k.d, k.e, k.b
    """
)


def _floor(session: Session, device_id: str, epoch: int) -> int:
    """The epoch's settled floor (`event_floors`), 0 when retention has not set one."""
    seq = session.scalar(
        select(SettledFloor.seq).where(
            SettledFloor.device_id == device_id, SettledFloor.epoch == epoch
        )
    )
    return int(seq or 0)


def _cold_base(session: Session, device_id: str, epoch: int) -> int:
    """The longest settled prefix 1..n of an epoch: from the settled floor (retention deletes
    rows only below it), an index-only count when there is no hole above it, else one ordered
    index scan that stops at the first hole."""
    floor = _floor(session, device_id, epoch)
    where = (Event.device_id == device_id, Event.epoch == epoch, Event.seq > floor)
    n, low, top = session.execute(
        select(
            func.count(),
            func.coalesce(func.min(Event.seq), floor),
            func.coalesce(func.max(Event.seq), floor),
        ).where(*where)
    ).one()
    if n == top - floor:
        return int(top)
    if low != floor + 1:
        return floor
    ordered = (
        select(Event.seq.label("seq"), func.lead(Event.seq).over(order_by=Event.seq).label("nxt"))
        .where(*where)
        .subquery()
    )
    first_gap = session.scalar(
        select(ordered.c.seq)
        .where(ordered.c.nxt != ordered.c.seq + 1)
        .order_by(ordered.c.seq)
        .limit(1)
    )
    return int(first_gap if first_gap is not None else top)


def _declared_dropped(
    session: Session, device_id: str, epoch: int, base: int
) -> list[tuple[int, int]]:
    """Seq ranges the robot said it dropped, from its `seqs_dropped` faults above `base`."""
    payloads = session.scalars(
        select(Event.payload)
        .where(
            Event.device_id == device_id,
            Event.epoch == epoch,
            Event.seq > base,
            Event.type == EventType.DEVICE_FAULT.value,
        )
        .limit(_MAX_DECLARATIONS)
    ).all()
    ranges: list[tuple[int, int]] = []
    for payload in payloads:
        if payload.get("component") != "outbox" or payload.get("code") != SEQS_DROPPED_CODE:
            continue
        try:
            ranges += parse_seq_ranges(str(payload.get("detail", "")))
        except ProtocolError as e:
            log.warning("%s epoch %d: unreadable seqs_dropped detail: %s", device_id, epoch, e)
    return ranges
