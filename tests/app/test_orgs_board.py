"""The triage board for an organisation's staff (issue 15): only its seniors in the page, the
htmx rows, the CSV and the printable report; filters naming another organisation's region,
worker or id never widen it; a platform admin filters by organisation."""

import csv
import io

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.store.models import AuditLog
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import World
from tests.cloud.api.orgs import add_organisations

NORTH = ("김순자", "이영희")  # s-a, s-c
SOUTH = ("박말순", "최복례")  # s-b, s-d


@pytest.fixture
def regions(world: World, passwords: Passwords) -> dict[str, int]:
    return add_organisations(world, passwords)


def _ids(text: str) -> list[str]:
    return [t["senior_id"] for t in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


async def _as(app: FastAPI, user: str) -> Browser:
    client = browser_client(app, **{"accept-language": "en"})
    b = Browser(client)
    await b.login(user)
    return b


async def test_staff_see_their_organisations_seniors_in_every_view(
    app: FastAPI, world: World, regions: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    dave = await _as(app, "dave")  # north's staff, not its admin
    try:
        views = {
            "page": await dave.get("/app/board"),
            "rows": await dave.get("/app/board", headers={"HX-Request": "true"}),
            "print": await dave.get("/app/board/print"),
            "home": await dave.get("/app/"),
        }
        for name, r in views.items():
            assert r.status_code == 200, name
            assert all(n in r.text for n in NORTH), name
            assert not any(n in r.text for n in SOUTH), name
        exported = await dave.get("/app/board.csv")
        assert sorted(_ids(exported.text)) == ["s-a", "s-c"]
        table = {t["senior_id"]: t for t in csv.DictReader(io.StringIO(exported.text[1:]))}
        assert (table["s-a"]["region"], table["s-a"]["organisation"]) == ("강남", "north")
        # the worker filter lists the organisation's staff, never a family's accounts
        assert "alice" not in views["page"].text
        for url in ("/app/seniors/s-b", "/app/seniors/s-d", f"/app/alerts/{world.alerts['s-b']}"):
            assert (await dave.get(url)).status_code == 404, url
    finally:
        await dave.http.aclose()
    with sessions() as s:
        denied = s.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
    assert {d.actor for d in denied} == {"caregiver:dave"}


@pytest.mark.parametrize(
    "params",
    [
        {"region": "서초"},  # the other organisation's region
        {"worker": "frank"},  # the other organisation's worker
        {"worker": "bob"},  # s-b's family caregiver
        {"org": "south"},  # the other organisation
        {"org": "south", "region": "서초", "worker": "frank"},
    ],
)
async def test_filters_naming_another_organisation_show_nothing(
    app: FastAPI, world: World, regions: dict[str, int], params: dict[str, str]
) -> None:
    carol = await _as(app, "carol")
    try:
        for url in ("/app/board", "/app/board/print"):
            r = await carol.get(url, params=params)
            assert r.status_code == 200
            assert not any(n in r.text for n in SOUTH + NORTH), (url, params)
            assert '<option value="frank"' not in r.text  # not offered, only echoed back
        assert _ids((await carol.get("/app/board.csv", params=params)).text) == []
        rows = await carol.get("/app/board", params=params, headers={"HX-Request": "true"})
        assert rows.text.strip() == ""
    finally:
        await carol.http.aclose()


async def test_staff_filter_by_their_regions_and_workers(
    app: FastAPI, world: World, regions: dict[str, int]
) -> None:
    carol = await _as(app, "carol")
    try:
        page = await carol.get("/app/board")
        assert 'id="org"' not in page.text  # one organisation: no organisation filter
        assert '<option value="강남"' in page.text
        assert '<option value="서초"' not in page.text
        assert _ids((await carol.get("/app/board.csv", params={"region": "강남"})).text) == ["s-a"]
        assert _ids((await carol.get("/app/board.csv", params={"worker": "dave"})).text) == ["s-a"]
        report = await carol.get("/app/board/print", params={"worker": "dave"})
        assert "김순자" in report.text
        assert "이영희" not in report.text
    finally:
        await carol.http.aclose()


async def test_a_platform_admin_sees_every_organisation_and_filters_by_one(
    app: FastAPI, world: World, regions: dict[str, int]
) -> None:
    ada = await _as(app, "ada")
    try:
        page = await ada.get("/app/board")
        assert 'id="org"' in page.text
        assert all(n in page.text for n in NORTH + SOUTH)
        assert sorted(_ids((await ada.get("/app/board.csv")).text)) == ["s-a", "s-b", "s-c", "s-d"]
        only = await ada.get("/app/board.csv", params={"org": "south"})
        assert sorted(_ids(only.text)) == ["s-b", "s-d"]
        report = await ada.get("/app/board/print", params={"org": "south"})
        assert "남부 돌봄센터" in report.text
        assert (await ada.get("/app/board", params={"org": "x" * 65})).status_code == 422
    finally:
        await ada.http.aclose()


async def test_family_caregivers_keep_their_own_board(
    app: FastAPI, world: World, regions: dict[str, int]
) -> None:
    alice = await _as(app, "alice")
    try:
        assert _ids((await alice.get("/app/board.csv")).text) == ["s-a"]
        assert _ids((await alice.get("/app/board.csv", params={"org": "north"})).text) == ["s-a"]
        page = await alice.get("/app/board")
        assert "이영희" not in page.text  # s-c is north's, not alice's
    finally:
        await alice.http.aclose()
