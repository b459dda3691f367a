"""The pages the other browser tests leave out of axe-core (the organisations list, the daily
report, a 404 page, the study report), in Korean and English; and reflow (WCAG 1.4.10): the
main pages at 320 CSS px (1280 px at 400 %) and 640 CSS px (1280 px at 200 % zoom) never scroll
sideways."""

import pytest
from playwright.sync_api import Browser, Page

from cloud.accounts import Passwords
from tests.app.browser.pages import DESKTOP, _fits, _login, _open, _serious, _shot
from tests.app.test_research_pages import (  # noqa: F401  (the study fixture)
    STUDY,
    Research,
    research,
)
from tests.cloud.api.conftest import PASSWORD, World
from tests.cloud.api.orgs import add_organisations

NARROW = {"width": 320, "height": 640}  # 1280 x 2560 at 400 %
ZOOMED = {"width": 640, "height": 400}  # 1280 x 800 at 200 %


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
def test_axe_finds_no_serious_violation_on_the_organisations_list_daily_report_and_a_404(
    chromium: Browser,
    base_url: str,
    world: World,
    passwords: Passwords,
    lang: str,
) -> None:
    add_organisations(world, passwords)
    page = _open(chromium, base_url, NARROW, lang)
    _login(page, "carol")
    found: dict[str, list[str]] = {}
    page.goto("/app/orgs")
    page.wait_for_selector("h1")
    assert "북부 돌봄센터" in page.inner_text("main")
    found["organisations"] = _serious(page)
    page.goto("/app/board/daily")  # the daily report of yesterday, with its day picker
    page.wait_for_selector("input#day")
    assert page.input_value("input#day") == "2026-11-26"
    found["daily report"] = _serious(page)
    response = page.goto("/app/seniors/s-b")  # south's senior: not carol's to see
    assert response is not None
    assert response.status == 404
    found["404"] = _serious(page)
    assert {k: v for k, v in found.items() if v} == {}
    assert [p for p in page.problems if "404" not in p] == []  # type: ignore[attr-defined]


def _research_login(page: Page) -> None:
    page.goto("/app/login")
    page.fill("#username", "cora")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/research")


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
def test_axe_finds_no_serious_violation_on_the_study_report(
    chromium: Browser,
    base_url: str,
    research: Research,  # noqa: F811
    lang: str,
) -> None:
    # The report is served sandboxed without script (its CSP): axe is injected past it.
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800}, locale=lang, base_url=base_url, bypass_csp=True
    )
    page = context.new_page()
    _research_login(page)
    response = page.goto(f"/app/research/studies/{STUDY}/report")
    assert response is not None
    assert response.status == 200
    page.wait_for_selector("h1")
    assert _serious(page) == []
    context.close()


def _reflow(page: Page, width: int, urls: list[str]) -> list[str]:
    """The pages of `urls` wider than `width` (the document scrolls sideways)."""
    page.set_viewport_size({"width": width, "height": 640})
    wide = []
    for url in urls:
        page.goto(url)
        page.wait_for_selector("main")
        if not _fits(page, width):
            wide.append(url)
    return wide


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
def test_the_main_pages_reflow_at_320_px_and_at_200_percent_zoom(
    chromium: Browser,
    base_url: str,
    world: World,
    lang: str,
) -> None:
    alert = world.alerts["s-a"]
    senior = "/app/seniors/s-a"
    urls = [
        "/app/",
        senior,
        f"{senior}/trends?days=30",
        f"{senior}/care",
        f"{senior}/messages",
        f"/app/alerts/{alert}",
        "/app/board",
        "/app/board/print",
    ]
    page = _open(chromium, base_url, NARROW, lang)
    page.goto("/app/login")
    assert _fits(page, NARROW["width"])
    _login(page, "alice")
    assert _reflow(page, NARROW["width"], urls) == []
    assert _reflow(page, ZOOMED["width"], urls) == []
    page.set_viewport_size({"width": DESKTOP["width"], "height": DESKTOP["height"]})
    page.goto(senior)
    page.wait_for_selector("main")
    assert _fits(page, DESKTOP["width"])
    if lang == "ko-KR":
        _shot(page, "senior-desktop")
    assert page.problems == []  # type: ignore[attr-defined]
