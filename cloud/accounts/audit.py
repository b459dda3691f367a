"""The audit log: every read of a senior's data and every change, with who did it."""

import threading
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from cloud.accounts.access import Principal
from cloud.store.models import AuditLog


def audit(
    session: Session,
    principal: Principal,
    action: str,
    resource: str,
    now: datetime,
    *,
    resource_id: object = None,
    senior_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Add one audit row to the caller's transaction."""
    session.add(
        AuditLog(
            at=now,
            actor=principal.actor[:100],
            action=action[:32],
            resource=resource[:64],
            resource_id=None if resource_id is None else str(resource_id)[:64],
            senior_id=senior_id,
            detail=None if detail is None else detail[:500],
        )
    )


def audit_reads(
    session: Session,
    principal: Principal,
    resource: str,
    senior_ids: Iterable[str | None],
    now: datetime,
    *,
    detail: str | None = None,
) -> None:
    """One `read` row per distinct senior whose data a list returned."""
    for senior_id in sorted(set(senior_ids), key=lambda s: (s is None, s or "")):
        audit(session, principal, "read", resource, now, senior_id=senior_id, detail=detail)


class DenialCoalescer:
    """Bounds the audit rows denials can cause: at most one row per (source, kind) per minute
    and at most `max_keys` sources a minute (then one `overflow` row), so a flood of bad
    requests is not a flood of writes. Per process; each API worker bounds its own."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._minute = -1
        self._seen: dict[tuple[str, str], int] = {}
        self._overflowed = False
        self._lock = threading.Lock()

    def admit(self, source: str, kind: str, now: datetime) -> tuple[str, str] | None:
        """The key to write a row for, or None to skip (counted in `suppressed`)."""
        minute = int(now.timestamp() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._seen, self._overflowed = minute, {}, False
            key = (source, kind)
            if key in self._seen:
                self._seen[key] += 1
                return None
            if len(self._seen) >= self.max_keys:
                if self._overflowed:
                    return None
                self._overflowed = True
                return ("*", "overflow")
            self._seen[key] = 0
            return key

    def suppressed(self, source: str, kind: str) -> int:
        """How many denials of (source, kind) this minute were not written."""
        with self._lock:
            return self._seen.get((source, kind), 0)
