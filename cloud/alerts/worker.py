"""A thread that runs due escalation steps and the periodic offline/inactivity sweep."""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import scheduler
from cloud.alerts.service import AlertEngine

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


# Any constant shared by every node: the key of the sweep's transaction-scoped advisory lock.
SWEEP_LOCK_KEY = 0x646F6C626F6D  # "dolbom"


def sweep_turn(session: Session) -> bool:
    """True when this node may sweep now (inside the caller's transaction).

    On PostgreSQL, nodes sweeping at once would each find a robot offline and race to open
    its alert (the loser counting a repeat that notifies again): the sweep takes a
    transaction-scoped advisory lock, and a node that does not get it skips this turn (another
    is sweeping). SQLite: the sweep's transaction starts with a write that changes nothing,
    which takes the database's write lock first (waiting for another node's sweep to commit),
    so the sweep reads the alerts that one opened.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE devices SET id = id WHERE 0"))  # the write lock, first
        return True
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = session.execute(select(func.pg_try_advisory_xact_lock(SWEEP_LOCK_KEY))).scalar()
    if not got:
        log.debug("another node is sweeping; skipping this turn")
    return bool(got)


class EscalationWorker:
    """Polls stored steps (timers survive restarts); sweeps devices every `sweep_s` (None: off)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        engine: AlertEngine,
        *,
        poll_s: float = 1.0,
        sweep_s: float | None = 60.0,
        clock: Callable[[], datetime] = utcnow,
        on_deliveries: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._engine = engine
        self._poll_s = poll_s
        self._sweep = timedelta(seconds=sweep_s) if sweep_s is not None else None
        self._clock = clock
        self._on_deliveries = on_deliveries
        self._next_sweep: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="escalation", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread after the pass in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("escalation pass failed; retrying")
            self._stop.wait(self._poll_s)

    def run_once(self) -> int:
        """Run every due step (and the sweep when it is due); return the deliveries created."""
        now = self._clock()
        created = 0
        if self._sweep is not None and (self._next_sweep is None or now >= self._next_sweep):
            with self._sessions() as session, session.begin():
                if sweep_turn(session):
                    self._engine.sweep(session, now)
            self._next_sweep = now + self._sweep
        with self._sessions() as session:
            due = scheduler.due_step_ids(session, now)
        for step_id in due:
            if self._stop.is_set():
                break
            with self._sessions() as session, session.begin():
                created += scheduler.run_step(session, step_id, now, self._engine.webhook_urls)
        if created and self._on_deliveries is not None:
            self._on_deliveries()
        return created
