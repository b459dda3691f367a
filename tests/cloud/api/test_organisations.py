"""Organisations (issue 15): staff see only their organisation's seniors, everywhere in the
API; an organisation's admin manages its staff, regions and caseloads; a platform admin all.
Family caregivers (CaregiverLink) keep what they had."""

from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.accounts.access import Principal
from cloud.api.routers.stream import _changed_since
from cloud.store.models import (
    Alert,
    AlertStatus,
    AuditLog,
    Organisation,
    OrganisationSenior,
    OrganisationStaff,
    Role,
)
from tests.cloud.api.conftest import SERVICE, FakePublisher, World, login
from tests.cloud.api.orgs import add_organisations, links
from tests.cloud.helpers import NOW


@pytest.fixture
def regions(world: World, passwords: Passwords) -> dict[str, int]:
    return add_organisations(world, passwords)


def _ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["items"]]


async def test_a_platform_admin_creates_organisations_others_may_not(
    client: httpx.AsyncClient, world: World, sessions: sessionmaker[Session]
) -> None:
    ada = await login(client, "ada")
    body = {"id": "gangnam-care", "name": "강남구 노인돌봄센터"}
    r = await client.post("/organisations", json=body, headers=ada)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "강남구 노인돌봄센터"
    again = await client.post("/organisations", json=body, headers=ada)
    assert again.status_code == 409
    assert "조직이 이미 있습니다" in again.json()["detail"]
    for bad in (
        {"id": "../x", "name": "x"},
        {"id": "x", "name": ""},
        {"id": "x", "name": "a\u0000b"},
        {"id": "x", "name": "x" * 101},
        {"id": "x", "name": "x", "extra": 1},
        {"id": "y" * 65, "name": "x"},
    ):
        assert (await client.post("/organisations", json=bad, headers=ada)).status_code == 422
    for user in ("alice", "rita", "ian"):
        headers = await login(client, user)
        r = await client.post("/organisations", json={"id": "mine", "name": "x"}, headers=headers)
        assert r.status_code == 403, user
    assert (
        await client.get("/organisations", headers=await login(client, "rita"))
    ).status_code == 403
    with sessions() as s:
        assert [o.id for o in s.scalars(select(Organisation))] == ["gangnam-care"]
        created = s.scalars(select(AuditLog).where(AuditLog.resource == "organisation")).all()
    assert [(a.action, a.actor, a.resource_id) for a in created] == [
        ("create", "admin:ada", "gangnam-care")
    ]


async def test_staff_see_every_senior_of_their_organisation_and_no_other(
    client: httpx.AsyncClient, world: World, regions: dict[str, int]
) -> None:
    for user, seniors in (
        ("carol", ["s-a", "s-c"]),
        ("dave", ["s-a", "s-c"]),
        ("erin", ["s-b", "s-d"]),
        ("frank", ["s-b", "s-d"]),
        ("alice", ["s-a"]),  # a family caregiver: still their own senior only
        ("bob", ["s-b"]),
        ("ada", ["s-a", "s-b", "s-c", "s-d"]),
    ):
        headers = await login(client, user)
        assert _ids(await client.get("/seniors", headers=headers)) == seniors, user
    carol = await login(client, "carol")
    alerts = (await client.get("/alerts", headers=carol)).json()["items"]
    assert [a["senior_id"] for a in alerts] == ["s-a"]
    assert [d["id"] for d in (await client.get("/devices", headers=carol)).json()["items"]] == [
        "dev-a"
    ]


# Every way staff of 'north' could reach 'south' (its organisation, seniors, alerts, robots).
SOUTH = [
    ("GET", "/organisations/south", None),
    ("GET", "/organisations/south/seniors", None),
    ("PUT", "/organisations/south/staff/dave", {"is_admin": True}),
    ("DELETE", "/organisations/south/staff/frank", None),
    ("POST", "/organisations/south/regions", {"name": "강남"}),
    ("PUT", "/organisations/south/seniors/s-b", {"region": None}),
    ("PUT", "/organisations/south/seniors/s-b/workers/dave", None),
    ("GET", "/seniors/s-b", None),
    ("GET", "/seniors/s-d/events", None),
    ("GET", "/seniors/s-b/caregivers", None),
    ("GET", "/devices/dev-b", None),
]


@pytest.mark.parametrize(("method", "path", "body"), SOUTH)
async def test_another_organisation_is_404_as_a_missing_one_and_audited(
    client: httpx.AsyncClient,
    world: World,
    regions: dict[str, int],
    sessions: sessionmaker[Session],
    method: str,
    path: str,
    body: object,
) -> None:
    carol = await login(client, "carol")  # north's admin
    r = await client.request(method, path, json=body, headers=carol)
    assert r.status_code == 404, (path, r.text)
    missing = await client.request(
        method, path.replace("south", "nowhere").replace("s-b", "s-zz"), json=body, headers=carol
    )
    assert missing.status_code == 404
    with sessions() as s:
        denied = s.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
        staff = {m.account_id: m.organisation_id for m in s.scalars(select(OrganisationStaff))}
        assigned = {o.senior_id: o.organisation_id for o in s.scalars(select(OrganisationSenior))}
    assert [d.actor for d in denied] == ["caregiver:carol"]
    assert staff[world.ids["frank"]] == "south"
    assert world.ids["dave"] in staff
    assert assigned["s-b"] == "south"


async def test_another_organisations_alert_is_404_and_left_alone(
    client: httpx.AsyncClient,
    world: World,
    regions: dict[str, int],
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
) -> None:
    dave = await login(client, "dave")
    theirs = world.alerts["s-b"]
    assert (await client.get(f"/alerts/{theirs}", headers=dave)).status_code == 404
    r = await client.post(f"/alerts/{theirs}/ack", json={}, headers=dave)
    assert r.status_code == 404
    r = await client.post(f"/alerts/{theirs}/resolve", json={"note": "x"}, headers=dave)
    assert r.status_code == 404
    ours = await client.post(f"/alerts/{world.alerts['s-a']}/ack", json={}, headers=dave)
    assert ours.status_code == 200
    with sessions() as s:
        assert s.get_one(Alert, theirs).status is AlertStatus.OPEN
    assert [d for d, _ in publisher.sent] == ["dev-a"]


async def test_the_alert_stream_carries_only_the_organisations_alerts(
    app: FastAPI, world: World, regions: dict[str, int]
) -> None:
    ctx = app.state.ctx
    floor = datetime(2000, 1, 1, tzinfo=NOW.tzinfo)
    for user, seniors in (("carol", {"s-a"}), ("frank", {"s-b"}), ("alice", {"s-a"})):
        caller = Principal(Role.CAREGIVER, world.ids[user], user, user)
        assert {a.senior_id for a in _changed_since(ctx, caller, floor)} == seniors, user


async def test_an_organisation_admin_manages_staff_and_staff_may_not(
    client: httpx.AsyncClient,
    world: World,
    regions: dict[str, int],
    sessions: sessionmaker[Session],
) -> None:
    carol, dave = await login(client, "carol"), await login(client, "dave")
    # bob, a family caregiver, joins north's staff: he now sees north's seniors too
    r = await client.put("/organisations/north/staff/bob", json={}, headers=carol)
    assert r.status_code == 200, r.text
    assert (r.json()["username"], r.json()["is_admin"]) == ("bob", False)
    assert _ids(await client.get("/seniors", headers=await login(client, "bob"))) == [
        "s-a",
        "s-b",
        "s-c",
    ]
    r = await client.put("/organisations/north/staff/alice", json={}, headers=dave)
    assert r.status_code == 403
    assert "조직 관리자만" in r.json()["detail"]
    detail = (await client.get("/organisations/north", headers=dave)).json()
    assert [m["username"] for m in detail["staff"]] == ["bob", "carol", "dave"]
    assert detail["seniors"] == 2
    assert detail["regions"] == [{"id": regions["강남"], "name": "강남", "seniors": 1}]
    # who may not join: another organisation's staff, non-caregivers, unknown names
    r = await client.put("/organisations/north/staff/frank", json={}, headers=carol)
    assert r.status_code == 409
    assert "다른 조직" in r.json()["detail"]
    for name in ("rita", "ada", "nobody"):
        r = await client.put(f"/organisations/north/staff/{name}", json={}, headers=carol)
        assert r.status_code == 422
        assert "no active caregiver account" in r.json()["detail"]
    r = await client.put("/organisations/north/staff/bob", json={"is_admin": "yes"}, headers=carol)
    assert r.status_code == 422
    # an admin cannot lock themselves out; another admin (or the platform's) can
    assert (
        await client.put("/organisations/north/staff/carol", json={}, headers=carol)
    ).status_code == 409
    assert (
        await client.delete("/organisations/north/staff/carol", headers=carol)
    ).status_code == 409
    # dave leaves: he no longer sees north's seniors, and his caseload links end
    assert links(sessions, world.ids["dave"]) == {"s-a"}
    assert (
        await client.delete("/organisations/north/staff/dave", headers=carol)
    ).status_code == 204
    assert (
        await client.delete("/organisations/north/staff/dave", headers=carol)
    ).status_code == 404
    assert links(sessions, world.ids["dave"]) == set()
    assert _ids(await client.get("/seniors", headers=await login(client, "dave"))) == []
    assert (
        await client.get("/organisations/north", headers=await login(client, "dave"))
    ).status_code == 404
    with sessions() as s:
        rows = s.scalars(
            select(AuditLog).where(AuditLog.resource == "organisation_staff").order_by(AuditLog.id)
        ).all()
    assert [(a.action, a.actor, a.resource_id) for a in rows] == [
        ("add", "caregiver:carol", str(world.ids["bob"])),
        ("remove", "caregiver:carol", str(world.ids["dave"])),
    ]
    assert rows[1].detail == "north: 1 caseload links ended"


async def test_regions_and_seniors_regions_stay_inside_the_organisation(
    client: httpx.AsyncClient,
    world: World,
    regions: dict[str, int],
    sessions: sessionmaker[Session],
) -> None:
    carol = await login(client, "carol")
    r = await client.post("/organisations/north/regions", json={"name": "  송파 "}, headers=carol)
    assert r.status_code == 201
    assert r.json()["name"] == "송파"
    songpa = r.json()["id"]
    assert (
        await client.post("/organisations/north/regions", json={"name": "송파"}, headers=carol)
    ).status_code == 409
    for bad in ({"name": ""}, {"name": "x" * 65}, {"name": "a\nb"}, {"name": 3}):
        assert (
            await client.post("/organisations/north/regions", json=bad, headers=carol)
        ).status_code == 422
    r = await client.put("/organisations/north/seniors/s-c", json={"region": "송파"}, headers=carol)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "senior_id": "s-c",
        "display_name": "이영희",
        "organisation_id": "north",
        "region": "송파",
        "workers": [],
    }
    # a region of the other organisation is no region of this one
    r = await client.put("/organisations/north/seniors/s-c", json={"region": "서초"}, headers=carol)
    assert r.status_code == 422
    assert "no region named" in r.json()["detail"]
    # an organisation admin cannot pull in a senior of another organisation, or of none
    assert (
        await client.put("/organisations/north/seniors/s-b", json={}, headers=carol)
    ).status_code == 404
    # a region with seniors stays; an empty one (or another organisation's) cannot be removed
    assert (
        await client.delete(f"/organisations/north/regions/{songpa}", headers=carol)
    ).status_code == 409
    assert (
        await client.delete(f"/organisations/north/regions/{regions['서초']}", headers=carol)
    ).status_code == 404
    erin = await login(client, "erin")
    assert (
        await client.delete(f"/organisations/north/regions/{songpa}", headers=erin)
    ).status_code == 404
    assert (
        await client.put("/organisations/north/seniors/s-c", json={"region": None}, headers=carol)
    ).status_code == 200
    assert (
        await client.delete(f"/organisations/north/regions/{songpa}", headers=carol)
    ).status_code == 204
    listed = (await client.get("/organisations/north/seniors", headers=carol)).json()
    assert [(s["senior_id"], s["region"], s["workers"]) for s in listed] == [
        ("s-a", "강남", ["dave"]),
        ("s-c", None, []),
    ]
    with sessions() as s:
        reads = s.scalars(
            select(AuditLog.senior_id).where(
                AuditLog.action == "read", AuditLog.resource == "organisation_senior"
            )
        ).all()
    assert sorted(r or "" for r in reads) == ["s-a", "s-c"]


async def test_caseloads_link_only_the_organisations_staff_to_its_seniors(
    client: httpx.AsyncClient,
    world: World,
    regions: dict[str, int],
    sessions: sessionmaker[Session],
) -> None:
    carol = await login(client, "carol")
    url = "/organisations/north/seniors/s-c/workers"
    assert (await client.put(f"{url}/dave", headers=carol)).status_code == 204
    assert (await client.put(f"{url}/dave", headers=carol)).status_code == 204  # once
    assert links(sessions, world.ids["dave"]) == {"s-a", "s-c"}
    for outsider in ("frank", "alice", "nobody"):
        r = await client.put(f"{url}/{outsider}", headers=carol)
        assert r.status_code == 422, outsider
    assert (await client.put(f"{url}/dave", headers=await login(client, "dave"))).status_code == 403
    assert (await client.delete(f"{url}/dave", headers=carol)).status_code == 204
    assert (await client.delete(f"{url}/dave", headers=carol)).status_code == 404
    assert links(sessions, world.ids["dave"]) == {"s-a"}


async def test_moving_a_senior_to_another_organisation_ends_the_old_caseload(
    client: httpx.AsyncClient,
    world: World,
    regions: dict[str, int],
    sessions: sessionmaker[Session],
) -> None:
    ada = await login(client, "ada")
    r = await client.put("/organisations/south/seniors/s-a", json={"region": "서초"}, headers=ada)
    assert r.status_code == 200, r.text
    assert links(sessions, world.ids["dave"]) == set()
    assert links(sessions, world.ids["alice"]) == {"s-a"}  # the family stays
    assert _ids(await client.get("/seniors", headers=await login(client, "dave"))) == ["s-c"]
    assert "s-a" in _ids(await client.get("/seniors", headers=await login(client, "frank")))
    # out of every organisation: only the platform admin may do that
    r = await client.delete("/organisations/south/seniors/s-a", headers=await login(client, "erin"))
    assert r.status_code == 403
    assert (await client.delete("/organisations/south/seniors/s-a", headers=ada)).status_code == 204
    assert (await client.delete("/organisations/south/seniors/s-a", headers=ada)).status_code == 404
    assert "s-a" not in _ids(await client.get("/seniors", headers=await login(client, "frank")))
    # a senior deleted by the admin leaves their organisation too
    assert (await client.delete("/seniors/s-d", headers=SERVICE)).status_code == 204
    with sessions() as s:
        assert s.get(OrganisationSenior, "s-d") is None


async def test_lists_of_organisations_follow_the_caller(
    client: httpx.AsyncClient, world: World, regions: dict[str, int]
) -> None:
    for user, orgs in (("ada", ["north", "south"]), ("dave", ["north"]), ("alice", [])):
        r = await client.get("/organisations", headers=await login(client, user))
        assert [o["id"] for o in r.json()] == orgs, user
