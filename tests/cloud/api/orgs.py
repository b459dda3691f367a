"""Two organisations over the API's world: 'north' (carol, its admin; dave, staff) cares for
s-a (in region 강남) and s-c; 'south' (erin, its admin; frank, staff) for s-b (region 서초)
and s-d. dave has s-a in his caseload, frank s-b. alice and bob stay family caregivers."""

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.store.models import (
    CaregiverLink,
    Organisation,
    OrganisationRegion,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Senior,
)
from tests.cloud.api.conftest import PASSWORD, World
from tests.cloud.helpers import NOW

STAFF = {"carol": ("north", True), "dave": ("north", False), "erin": ("south", True)}
STAFF |= {"frank": ("south", False)}


def add_organisations(world: World, passwords: Passwords) -> dict[str, int]:
    """Store the two organisations; region name -> region id."""
    regions: dict[str, int] = {}
    with world.sessions() as s, s.begin():
        for org_id, name in (("north", "북부 돌봄센터"), ("south", "남부 돌봄센터")):
            s.add(Organisation(id=org_id, name=name, created_at=NOW))
        for senior_id, name in (("s-c", "이영희"), ("s-d", "최복례")):
            s.add(Senior(id=senior_id, display_name=name, settings={}, created_at=NOW))
        s.flush()
        for org_id, region in (("north", "강남"), ("south", "서초")):
            row = OrganisationRegion(organisation_id=org_id, name=region)
            s.add(row)
            s.flush()
            regions[region] = row.id
        for username, (org_id, is_admin) in STAFF.items():
            account = create_account(
                s, passwords, username=username, role=Role.CAREGIVER, password=PASSWORD, now=NOW
            )
            world.ids[username] = account.id
            s.add(
                OrganisationStaff(
                    account_id=account.id, organisation_id=org_id, is_admin=is_admin, added_at=NOW
                )
            )
        placed: tuple[tuple[str, str, str | None], ...] = (
            ("s-a", "north", "강남"),
            ("s-c", "north", None),
            ("s-b", "south", "서초"),
            ("s-d", "south", None),
        )
        for senior_id, org_id, place in placed:
            s.add(
                OrganisationSenior(
                    senior_id=senior_id,
                    organisation_id=org_id,
                    region_id=regions[place] if place else None,
                    assigned_at=NOW - timedelta(days=1),
                )
            )
        for worker, senior_id in (("dave", "s-a"), ("frank", "s-b")):
            s.add(
                CaregiverLink(account_id=world.ids[worker], senior_id=senior_id, relation="worker")
            )
    return regions


def links(sessions: sessionmaker[Session], username_id: int) -> set[str]:
    """The seniors an account is linked to."""
    with sessions() as s:
        return set(
            s.scalars(
                CaregiverLink.__table__.select()
                .with_only_columns(CaregiverLink.senior_id)
                .where(CaregiverLink.account_id == username_id)
            )
        )
