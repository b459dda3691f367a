"""One MQTT client id per live ingest worker: a lease row in the store with a heartbeat.

Two workers connecting with one client id kick each other off the broker in turns, and the
persistent session's queued events go to whichever is connected. So a worker takes the lease of
its client id before connecting and refuses to start when another live worker holds it. A
holder is live while its heartbeat is younger than the lease's ttl, unless it ran on this host
and its process is gone (a `kill -9` and a restart seconds later takes the lease at once).
"""

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.errors import CloudError
from cloud.store.models import IngestLease

log = logging.getLogger(__name__)

_HELD_HERE: set[str] = set()  # holders of leases taken by this process and not released


class LeaseHeldError(CloudError):
    """Another live worker uses this MQTT client id."""


def holder_name() -> str:
    """`host:pid:nonce`: unique to this process instance (a reused pid gets a new nonce)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def holder_gone(holder: str, me: str) -> bool:
    """True when `holder` ran on this host and its process is gone (or its pid is now ours)."""
    parts = holder.rsplit(":", 2)
    if holder == me or len(parts) != 3 or parts[0] != socket.gethostname()[:120]:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():  # our pid: another worker of this process, or a past incarnation
        return holder not in _HELD_HERE
    return not _pid_alive(pid)


class ClientIdLease:
    """Takes, renews and releases the lease of `client_id` for this process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client_id: str,
        ttl_s: float,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        holder: str | None = None,
    ) -> None:
        self._sessions = sessions
        self.client_id = client_id
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self.holder = holder or holder_name()

    def acquire(self) -> None:
        """Take the lease; LeaseHeldError when a live other worker holds it."""
        now = self._clock()
        with self._sessions() as session, session.begin():
            row = session.scalars(
                select(IngestLease).where(IngestLease.client_id == self.client_id).with_for_update()
            ).one_or_none()
            if row is None:
                session.add(
                    IngestLease(
                        client_id=self.client_id,
                        holder=self.holder,
                        acquired_at=now,
                        heartbeat_at=now,
                    )
                )
                _HELD_HERE.add(self.holder)
                return
            fresh = now - row.heartbeat_at < self._ttl
            if row.holder != self.holder and fresh and not holder_gone(row.holder, self.holder):
                age = (now - row.heartbeat_at).total_seconds()
                raise LeaseHeldError(
                    f"MQTT client id {self.client_id!r} is in use by {row.holder}"
                    f" (heartbeat {age:.0f} s ago); give each worker its own DOLBOM_WORKER_ID"
                    f" / MQTT 클라이언트 ID {self.client_id!r}를 다른 워커가 사용 중입니다."
                    " 워커마다 다른 DOLBOM_WORKER_ID를 지정하세요"
                )
            if row.holder != self.holder:
                log.warning("taking over client id %s from %s", self.client_id, row.holder)
            row.holder = self.holder
            row.acquired_at = now
            row.heartbeat_at = now
            _HELD_HERE.add(self.holder)

    def renew(self) -> bool:
        """Refresh the heartbeat; False when another worker has taken the lease over."""
        with self._sessions() as session, session.begin():
            done = session.execute(
                update(IngestLease)
                .where(IngestLease.client_id == self.client_id, IngestLease.holder == self.holder)
                .values(heartbeat_at=self._clock())
            )
            return bool(getattr(done, "rowcount", 1))

    def release(self) -> None:
        """Give the lease up (a clean stop); store errors are logged, not raised."""
        _HELD_HERE.discard(self.holder)
        try:
            with self._sessions() as session, session.begin():
                session.execute(
                    delete(IngestLease).where(
                        IngestLease.client_id == self.client_id,
                        IngestLease.holder == self.holder,
                    )
                )
        except SQLAlchemyError as e:
            log.warning("could not release the lease of %s: %s", self.client_id, e)
