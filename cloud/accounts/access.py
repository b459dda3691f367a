"""Who may see what: roles per resource, the seniors a caregiver is linked to, and the seniors
of the organisation a caregiver works for (issue 15)."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud.accounts.errors import ForbiddenError, NotFoundError
from cloud.errors import both
from cloud.store.models import (
    Alert,
    CaregiverLink,
    Device,
    DeviceAssignment,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Senior,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an account, or the service token (`account_id` None, admin rights)."""

    role: Role
    account_id: int | None
    username: str
    display_name: str

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        if self.account_id is None:
            return "service"
        return "anonymous" if self.account_id == -1 else f"{self.role.value}:{self.username}"


SERVICE = Principal(role=Role.ADMIN, account_id=None, username="service", display_name="service")
# Who the audit log names for a request without valid credentials (never authorised).
ANONYMOUS = Principal(
    role=Role.INSTALLER, account_id=-1, username="anonymous", display_name="anonymous"
)


def require_role(principal: Principal, allowed: Collection[Role]) -> None:
    """403 unless the caller's role is one of `allowed`."""
    if principal.role not in allowed:
        raise ForbiddenError(
            both(
                f"{principal.role.value} 역할은 이 기능을 쓸 수 없습니다",
                f"the {principal.role.value} role may not use this resource",
            )
        )


def visible_seniors(session: Session, principal: Principal) -> frozenset[str] | None:
    """The senior ids a caregiver may see: those linked to them (a family caregiver, a
    worker's caseload) and, for the staff of an organisation, every senior of it. None means
    every senior (a platform admin)."""
    if principal.role is Role.ADMIN:
        return None
    if principal.role is not Role.CAREGIVER or principal.account_id is None:
        return frozenset()
    linked = select(CaregiverLink.senior_id).where(CaregiverLink.account_id == principal.account_id)
    of_organisation = (
        select(OrganisationSenior.senior_id)
        .join(
            OrganisationStaff,
            OrganisationStaff.organisation_id == OrganisationSenior.organisation_id,
        )
        .where(OrganisationStaff.account_id == principal.account_id)
    )
    return frozenset(session.scalars(union(linked, of_organisation)))


def viewers(session: Session, senior_ids: Collection[str]) -> dict[str, frozenset[int]]:
    """`visible_seniors` the other way round: for each senior, the caregiver accounts that
    may see them (linked, or staff of their organisation). Platform admins see every senior
    and are not listed: `may_see` adds them. One query for many seniors (the live alert feed)."""
    ids = sorted(set(senior_ids))
    found: dict[str, set[int]] = {i: set() for i in ids}
    if ids:
        linked = select(CaregiverLink.senior_id, CaregiverLink.account_id).where(
            CaregiverLink.senior_id.in_(ids)
        )
        of_organisation = (
            select(OrganisationSenior.senior_id, OrganisationStaff.account_id)
            .join(
                OrganisationStaff,
                OrganisationStaff.organisation_id == OrganisationSenior.organisation_id,
            )
            .where(OrganisationSenior.senior_id.in_(ids))
        )
        for senior_id, account_id in session.execute(union(linked, of_organisation)):
            found[senior_id].add(account_id)
    return {i: frozenset(a) for i, a in found.items()}


def may_see(principal: Principal, senior_viewers: frozenset[int] | None) -> bool:
    """Whether the caller sees a senior whose `viewers` are given (None: no senior)."""
    if principal.role is Role.ADMIN:
        return True
    if principal.role is not Role.CAREGIVER or principal.account_id is None:
        return False
    return senior_viewers is not None and principal.account_id in senior_viewers


def staff_of(session: Session, principal: Principal) -> OrganisationStaff | None:
    """The caller's membership of an organisation, if they are a caregiver working for one."""
    if principal.role is not Role.CAREGIVER or principal.account_id is None:
        return None
    return session.get(OrganisationStaff, principal.account_id)


def senior_filter(
    column: ColumnElement[Any] | InstrumentedAttribute[Any], visible: frozenset[str] | None
) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose senior column is visible."""
    if visible is None:
        return true()
    if not visible:
        return false()
    return column.in_(sorted(visible))


def alert_senior_column() -> ColumnElement[str | None]:
    """An alert's senior: its own column, else its device's (needs a join on Device)."""
    return func.coalesce(Alert.senior_id, Device.senior_id)


def get_senior(session: Session, principal: Principal, senior_id: str) -> Senior:
    """The senior if the caller may see them; NotFoundError otherwise (same message both ways)."""
    visible = visible_seniors(session, principal)
    senior = session.get(Senior, senior_id)
    if senior is None or (visible is not None and senior_id not in visible):
        raise NotFoundError(
            both(f"id가 {senior_id!r}인 어르신이 없습니다", f"no senior with id {senior_id!r}")
        )
    return senior


def assign_device(
    session: Session, device_id: str, senior_id: str, now: datetime, previous: str | None = None
) -> None:
    """Close the robot's open assignment and open one for `senior_id` from `now`; a robot that
    never served anyone starts with its whole past (its events before are this senior's).

    `previous`: the senior the robot served before, for robots provisioned before
    assignments existed (no rows yet): their past stays with that senior.
    """
    open_rows = list(
        session.scalars(
            select(DeviceAssignment).where(
                DeviceAssignment.device_id == device_id, DeviceAssignment.valid_to.is_(None)
            )
        )
    )
    for row in open_rows:
        row.valid_to = now
    served = session.scalar(
        select(func.count())
        .select_from(DeviceAssignment)
        .where(DeviceAssignment.device_id == device_id)
    )
    if not served and previous is not None and previous != senior_id:
        session.add(
            DeviceAssignment(device_id=device_id, senior_id=previous, valid_from=None, valid_to=now)
        )
        served = 1
    session.add(
        DeviceAssignment(
            device_id=device_id,
            senior_id=senior_id,
            valid_from=now if served else None,
            valid_to=None,
        )
    )
