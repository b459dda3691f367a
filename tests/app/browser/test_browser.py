"""The app in Debian's chromium (Playwright, no browser download): login, the phone-width pages,
one-tap acknowledge through htmx, and no CSP violation or script error on any page."""

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import Alert, AlertStatus
from protocol import CommandType
from tests.app.browser.pages import DESKTOP, PHONE, _fits, _login, _open, _serious, _shot
from tests.cloud.api.conftest import PASSWORD, FakePublisher, World


def test_caregiver_logs_in_and_acknowledges_in_one_tap_on_a_phone(
    chromium: Browser,
    base_url: str,
    world: World,
    publisher: FakePublisher,
    sessions: sessionmaker[Session],
) -> None:
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "alice")
    assert "김순자" in page.inner_text("main")
    assert "박말순" not in page.content()
    assert _fits(page, PHONE["width"])
    _shot(page, "seniors-phone")
    page.click("text=김순자")
    page.wait_for_selector("text=Timeline (last 50 events)")
    assert _fits(page, PHONE["width"])
    _shot(page, "senior-phone")
    alert_id = world.alerts["s-a"]
    page.goto(f"/app/alerts/{alert_id}")
    assert _fits(page, PHONE["width"])
    _shot(page, "alert-phone")
    page.click("text=I'm on it (acknowledge)")
    page.wait_for_selector("text=The robot tells the senior who is coming")
    assert page.url.endswith(f"/app/alerts/{alert_id}")  # swapped in place by htmx
    with sessions() as s:
        assert s.get_one(Alert, alert_id).status is AlertStatus.ACKNOWLEDGED
    assert [c.type for _, c in publisher.sent] == [CommandType.ALERT_ACK]
    assert page.problems == []  # type: ignore[attr-defined]


def test_korean_board_on_a_desktop_without_script_errors(
    chromium: Browser, base_url: str, world: World
) -> None:
    page = _open(chromium, base_url, DESKTOP, "ko-KR")
    _login(page, "ada")
    page.goto("/app/board")
    assert "상황판" in page.inner_text("h1")
    rows = page.locator("#board-rows tr")
    assert rows.count() == 2
    _shot(page, "board-desktop")
    page.goto(f"/app/alerts/{world.alerts['s-b']}")
    _shot(page, "alert-desktop")
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_service_worker_registers_and_caches_the_shell(
    chromium: Browser, base_url: str, world: World
) -> None:
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "alice")
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{base_url}/app/"
    cached = page.evaluate(
        "caches.open('dolbom-shell-v4').then(c => c.keys())"
        ".then(k => k.map(r => new URL(r.url).pathname))"
    )
    assert "/app/static/htmx.min.js" in cached
    assert not any(path.startswith("/app/seniors") or path == "/app/" for path in cached)


def test_the_printed_report_leaves_out_navigation_and_forms(
    chromium: Browser, base_url: str, world: World
) -> None:
    page = _open(chromium, base_url, DESKTOP, "ko-KR")
    _login(page, "ada")
    page.goto("/app/board")
    page.click("text=인쇄용 보고서")
    page.wait_for_selector("h1 >> text=일일 보고서")
    page.emulate_media(media="print")
    assert page.locator("header.top nav").is_hidden()
    assert page.locator("text=상황판으로 돌아가기").is_hidden()
    assert page.locator("table.report tbody tr").count() == 2  # both seniors, ada is admin
    assert page.locator("table.report").is_visible()
    assert page.problems == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violation_on_any_page(
    chromium: Browser, base_url: str, world: World, lang: str, viewport: dict[str, int]
) -> None:
    page = _open(chromium, base_url, viewport, lang)
    page.goto("/app/login")
    found = {"login": _serious(page)}
    _login(page, "ada")
    for name, url in [
        ("seniors", "/app/"),
        ("senior", "/app/seniors/s-a"),
        ("alert", f"/app/alerts/{world.alerts['s-a']}"),
        ("board", "/app/board"),
        ("report", "/app/board/print"),
    ]:
        page.goto(url)
        found[name] = _serious(page)
    assert {k: v for k, v in found.items() if v} == {}


def test_an_alert_acknowledged_elsewhere_updates_the_open_page_live(
    chromium: Browser, base_url: str, world: World
) -> None:
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "alice")
    alert_id = world.alerts["s-a"]
    page.goto(f"/app/alerts/{alert_id}")
    page.wait_for_selector("#alert-live >> text=I'm on it (acknowledge)")
    with httpx.Client(base_url=base_url) as api:  # another caregiver, through the JSON API
        token = api.post("/auth/login", json={"username": "ada", "password": PASSWORD})
        r = api.post(
            f"/alerts/{alert_id}/ack",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert r.status_code == 200
    # the alert stream (SSE) tells the page, which reloads the card's live part: no reload
    page.wait_for_selector("#alert-live >> text=Acknowledged by")
    assert page.locator("text=I'm on it (acknowledge)").count() == 0
    assert page.problems == []  # type: ignore[attr-defined]
