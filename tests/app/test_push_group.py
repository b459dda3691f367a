"""A push contact naming the organisation's staff (`org:staff`) or its admins (`org:admins`):
each enabled member is told once per step, re-checked just before sending, and the escalation
record names them; a senior of no organisation cannot have one."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.alerts import scheduler
from cloud.store.models import (
    Account,
    Alert,
    AlertTransition,
    AuditLog,
    CaregiverLink,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    EscalationPolicy,
    Organisation,
    OrganisationSenior,
    OrganisationStaff,
    Role,
)
from tests.app.conftest import Browser, browser_client
from tests.app.test_push import BrowserKeys, PushService, _subscribe
from tests.app.test_push_escalation import _dispatch_once, _sender
from tests.cloud.api.conftest import PASSWORD, World, http, login
from tests.cloud.helpers import NOW


@pytest.fixture
def service() -> Iterator[PushService]:
    s = PushService()
    yield s
    s.close()


def _agency(
    sessions: sessionmaker[Session], passwords: Passwords, service: PushService
) -> dict[str, BrowserKeys]:
    """org-1 cares for s-a: wendy (admin), walt, and carl (disabled) on its staff, each with a
    subscribed browser; org-2 cares for s-b with its own worker, olga."""
    keys: dict[str, BrowserKeys] = {}
    with sessions() as s, s.begin():
        s.add(Organisation(id="org-1", name="돌봄센터", created_at=NOW))
        s.add(Organisation(id="org-2", name="다른센터", created_at=NOW))
        s.flush()
        s.add(OrganisationSenior(senior_id="s-a", organisation_id="org-1", assigned_at=NOW))
        s.add(OrganisationSenior(senior_id="s-b", organisation_id="org-2", assigned_at=NOW))
        for username, org, admin in (
            ("wendy", "org-1", True),
            ("walt", "org-1", False),
            ("carl", "org-1", False),
            ("olga", "org-2", True),
        ):
            account = create_account(
                s, passwords, username=username, role=Role.CAREGIVER, password=PASSWORD, now=NOW
            )
            account.disabled = username == "carl"
            s.add(
                OrganisationStaff(
                    account_id=account.id, organisation_id=org, is_admin=admin, added_at=NOW
                )
            )
            keys[username] = BrowserKeys()
    with sessions() as s:
        ids = dict(s.execute(select(Account.username, Account.id)).all())
    for username, k in keys.items():
        _subscribe(sessions, ids[username], k, f"{service.base}/{username}")
    return keys


def _policy(sessions: sessionmaker[Session], senior_id: str, *targets: str) -> None:
    """One tier of push contacts to `targets` (stored directly: the API's check has its test)."""
    with sessions() as s, s.begin():
        ids = []
        for target in targets:
            contact = Contact(
                senior_id=senior_id,
                name="센터" if ":" in target else target,
                relation="agency",
                channel=Channel.PUSH,
                target=target,
                language="en",
            )
            s.add(contact)
            s.flush()
            ids.append(contact.id)
        s.add(
            EscalationPolicy(
                senior_id=senior_id,
                tiers={"tiers": [{"contact_ids": ids, "timeout_s": 0.0}]},
                updated_at=NOW,
            )
        )


def _escalate(sessions: sessionmaker[Session], alert_id: int) -> int:
    with sessions() as s, s.begin():
        return scheduler.start(s, s.get_one(Alert, alert_id), NOW, ())


def _deliveries(sessions: sessionmaker[Session]) -> list[tuple[str, DeliveryStatus]]:
    with sessions() as s:
        return sorted((d.target, d.status) for d in s.scalars(select(Delivery)))


def _escalation_note(sessions: sessionmaker[Session], alert_id: int) -> str:
    with sessions() as s:
        note = s.scalars(
            select(AlertTransition.note).where(
                AlertTransition.alert_id == alert_id, AlertTransition.channel == "escalation"
            )
        ).one()
    return note or ""


def test_every_enabled_staff_member_is_pushed_once_and_the_record_names_them(
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
    tmp_path: Path,
) -> None:
    keys = _agency(sessions, passwords, service)
    _policy(sessions, "s-a", "org:staff", "wendy")  # wendy named twice in one step
    alert_id = world.alerts["s-a"]
    assert _escalate(sessions, alert_id) == 2
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    assert sorted(path for path, _, _ in service.received) == ["/walt", "/wendy"]
    for path, _, body in service.received:
        assert keys[path[1:]].decrypt(body)["title"] == "Emergency call — 김순자"
    assert _deliveries(sessions) == [
        ("walt", DeliveryStatus.DELIVERED),
        ("wendy", DeliveryStatus.DELIVERED),
    ]
    note = _escalation_note(sessions, alert_id)
    assert note == "tier 0 attempt 0: 센터 (push org:staff: walt, wendy), wendy (push)"


def test_a_group_with_nobody_in_it_says_so_and_sends_nothing(
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
) -> None:
    _agency(sessions, passwords, service)
    with sessions() as s, s.begin():
        s.execute(update(OrganisationStaff).values(is_admin=False))
    _policy(sessions, "s-a", "org:admins")
    alert_id = world.alerts["s-a"]
    assert _escalate(sessions, alert_id) == 0
    assert _deliveries(sessions) == []
    assert _escalation_note(sessions, alert_id) == (
        "tier 0 attempt 0: 센터 (push org:admins: nobody on that staff)"
    )


def test_the_admins_group_is_only_the_organisations_admins(
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
    tmp_path: Path,
) -> None:
    _agency(sessions, passwords, service)
    _policy(sessions, "s-a", "org:admins")
    _policy(sessions, "s-b", "org:admins")
    with sessions() as s, s.begin():
        s.execute(delete(EscalationPolicy).where(EscalationPolicy.senior_id == "s-b"))
    assert _escalate(sessions, world.alerts["s-a"]) == 1
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    assert [path for path, _, _ in service.received] == ["/wendy"]  # never olga of org-2


def test_a_member_who_left_or_was_disabled_after_the_step_is_not_sent_to(
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
    tmp_path: Path,
) -> None:
    _agency(sessions, passwords, service)
    _policy(sessions, "s-a", "org:staff")
    assert _escalate(sessions, world.alerts["s-a"]) == 2
    with sessions() as s, s.begin():  # between the step and the send
        walt = s.scalars(select(Account.id).where(Account.username == "walt")).one()
        s.execute(delete(OrganisationStaff).where(OrganisationStaff.account_id == walt))
        s.execute(update(Account).where(Account.username == "wendy").values(disabled=True))
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    assert service.received == []
    assert _deliveries(sessions) == [
        ("walt", DeliveryStatus.DEAD),
        ("wendy", DeliveryStatus.DEAD),
    ]
    with sessions() as s:
        errors = dict(s.execute(select(Delivery.target, Delivery.last_error)).all())
    assert errors == {
        "walt": "the account may not see this senior",
        "wendy": "no enabled account of that username",
    }


def test_a_staff_member_linked_to_the_senior_is_not_pushed_twice_for_a_new_alert(
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
    tmp_path: Path,
) -> None:
    _agency(sessions, passwords, service)
    with sessions() as s, s.begin():
        walt = s.scalars(select(Account.id).where(Account.username == "walt")).one()
        s.add(CaregiverLink(account_id=walt, senior_id="s-a", relation="worker"))
    _policy(sessions, "s-a", "org:staff")
    # The new-alert push leaves the group's members to the escalation; alice is not staff.
    sender = _sender(sessions, tmp_path)
    _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{service.base}/alice")
    assert sender.send_alert(world.alerts["s-a"]) == 1
    assert [path for path, _, _ in service.received] == ["/alice"]


async def test_the_api_takes_a_group_push_contact_only_for_a_senior_of_an_organisation(
    app: FastAPI,
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
) -> None:
    with sessions() as s, s.begin():
        s.add(Organisation(id="org-1", name="돌봄센터", created_at=NOW))
        s.flush()
        s.add(OrganisationSenior(senior_id="s-a", organisation_id="org-1", assigned_at=NOW))
    contact = {"name": "센터", "relation": "agency", "channel": "push", "target": "org:staff"}
    async with http(app) as client:
        ada = await login(client, "ada")
        r = await client.post("/seniors/s-a/contacts", json=contact, headers=ada)
        assert r.status_code == 201, r.text
        for target in ("org:staff", "org:admins"):  # s-b has no organisation
            r = await client.post(
                "/seniors/s-b/contacts", json=contact | {"target": target}, headers=ada
            )
            assert r.status_code == 422
            assert "cared for by an organisation" in r.json()["detail"]
        r = await client.post(
            "/seniors/s-a/contacts", json=contact | {"target": "org:everyone"}, headers=ada
        )
        assert r.status_code == 422  # not a group, not a username
    with sessions() as s:
        rows = s.execute(select(Contact.senior_id, Contact.target, Contact.account_id)).all()
    assert rows == [("s-a", "org:staff", None)]


def _org_1_cares_for_s_a(
    sessions: sessionmaker[Session], world: World, staff: str | None = None
) -> None:
    with sessions() as s, s.begin():
        s.add(Organisation(id="org-1", name="돌봄센터", created_at=NOW))
        s.add(Organisation(id="org-2", name="다른센터", created_at=NOW))
        s.flush()
        s.add(OrganisationSenior(senior_id="s-a", organisation_id="org-1", assigned_at=NOW))
        if staff is not None:
            s.add(
                OrganisationStaff(
                    account_id=world.ids[staff],
                    organisation_id="org-1",
                    is_admin=False,
                    added_at=NOW,
                )
            )


def _denials(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
        return [f"{row.actor} {row.resource} {row.detail}" for row in rows]


async def test_a_family_caregiver_may_not_name_the_organisations_staff_as_a_push_contact(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    """alice sees s-a as family, not as org-1's staff: naming org:staff would make the agency's
    workers receive her pushes, so it is refused (403, bilingual) and audited; nothing stored."""
    _org_1_cares_for_s_a(sessions, world)
    contact = {"name": "센터", "relation": "agency", "channel": "push", "target": "org:staff"}
    async with http(app) as client:
        alice = await login(client, "alice")
        for target in ("org:staff", "org:admins"):
            r = await client.post(
                "/seniors/s-a/contacts", json=contact | {"target": target}, headers=alice
            )
            assert r.status_code == 403, r.text
            detail = r.json()["detail"]
            assert "기관" in detail
            assert "only staff of the senior's organisation or an admin" in detail
        r = await client.post(  # her own username stays allowed
            "/seniors/s-a/contacts", json=contact | {"target": "alice"}, headers=alice
        )
        assert r.status_code == 201, r.text
    with sessions() as s:
        assert s.scalars(select(Contact.target)).all() == ["alice"]
    assert any("http_403" in row and "/seniors/s-a/contacts" in row for row in _denials(sessions))


async def test_staff_of_the_seniors_organisation_and_an_admin_may_name_a_group(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    _org_1_cares_for_s_a(sessions, world, staff="bob")
    contact = {"name": "센터", "relation": "agency", "channel": "push", "target": "org:staff"}
    async with http(app) as client:
        for username in ("bob", "ada"):
            r = await client.post(
                "/seniors/s-a/contacts",
                json=contact | {"name": username},
                headers=await login(client, username),
            )
            assert r.status_code == 201, r.text
    with sessions() as s:
        assert sorted(s.scalars(select(Contact.name)).all()) == ["ada", "bob"]


async def test_staff_of_another_organisation_may_not_name_a_group(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    """bob works for org-2 and is linked to s-a as family: org-1's staff are not his to push."""
    _org_1_cares_for_s_a(sessions, world)
    with sessions() as s, s.begin():
        s.add(CaregiverLink(account_id=world.ids["bob"], senior_id="s-a", relation="son"))
        s.add(
            OrganisationStaff(
                account_id=world.ids["bob"], organisation_id="org-2", is_admin=True, added_at=NOW
            )
        )
    contact = {"name": "센터", "relation": "agency", "channel": "push", "target": "org:admins"}
    async with http(app) as client:
        bob = await login(client, "bob")
        r = await client.post("/seniors/s-a/contacts", json=contact, headers=bob)
    assert r.status_code == 403, r.text


async def test_a_family_caregiver_may_edit_an_existing_group_contact_but_not_make_one(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    """A group contact an admin made stays editable (its name, its language) by the family; an
    email contact cannot be turned into a group by them."""
    _org_1_cares_for_s_a(sessions, world)
    contact = {"name": "센터", "relation": "agency", "channel": "push", "target": "org:staff"}
    async with http(app) as client:
        r = await client.post(
            "/seniors/s-a/contacts", json=contact, headers=await login(client, "ada")
        )
        assert r.status_code == 201, r.text
        group_id = r.json()["id"]
        alice = await login(client, "alice")
        email = {
            "name": "딸",
            "relation": "daughter",
            "channel": "email",
            "target": "d@example.com",
        }
        r = await client.post("/seniors/s-a/contacts", json=email, headers=alice)
        assert r.status_code == 201, r.text
        email_id = r.json()["id"]
        r = await client.put(
            f"/seniors/s-a/contacts/{group_id}", json=contact | {"name": "센터 당직"}, headers=alice
        )
        assert r.status_code == 200, r.text
        r = await client.put(f"/seniors/s-a/contacts/{email_id}", json=contact, headers=alice)
        assert r.status_code == 403, r.text
    with sessions() as s:
        assert sorted(s.scalars(select(Contact.target)).all()) == ["d@example.com", "org:staff"]


async def test_the_care_editor_refuses_a_group_contact_from_the_family_in_their_language(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    _org_1_cares_for_s_a(sessions, world)
    form = {
        "name": "센터",
        "relation": "agency",
        "channel": "push",
        "target": "org:staff",
        "language": "ko",
    }
    async with browser_client(app, **{"accept-language": "ko"}) as client:
        b = Browser(client)
        await b.login("alice")
        await b.get("/app/seniors/s-a/care")
        r = await b.post("/app/seniors/s-a/care/contacts", form)
    assert r.status_code == 403
    assert "기관 직원 그룹은 그 기관의 직원이나 관리자만" in r.text
    with sessions() as s:
        assert s.scalars(select(Contact)).all() == []
    assert any("http_403" in row and "/care/contacts" in row for row in _denials(sessions))
