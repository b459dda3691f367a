"""A push contact that names a group instead of one account: every staff member of the senior's
organisation (`org:staff`) or its admins (`org:admins`), so an agency keeps one contact, not one
per worker. The group is read when a step runs; each member then gets a delivery of their own."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.store.models import Account, OrganisationSenior, OrganisationStaff, Role

STAFF = "org:staff"
ADMINS = "org:admins"
GROUPS = (STAFF, ADMINS)  # a username never holds ':' (cloud.accounts.service.USERNAME_PATTERN)


def is_group(target: str) -> bool:
    """True for a group target, False for a username."""
    return target in GROUPS


def members(session: Session, senior_id: str | None, target: str) -> list[tuple[int, str]]:
    """(account id, username) of the enabled caregiver accounts on the staff of the senior's
    organisation (only its admins for `org:admins`), by username; empty for no organisation."""
    if senior_id is None or not is_group(target):
        return []
    query = (
        select(Account.id, Account.username)
        .join(OrganisationStaff, OrganisationStaff.account_id == Account.id)
        .join(
            OrganisationSenior,
            OrganisationSenior.organisation_id == OrganisationStaff.organisation_id,
        )
        .where(
            OrganisationSenior.senior_id == senior_id,
            Account.disabled.is_(False),
            Account.role == Role.CAREGIVER,  # staff see the organisation's seniors as caregivers
        )
        .order_by(Account.username)
    )
    if target == ADMINS:
        query = query.where(OrganisationStaff.is_admin.is_(True))
    return [(account_id, username) for account_id, username in session.execute(query)]


def has_organisation(session: Session, senior_id: str) -> bool:
    """Whether an organisation cares for the senior (a group contact needs one)."""
    found = session.scalar(
        select(OrganisationSenior.senior_id).where(OrganisationSenior.senior_id == senior_id)
    )
    return found is not None
