"""The organisation page and an organisation's board in Debian's chromium: an organisation
admin adds a region and puts a senior in it on a 360 px phone, the board then filters by it;
axe-core finds no serious WCAG 2.2 AA violation on the organisation page (also with a refusal
shown) and its board, in Korean and English, at phone and desktop size."""

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from tests.app.browser.pages import DESKTOP, PHONE, _fits, _login, _open, _serious, _shot
from tests.cloud.api.conftest import World
from tests.cloud.api.orgs import add_organisations


def _submit(page: Page, field: str) -> None:
    page.locator(field).locator("xpath=ancestor::form").locator("button[type=submit]").click()


def test_an_organisation_admin_places_a_senior_in_a_new_region_on_a_phone(
    chromium: Browser,
    base_url: str,
    world: World,
    passwords: Passwords,
    sessions: sessionmaker[Session],
) -> None:
    add_organisations(world, passwords)
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "carol")
    page.goto("/app/board")
    page.click("text=Manage the organisation")
    page.wait_for_selector("h1 >> text=북부 돌봄센터")
    assert _fits(page, PHONE["width"])
    page.fill("#region-name", "송파")
    _submit(page, "#region-name")
    page.wait_for_selector("text=Saved.")
    page.select_option("select[aria-label='Region of 이영희']", "송파")
    page.locator("select[aria-label='Region of 이영희']").locator("xpath=ancestor::form").locator(
        "button[type=submit]"
    ).click()
    page.wait_for_selector("text=Saved.")
    assert page.locator("select[aria-label='Region of 이영희']").input_value() == "송파"
    assert _fits(page, PHONE["width"])
    _shot(page, "organisation-phone")
    page.goto("/app/board?region=송파")
    rows = page.inner_text("#board-rows")
    assert "이영희" in rows
    assert "김순자" not in rows
    assert "박말순" not in page.content()
    assert page.problems == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violation_on_the_organisation_pages(
    chromium: Browser,
    base_url: str,
    world: World,
    passwords: Passwords,
    lang: str,
    viewport: dict[str, int],
) -> None:
    add_organisations(world, passwords)
    page = _open(chromium, base_url, viewport, lang)
    _login(page, "carol")
    found: dict[str, list[str]] = {}
    page.goto("/app/orgs/north")
    found["organisation"] = _serious(page)
    assert _fits(page, viewport["width"])
    page.fill("#staff-username", "frank")  # works for south: refused, shown on the page
    _submit(page, "#staff-username")
    page.wait_for_selector("p.msg.bad")
    found["organisation with a refusal"] = _serious(page)
    page.goto("/app/board")
    found["board"] = _serious(page)
    if viewport == DESKTOP and lang == "ko-KR":
        page.goto("/app/orgs/north")
        _shot(page, "organisation-desktop")
    assert {k: v for k, v in found.items() if v} == {}
    # the refusal is a 409 page: chromium logs the status, nothing else may be logged
    assert [p for p in page.problems if "409" not in p] == []  # type: ignore[attr-defined]
