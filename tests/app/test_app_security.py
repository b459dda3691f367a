"""The app's login cookie (Secure, HttpOnly, SameSite=Strict) and the Content-Security-Policy
without inline script on every kind of page: care, board, admin, organisations, research and
the error pages, not only the login page."""

from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.api import create_app
from cloud.api.deps import COOKIE_NAME
from cloud.app.web import CSRF_COOKIE
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import Clock, FakePublisher, World, settings


def _cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    """Each Set-Cookie header of the response, parsed, by cookie name."""
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


async def test_the_login_cookie_is_secure_httponly_and_samesite(
    browser: Browser, world: World
) -> None:
    r = await browser.login("alice")
    assert r.status_code == 303
    session = _cookies(r)[COOKIE_NAME][COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "strict"
    assert session["path"] == "/"
    csrf = _cookies(await browser.http.get("/app/login"))
    for cookie in csrf.values():  # the CSRF cookie, when one is (re)set, is as strict
        assert cookie[CSRF_COOKIE]["secure"] is True
        assert cookie[CSRF_COOKIE]["samesite"] == "strict"
    out = await browser.post("/app/logout", {})
    assert out.status_code == 303
    ended = _cookies(out)[COOKIE_NAME][COOKIE_NAME]
    assert ended.value == ""  # the session cookie is cleared, with the same flags
    assert ended["secure"] is True
    assert ended["httponly"] is True


async def test_plain_http_development_is_the_only_case_without_secure(
    sessions: sessionmaker[Session],
    world: World,
    publisher: FakePublisher,
    clock: Clock,
    passwords: Passwords,
    tmp_path: Path,
) -> None:
    app = create_app(
        settings(data_dir=str(tmp_path / "data"), auth_cookie_secure=False),
        session_factory=sessions,
        publisher=publisher,
        mqtt_connected=lambda: True,
        clock=clock,
        passwords=passwords,
    )
    async with browser_client(app) as client:
        plain = Browser(client)
        r = await plain.login("alice")
    session = _cookies(r)[COOKIE_NAME][COOKIE_NAME]
    assert session["secure"] == ""  # DOLBOM_AUTH_COOKIE_SECURE=false, plain-HTTP development
    assert session["httponly"] is True
    assert session["samesite"] == "strict"


def _strict_csp(r: httpx.Response, url: str) -> None:
    csp = r.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp or "script-src 'none'" in csp, url
    assert "unsafe-inline" not in csp, url
    assert "unsafe-eval" not in csp, url
    assert "frame-ancestors 'none'" in csp, url
    assert "<script>" not in r.text, url
    assert r.headers["x-content-type-options"] == "nosniff", url
    assert r.headers["cache-control"] == "no-store", url


@pytest.mark.parametrize(
    ("user", "urls"),
    [
        (
            "alice",
            [
                "/app/",
                "/app/seniors/s-a",
                "/app/seniors/s-a/trends",
                "/app/seniors/s-a/care",
                "/app/seniors/s-a/messages",
                "/app/alerts/{s-a}",
                "/app/board",
                "/app/board/print",
            ],
        ),
        (
            "ada",
            [
                "/app/admin/accounts",
                "/app/admin/robots",
                "/app/admin/provision",
                "/app/admin/rollouts",
                "/app/orgs",
            ],
        ),
        ("rita", ["/app/research"]),
    ],
    ids=["care-and-board", "admin-and-orgs", "research"],
)
async def test_every_kind_of_page_carries_the_csp(
    browser: Browser, world: World, user: str, urls: list[str]
) -> None:
    await browser.login(user)
    for template in urls:
        url = template.replace("{s-a}", str(world.alerts["s-a"]))
        r = await browser.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith("text/html"), url
        _strict_csp(r, url)


async def test_error_pages_carry_the_csp(browser: Browser, world: World) -> None:
    await browser.login("alice")
    for url, code in [
        ("/app/seniors/s-b", 404),  # another caregiver's senior
        (f"/app/alerts/{world.alerts['s-b']}", 404),
        ("/app/admin/accounts", 403),
        ("/app/research", 403),
    ]:
        r = await browser.get(url)
        assert r.status_code == code, url
        _strict_csp(r, url)
