"""Caregiver A never sees senior B, checked in Debian's chromium with A's own session: B's pages,
alert, trends, care settings, messages, the board, its CSV and printed report, the live alert
stream, and B's alert pushed by the server (it reaches only B's caregiver's push endpoint)."""

import csv
import io
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.service import AlertChange
from cloud.app import push
from cloud.netpolicy import parse_networks
from tests.app.browser.pages import PHONE, _login, _open
from tests.app.test_push import BrowserKeys, PushService, _subscribe
from tests.cloud.api.conftest import PASSWORD, World
from tests.cloud.helpers import wait_until

_FETCH = """async (url) => {
    const r = await fetch(url, {credentials: "same-origin"});
    return [r.status, await r.text()];
}"""


def test_caregiver_a_never_sees_senior_b_in_the_browser(
    chromium: Browser,
    base_url: str,
    world: World,
) -> None:
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "alice")
    b_alert = world.alerts["s-b"]
    for url in [
        "/app/seniors/s-b",
        f"/app/alerts/{b_alert}",
        "/app/seniors/s-b/trends",
        "/app/seniors/s-b/care",
        "/app/seniors/s-b/messages",
    ]:
        response = page.goto(url)
        assert response is not None
        assert response.status == 404, url
        assert "박말순" not in page.content(), url
    for url in ["/app/", "/app/board", "/app/board/print", "/app/board?worker=bob"]:
        page.goto(url)
        assert "박말순" not in page.content(), url
    page.goto("/app/board")
    assert "김순자" in page.inner_text("#board-rows")
    status, text = page.evaluate(_FETCH, "/app/board.csv")  # the export, with A's cookie
    assert status == 200
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [row["senior_id"] for row in table] == ["s-a"]
    assert "박말순" not in text


def test_the_live_stream_in_as_browser_carries_only_as_alerts(
    chromium: Browser,
    base_url: str,
    world: World,
) -> None:
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "alice")
    page.evaluate(
        """() => new Promise((ok) => {
            window.seen = [];
            const source = new EventSource("/alerts/stream");
            source.addEventListener("alert", (e) => {
                const a = JSON.parse(e.data);
                window.seen.push([a.id, a.status]);
            });
            source.onopen = () => ok(true);
        })"""
    )
    a_alert, b_alert = world.alerts["s-a"], world.alerts["s-b"]
    with httpx.Client(base_url=base_url) as api:

        def act(username: str, alert_id: int, verb: str) -> None:
            token = api.post("/auth/login", json={"username": username, "password": PASSWORD})
            r = api.post(
                f"/alerts/{alert_id}/{verb}",
                json={"note": "visited"} if verb == "resolve" else None,
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert r.status_code == 200, r.text

        act("bob", b_alert, "ack")  # B's alert changes first ...
        act("ada", a_alert, "ack")  # ... then A's, twice: the last one arrives after any of B's
        page.wait_for_function("(id) => window.seen.some(s => s[0] === id)", arg=a_alert)
        act("ada", a_alert, "resolve")
        page.wait_for_function(
            "(id) => window.seen.some(s => s[0] === id && s[1] === 'resolved')", arg=a_alert
        )
    seen: list[list[Any]] = page.evaluate("window.seen")
    assert {s[0] for s in seen} == {a_alert}
    assert page.problems == []  # type: ignore[attr-defined]


def test_bs_alert_push_never_reaches_as_endpoint(
    world: World,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    service = PushService()
    alice, bob = BrowserKeys(), BrowserKeys()
    _subscribe(sessions, world.ids["alice"], alice, f"{service.base}/alice")
    _subscribe(sessions, world.ids["bob"], bob, f"{service.base}/bob")
    notifier = push.PushNotifier(
        push.PushSender(
            sessions,
            tmp_path / "data",
            "mailto:ops@dolbom.example",
            allow=parse_networks(["127.0.0.0/8"]),
        )
    )
    notifier.start()
    try:
        notifier.notify(AlertChange(alert_id=world.alerts["s-b"], created=True, repeat_count=1))
        notifier.notify(AlertChange(alert_id=world.alerts["s-a"], created=True, repeat_count=1))
        wait_until(lambda: len(service.received) >= 2 or None, timeout_s=60, what="both pushes")
    finally:
        notifier.stop()
        service.close()
    by_path = {path: body for path, _, body in service.received}
    assert sorted(by_path) == ["/alice", "/bob"]  # one push each: A's alert to A, B's to B
    assert alice.decrypt(by_path["/alice"])["alert_id"] == str(world.alerts["s-a"])
    assert bob.decrypt(by_path["/bob"])["alert_id"] == str(world.alerts["s-b"])
    assert len(service.received) == 2
