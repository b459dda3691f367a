"""The audit log: every read of a senior's data and every change, with who did it."""

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
