"""The caregivers' app over HTTP: login and CSRF, languages, scoping, one-tap ack/resolve, board."""

import csv
import io

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import Alert, AlertStatus, AuditLog, Senior
from protocol import CommandType
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import FakePublisher, World
from tests.cloud.helpers import NOW


async def test_login_sets_the_session_and_lists_only_my_seniors(
    browser: Browser, world: World
) -> None:
    r = await browser.login("alice")
    assert r.status_code == 303
    assert r.headers["location"] == "/app/"
    page = await browser.get("/app/")
    assert page.status_code == 200
    assert "김순자" in page.text
    assert "박말순" not in page.text


async def test_login_without_csrf_token_is_refused(browser: Browser, world: World) -> None:
    await browser.get("/app/login")
    r = await browser.http.post("/app/login", data={"username": "alice", "password": "x" * 8})
    assert r.status_code == 403
    assert "The form expired" in r.text
    assert "dolbom_session" not in r.cookies


async def test_csrf_token_of_another_browser_is_refused(app: FastAPI, world: World) -> None:
    async with browser_client(app) as other:
        theirs = Browser(other)
        await theirs.get("/app/login")
    async with browser_client(app) as mine:
        me = Browser(mine)
        await me.get("/app/login")
        me.csrf = theirs.csrf
        r = await me.post("/app/login", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 403


async def test_wrong_password_says_so_in_both_languages(app: FastAPI, world: World) -> None:
    for lang, text in (("ko", "아이디 또는 비밀번호가 틀립니다."), ("en", "Invalid username")):
        async with browser_client(app, **{"accept-language": lang}) as client:
            r = await Browser(client).login("alice", "wrong password!")
        assert r.status_code == 401
        assert text in r.text
        assert f'<html lang="{lang}">' in r.text


async def test_pages_without_login_redirect_to_the_login_page(
    browser: Browser, world: World
) -> None:
    for url in ("/app/", "/app/seniors/s-a", f"/app/alerts/{world.alerts['s-a']}", "/app/board"):
        r = await browser.get(url, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/app/login"), url


async def test_post_without_csrf_token_changes_nothing(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    alert_id = world.alerts["s-a"]
    r = await browser.http.post(f"/app/alerts/{alert_id}/ack", data={"csrf": "0" * 40})
    assert r.status_code == 403
    with sessions() as s:
        assert s.get_one(Alert, alert_id).status is AlertStatus.OPEN


async def test_logout_ends_the_session(browser: Browser, world: World) -> None:
    await browser.login("alice")
    page = await browser.get("/app/")
    token = browser.http.cookies.get("dolbom_session")
    assert token
    r = await browser.post("/app/logout", {})
    assert r.status_code == 303
    # the old token is revoked, not only dropped from this browser
    browser.http.cookies.set("dolbom_session", token, domain="app.test")
    r = await browser.get("/app/", follow_redirects=False)
    assert r.status_code == 303
    assert page.status_code == 200


async def test_korean_by_default_english_from_accept_language_and_the_switch(
    app: FastAPI, world: World
) -> None:
    async with browser_client(app) as client:
        b = Browser(client)
        assert '<html lang="ko">' in (await b.get("/app/login")).text
        r = await b.get("/app/lang/en?next=/app/login", follow_redirects=True)
        assert r.status_code == 200
        assert '<html lang="en">' in r.text
    async with browser_client(app, **{"accept-language": "fr;q=1, en;q=0.8, ko;q=0.5"}) as client:
        assert "Log in" in (await client.get("/app/login")).text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/app/", "/app/\\x"])
async def test_the_language_switch_never_redirects_off_the_app(
    browser: Browser, target: str
) -> None:
    r = await browser.get("/app/lang/ko", params={"next": target}, follow_redirects=False)
    assert r.headers["location"] == "/app/"


async def test_a_caregiver_gets_404_for_another_seniors_pages_and_it_is_audited(
    browser: Browser, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    await browser.login("alice")
    theirs = world.alerts["s-b"]
    assert (await browser.get("/app/seniors/s-b")).status_code == 404
    assert (await browser.get("/app/seniors/nobody")).status_code == 404
    assert (await browser.get(f"/app/alerts/{theirs}")).status_code == 404
    await browser.get("/app/")
    assert (await browser.post(f"/app/alerts/{theirs}/ack", {})).status_code == 404
    assert (await browser.post(f"/app/alerts/{theirs}/resolve", {"note": "x"})).status_code == 404
    with sessions() as s:
        assert s.get_one(Alert, theirs).status is AlertStatus.OPEN
        denials = s.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
    assert publisher.sent == []
    assert any(d.resource == "http_404" for d in denials)


async def test_acknowledge_in_one_post_tells_the_robot(
    browser: Browser, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    await browser.login("alice")
    alert_id = world.alerts["s-a"]
    page = await browser.get(f"/app/alerts/{alert_id}")
    assert "I&#39;m on it" in page.text
    assert "Emergency call" in page.text
    r = await browser.post(f"/app/alerts/{alert_id}/ack", {})
    assert r.status_code == 200
    assert "The robot tells the senior who is coming" in r.text
    with sessions() as s:
        alert = s.get_one(Alert, alert_id)
        assert alert.status is AlertStatus.ACKNOWLEDGED
        assert alert.transitions[-1].to_status is AlertStatus.ACKNOWLEDGED
        audited = s.scalars(select(AuditLog).where(AuditLog.action == "ack")).all()
    [(device, command)] = publisher.sent
    assert (device, command.type) == ("dev-a", CommandType.ALERT_ACK)
    assert command.payload["alert_id"] == alert_id
    assert [a.actor for a in audited] == ["caregiver:alice"]


async def test_htmx_resolve_returns_the_card_with_the_note(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    alert_id = world.alerts["s-a"]
    await browser.get(f"/app/alerts/{alert_id}")
    r = await browser.post(
        f"/app/alerts/{alert_id}/resolve",
        {"note": "visited, she is fine"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section id="alert"')
    assert "Recorded as resolved." in r.text
    with sessions() as s:
        alert = s.get_one(Alert, alert_id)
        assert (alert.status, alert.note) == (AlertStatus.RESOLVED, "visited, she is fine")


async def test_acknowledging_twice_says_the_alert_moved_on(browser: Browser, world: World) -> None:
    await browser.login("alice")
    alert_id = world.alerts["s-a"]
    await browser.get(f"/app/alerts/{alert_id}")
    assert (await browser.post(f"/app/alerts/{alert_id}/ack", {})).status_code == 200
    r = await browser.post(f"/app/alerts/{alert_id}/ack", {})
    assert r.status_code == 409
    assert "already moved on" in r.text


async def test_senior_page_shows_status_open_alert_and_timeline(
    browser: Browser, world: World
) -> None:
    await browser.login("alice")
    r = await browser.get("/app/seniors/s-a")
    assert r.status_code == 200
    assert 'class="status alert"' in r.text
    assert f'href="/app/alerts/{world.alerts["s-a"]}"' in r.text
    assert "Timeline (last 50 events)" in r.text
    assert "<main" in r.text
    assert "<nav" in r.text


async def test_roles_without_seniors_may_not_use_the_app(browser: Browser, world: World) -> None:
    await browser.login("rita")
    r = await browser.get("/app/")
    assert r.status_code == 303  # a researcher's home is their studies (research_pages)
    assert r.headers["location"] == "/app/research"
    r = await browser.get("/app/board")
    assert r.status_code == 403
    assert "cannot use the caregivers" in r.text


async def test_pages_carry_a_csp_without_inline_script(browser: Browser, world: World) -> None:
    r = await browser.get("/app/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_board_and_csv_hold_only_the_callers_seniors(browser: Browser, world: World) -> None:
    await browser.login("alice")
    r = await browser.get("/app/board")
    assert r.status_code == 200
    assert "김순자" in r.text
    assert "박말순" not in r.text
    assert 'hx-trigger="every 15s, sse:alert"' in r.text
    rows = await browser.get("/app/board", headers={"HX-Request": "true"})
    assert rows.text.lstrip().startswith("<tr")
    exported = await browser.get("/app/board.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(t["senior_id"], t["status"], t["worst_open_alert"]) for t in table] == [
        ("s-a", "alert", "emergency")
    ]


async def test_admin_board_sorts_by_risk_filters_by_region_and_escapes_formulas(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        s.get_one(Senior, "s-a").settings = {"region": "강남"}
        s.get_one(Senior, "s-b").settings = {"region": "=cmd"}
        s.add(Senior(id="s-c", display_name="@이영희", settings={}, created_at=NOW))
    await browser.login("ada")
    exported = await browser.get("/app/board.csv")
    table = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    # two open emergencies first (by senior id between equals), the senior with no robot last
    assert [t["senior_id"] for t in table] == ["s-a", "s-b", "s-c"]
    assert table[1]["region"] == "'=cmd"
    assert table[2]["name"] == "'@이영희"
    only = await browser.get("/app/board.csv", params={"region": "강남"})
    assert [t["senior_id"] for t in csv.DictReader(io.StringIO(only.text.lstrip("\ufeff")))] == [
        "s-a"
    ]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"csrf=" + b"a" * 20_000, "application/x-www-form-urlencoded"),  # oversized
        (b"csrf=\xff\xfe&username=alice", "application/x-www-form-urlencoded"),  # not UTF-8
        (b"&".join(b"f%d=1" % i for i in range(50)), "application/x-www-form-urlencoded"),
        (b'{"username": "alice", "password": "correct horse battery"}', "application/json"),
    ],
)
async def test_hostile_login_forms_are_refused_without_a_session(
    browser: Browser, world: World, content: bytes, content_type: str
) -> None:
    await browser.get("/app/login")
    r = await browser.http.post(
        "/app/login", content=content, headers={"content-type": content_type}
    )
    assert r.status_code == 403
    assert "dolbom_session" not in r.cookies


async def test_hostile_ids_in_paths_are_plain_404s(browser: Browser, world: World) -> None:
    await browser.login("alice")
    assert (await browser.get("/app/seniors/" + "x" * 5000)).status_code == 404
    # a NUL byte: SQLite finds no such senior; PostgreSQL refuses it in text (a client error)
    assert (await browser.get("/app/seniors/s-a%00")).status_code in (404, 422)
    assert (await browser.get("/app/alerts/99999999")).status_code == 404
    r = await browser.get("/app/alerts/99999999999999999999999")
    assert r.status_code == 422


async def test_a_duplicated_csrf_field_uses_the_first_and_a_forged_first_is_refused(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    alert_id = world.alerts["s-a"]
    await browser.get(f"/app/alerts/{alert_id}")
    body = f"csrf={'0' * 40}&csrf={browser.csrf}"
    r = await browser.http.post(
        f"/app/alerts/{alert_id}/ack",
        content=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 403
    with sessions() as s:
        assert s.get_one(Alert, alert_id).status is AlertStatus.OPEN


async def test_an_htmx_poll_after_the_session_ended_sends_the_page_to_login(
    browser: Browser, world: World
) -> None:
    r = await browser.get("/app/board", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 204
    assert r.headers["HX-Redirect"] == "/app/login"


@pytest.mark.parametrize(
    "path", ["/app/static/..%2fpages.py", "/app/static/../pages.py", "/app/static/%2e%2e/web.py"]
)
async def test_static_files_never_serve_the_apps_code(browser: Browser, path: str) -> None:
    r = await browser.get(path)
    assert r.status_code == 404
    assert "def " not in r.text


async def test_the_pwa_shell_is_served_with_its_types(browser: Browser) -> None:
    manifest = await browser.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["start_url"] == "/app/"
    worker = await browser.get("/app/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    htmx = await browser.get("/app/static/htmx.min.js")
    assert htmx.status_code == 200
    assert (await browser.get("/app/static/htmx.LICENSE")).status_code == 200


def _csv_ids(text: str) -> list[str]:
    return [t["senior_id"] for t in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


async def test_the_board_filters_by_worker_within_the_callers_seniors(
    app: FastAPI, world: World
) -> None:
    async with browser_client(app) as client:
        admin = Browser(client)
        await admin.login("ada")
        page = await admin.get("/app/board")
        assert 'id="worker"' in page.text  # two workers care for the seniors
        only_bob = await admin.get("/app/board.csv", params={"worker": "bob"})
        assert _csv_ids(only_bob.text) == ["s-b"]
        nobody = await admin.get("/app/board.csv", params={"worker": "nobody"})
        assert _csv_ids(nobody.text) == []
    async with browser_client(app) as client:
        alice = Browser(client)
        await alice.login("alice")
        theirs = await alice.get("/app/board.csv", params={"worker": "bob"})
        assert _csv_ids(theirs.text) == []  # the filter never widens what alice may see


async def test_the_printable_report_keeps_the_boards_order_scope_and_filters(
    app: FastAPI, world: World
) -> None:
    async with browser_client(app) as client:
        admin = Browser(client)
        await admin.login("ada")
        board = await admin.get("/app/board")
        assert 'href="/app/board/print"' in board.text
        report = await admin.get("/app/board/print", params={"worker": "bob"})
        assert report.status_code == 200
        assert "hx-trigger" not in report.text  # a snapshot: no live refresh
        assert "/app/seniors/s-b" in report.text
        assert "/app/seniors/s-a" not in report.text
        assert "UTC" in report.text
        css = await admin.get("/app/static/app.css")
        assert "@media print" in css.text
    async with browser_client(app) as client:
        alice = Browser(client)
        await alice.login("alice")
        theirs = await alice.get("/app/board/print", params={"worker": "bob"})
        assert "/app/seniors/s-b" not in theirs.text  # the filter never widens alice's scope
        out = await alice.get("/app/board/print", params={"region": "x" * 65})
        assert out.status_code == 422
    async with browser_client(app) as client:
        anonymous = await client.get("/app/board/print")
        assert anonymous.status_code in (302, 303)
