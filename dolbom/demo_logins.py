"""The demo's people: a senior for the demo robot and one login for each face of the app.

After `dolbom demo` has told its story, the app keeps running with these logins (issue 15):
the senior's daughter (a family caregiver, primary), a worker of a care agency (staff of an
organisation that cares for the senior, in a region) and a researcher. Passwords are made
afresh on every run and printed once; nothing is written to the repository.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.accounts.access import assign_device
from cloud.store.models import (
    CaregiverLink,
    Organisation,
    OrganisationRegion,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Senior,
)

SENIOR_ID = "demo-senior-01"
SENIOR_NAME = "김순자 (데모 / demo)"
ORGANISATION_ID = "demo-care-centre"
ORGANISATION_NAME = "돌봄 데모 돌봄센터 / dolbom demo care centre"
REGION = "중구 / Jung-gu"


@dataclass(frozen=True)
class DemoLogin:
    """One account the demo made: who it is for, its username and its one-run password."""

    who_ko: str
    who_en: str
    username: str
    password: str


def seed_demo_logins(
    sessions: sessionmaker[Session], device_id: str, now: datetime
) -> list[DemoLogin]:
    """Create the demo senior (served by `device_id`), its organisation and three accounts."""
    passwords = Passwords()
    logins = [
        DemoLogin("가족 (딸)", "family (daughter)", "daughter", secrets.token_urlsafe(12)),
        DemoLogin("돌봄센터 생활지원사", "care centre worker", "worker", secrets.token_urlsafe(12)),
        DemoLogin("연구자", "researcher", "researcher", secrets.token_urlsafe(12)),
    ]
    roles = {"daughter": Role.CAREGIVER, "worker": Role.CAREGIVER, "researcher": Role.RESEARCHER}
    with sessions() as session, session.begin():
        session.add(Senior(id=SENIOR_ID, display_name=SENIOR_NAME, created_at=now))
        session.flush()
        assign_device(session, device_id, SENIOR_ID, now)
        accounts = {
            login.username: create_account(
                session,
                passwords,
                username=login.username,
                role=roles[login.username],
                password=login.password,
                now=now,
                display_name=f"{login.who_ko} / {login.who_en}",
            )
            for login in logins
        }
        session.add(
            CaregiverLink(
                account_id=accounts["daughter"].id,
                senior_id=SENIOR_ID,
                relation="딸 / daughter",
                is_primary=True,
            )
        )
        session.add(Organisation(id=ORGANISATION_ID, name=ORGANISATION_NAME, created_at=now))
        region = OrganisationRegion(organisation_id=ORGANISATION_ID, name=REGION)
        session.add(region)
        session.flush()
        session.add(
            OrganisationStaff(
                account_id=accounts["worker"].id,
                organisation_id=ORGANISATION_ID,
                is_admin=True,
                added_at=now,
            )
        )
        session.add(
            OrganisationSenior(
                senior_id=SENIOR_ID,
                organisation_id=ORGANISATION_ID,
                region_id=region.id,
                assigned_at=now,
            )
        )
    return logins
