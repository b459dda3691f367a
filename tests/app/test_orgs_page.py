"""/app/orgs (issue 15): an organisation's admin manages its staff, regions and seniors'
regions through the organisations API; its other staff read; another organisation's staff,
family caregivers and other roles get nothing (404/403, audited, nothing changed)."""

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.store.models import (
    AuditLog,
    OrganisationRegion,
    OrganisationSenior,
    OrganisationStaff,
)
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import World
from tests.cloud.api.orgs import add_organisations


@pytest.fixture
def regions(world: World, passwords: Passwords) -> dict[str, int]:
    return add_organisations(world, passwords)


async def _as(app: FastAPI, user: str, lang: str = "en") -> Browser:
    b = Browser(browser_client(app, **{"accept-language": lang}))
    await b.login(user)
    return b


def _regions(sessions: sessionmaker[Session], org_id: str) -> list[str]:
    with sessions() as s:
        return sorted(
            s.scalars(
                select(OrganisationRegion.name).where(OrganisationRegion.organisation_id == org_id)
            )
        )


async def test_an_organisation_admin_manages_staff_regions_and_seniors(
    app: FastAPI, world: World, regions: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    carol = await _as(app, "carol")
    try:
        r = await carol.get("/app/orgs", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/app/orgs/north")
        page = await carol.get("/app/orgs/north")
        assert page.status_code == 200
        assert "북부 돌봄센터" in page.text
        assert all(n in page.text for n in ("김순자", "이영희", "dave", "강남"))
        assert "박말순" not in page.text
        assert "서초" not in page.text
        board = await carol.get("/app/board")
        assert 'href="/app/orgs"' in board.text
        r = await carol.post("/app/orgs/north/regions", {"name": "송파"})
        assert r.status_code == 200
        assert "Saved." in r.text
        assert _regions(sessions, "north") == ["강남", "송파"]
        r = await carol.post("/app/orgs/north/seniors/s-c", {"region": "송파"})
        assert r.status_code == 200
        with sessions() as s:
            row = s.get_one(OrganisationSenior, "s-c")
            assert row.region_id is not None
            assert s.get_one(OrganisationRegion, row.region_id).name == "송파"
        r = await carol.post("/app/orgs/north/staff", {"username": "bob", "is_admin": "on"})
        assert r.status_code == 200
        with sessions() as s:
            bob = s.get_one(OrganisationStaff, world.ids["bob"])
            assert (bob.organisation_id, bob.is_admin) == ("north", True)
        r = await carol.post("/app/orgs/north/staff/dave/remove", {})
        assert r.status_code == 200
        with sessions() as s:
            assert s.get(OrganisationStaff, world.ids["dave"]) is None
        audited = await carol.get("/app/orgs/north")
        assert ">dave<" not in audited.text
    finally:
        await carol.http.aclose()


async def test_refusals_are_shown_in_the_pages_language_and_change_nothing(
    app: FastAPI, world: World, regions: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    carol = await _as(app, "carol")
    try:
        r = await carol.post("/app/orgs/north/staff", {"username": "frank"})
        assert r.status_code == 409
        assert "works for another organisation" in r.text
        assert "다른 조직" not in r.text
        r = await carol.post("/app/orgs/north/staff", {"username": "nobody"})
        assert r.status_code == 422
        assert "no active caregiver account named" in r.text
        r = await carol.post("/app/orgs/north/regions", {"name": "강남"})
        assert r.status_code == 409
        for bad in ("x" * 65, "", "a\u0007b"):
            r = await carol.post("/app/orgs/north/regions", {"name": bad})
            assert r.status_code == 422, bad
            assert "Check what you typed." in r.text
        r = await carol.post("/app/orgs/north/seniors/s-a", {"region": "서초"})  # south's
        assert r.status_code == 422
        r = await carol.post(f"/app/orgs/north/regions/{regions['강남']}/remove", {})
        assert r.status_code == 409  # s-a is in it
        r = await carol.post("/app/orgs/north/staff/carol/remove", {})
        assert r.status_code == 409
        r = await carol.http.post("/app/orgs/north/regions", data={"name": "csrf-less"})
        assert r.status_code == 403
    finally:
        await carol.http.aclose()
    ko = await _as(app, "carol", "ko")
    try:
        r = await ko.post("/app/orgs/north/staff", {"username": "frank"})
        assert "다른 조직의 직원입니다" in r.text
        assert "works for another" not in r.text
    finally:
        await ko.http.aclose()
    assert _regions(sessions, "north") == ["강남"]
    with sessions() as s:
        assert s.get_one(OrganisationStaff, world.ids["frank"]).organisation_id == "south"
        assert s.get_one(OrganisationSenior, "s-a").region_id == regions["강남"]


async def test_staff_who_are_not_its_admin_only_read(
    app: FastAPI, world: World, regions: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    dave = await _as(app, "dave")
    try:
        page = await dave.get("/app/orgs/north")
        assert page.status_code == 200
        assert "Only an admin of the organisation can change this." in page.text
        assert 'action="/app/orgs/north/regions"' not in page.text
        for url, data in (
            ("/app/orgs/north/regions", {"name": "송파"}),
            ("/app/orgs/north/staff", {"username": "bob"}),
            ("/app/orgs/north/seniors/s-c", {"region": "강남"}),
            ("/app/orgs/north/staff/carol/remove", {}),
        ):
            assert (await dave.post(url, data)).status_code == 403, url
    finally:
        await dave.http.aclose()
    assert _regions(sessions, "north") == ["강남"]
    with sessions() as s:
        assert s.get_one(OrganisationSenior, "s-c").region_id is None
        assert s.get(OrganisationStaff, world.ids["bob"]) is None


async def test_another_organisation_and_other_callers_get_nothing(
    app: FastAPI, world: World, regions: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    erin = await _as(app, "erin")  # south's admin
    try:
        assert (await erin.get("/app/orgs/north")).status_code == 404
        assert (await erin.get("/app/orgs/nowhere")).status_code == 404
        for url, data in (
            ("/app/orgs/north/regions", {"name": "침입"}),
            ("/app/orgs/north/staff", {"username": "erin"}),
            ("/app/orgs/north/staff/dave/remove", {}),
            (f"/app/orgs/north/regions/{regions['강남']}/remove", {}),
            ("/app/orgs/north/seniors/s-a", {"region": ""}),
            ("/app/orgs/south/seniors/s-a", {"region": "서초"}),  # north's senior into south
            (f"/app/orgs/south/regions/{regions['강남']}/remove", {}),  # north's region
        ):
            assert (await erin.post(url, data)).status_code == 404, url
    finally:
        await erin.http.aclose()
    alice = await _as(app, "alice")
    try:
        listing = await alice.get("/app/orgs")
        assert "You work for no organisation." in listing.text
        assert "북부" not in listing.text
        assert (await alice.get("/app/orgs/north")).status_code == 404
    finally:
        await alice.http.aclose()
    rita = await _as(app, "rita")
    try:
        assert (await rita.get("/app/orgs/north")).status_code == 403
    finally:
        await rita.http.aclose()
    assert _regions(sessions, "north") == ["강남"]
    with sessions() as s:
        assert s.get_one(OrganisationSenior, "s-a").organisation_id == "north"
        assert s.get_one(OrganisationSenior, "s-a").region_id == regions["강남"]
        assert s.get(OrganisationStaff, world.ids["dave"]) is not None
        denied = {a.actor for a in s.scalars(select(AuditLog).where(AuditLog.action == "denied"))}
    # one row per source and kind a minute (the API's coalescing): alice's 404 joins erin's
    assert {"caregiver:erin", "researcher:rita"} <= denied


async def test_a_platform_admin_sees_every_organisation(
    app: FastAPI, world: World, regions: dict[str, int]
) -> None:
    ada = await _as(app, "ada")
    try:
        listing = await ada.get("/app/orgs")
        assert "북부 돌봄센터" in listing.text
        assert "남부 돌봄센터" in listing.text
        south = await ada.get("/app/orgs/south")
        assert 'action="/app/orgs/south/regions"' in south.text
    finally:
        await ada.http.aclose()
