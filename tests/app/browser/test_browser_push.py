"""Web Push end to end in Debian's chromium: an emergency ingested through the server's real path
is pushed, encrypted, to a local push endpoint; the payload the server sent, decrypted with
http_ece, is delivered to the page's service worker through the DevTools protocol; the
notification is shown and, with the app's tab closed, a tap on it opens the alert's page."""

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Worker
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.service import AlertEngine
from cloud.app import push
from cloud.ingest.handler import ingest_message
from cloud.netpolicy import parse_networks
from cloud.store.models import CaregiverLink, Device, Senior
from protocol import events_topic
from tests.app.browser.pages import PHONE, _login, _open
from tests.app.test_push import BrowserKeys, PushService, _subscribe
from tests.cloud.api.conftest import World
from tests.cloud.helpers import NOW, emergency, wait_until


def _registration(page: Page, scope: str) -> tuple[Any, str, list[dict[str, Any]]]:
    """A DevTools session on `page`, the id of the service worker registered for `scope`, once its
    active version is `activated` (a push before that may be dropped on a loaded machine), and the
    list that collects the worker's version updates and error reports from then on."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    found: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: seen.extend(e["versions"]))
    cdp.on("ServiceWorker.workerErrorReported", lambda e: seen.append(e["errorMessage"]))
    cdp.send("ServiceWorker.enable")

    def activated() -> str | None:
        ids = {r["registrationId"] for r in found if r["scopeURL"] == scope and not r["isDeleted"]}
        ready = {
            v["registrationId"]
            for v in seen
            if v.get("registrationId") in ids and v.get("status") == "activated"
        }
        return next(iter(ready)) if len(ids) == 1 and ready else None

    for _ in range(2400):  # the registration and version events follow `enable` (60 s cap)
        if activated():
            break
        page.wait_for_timeout(25)
    registration_id = activated()
    assert registration_id, f"no activated worker for {scope}: {found} {seen}"
    return cdp, registration_id, seen


def _worker(page: Page, origin: str) -> Worker:
    """Playwright's handle on the app's service worker (it may attach after the registration)."""
    url = f"{origin}/app/sw.js"
    for _ in range(2400):  # 60 s cap
        running = [w for w in page.context.service_workers if w.url == url]
        if running:
            return running[0]
        page.wait_for_timeout(25)
    raise AssertionError(f"no service worker at {url}")


_WATCH = """() => {  // what the app's push handler asks of showNotification, and how it ends
    self.__shows = [];
    const show = self.registration.showNotification.bind(self.registration);
    self.registration.showNotification = (title, options) => {
        const call = {title: title, outcome: "pending"};
        self.__shows.push(call);
        const done = show(title, options);
        done.then(() => { call.outcome = "shown"; },
                  (err) => { call.outcome = `refused: ${err.name}: ${err.message}`; });
        return done;
    };
}"""

_SETTLED = """async () => {  // the handler's showNotification settled (60 s cap), then what shows
    for (let i = 0; i < 2400 && !self.__shows.some(c => c.outcome !== "pending"); i++) {
        await new Promise(r => setTimeout(r, 25));
    }
    const shown = await self.registration.getNotifications();
    return [self.__shows, shown.map(n => [n.title, n.body, n.tag, n.data.url])];
}"""


def _deliver(
    cdp: Any, worker: Worker, origin: str, registration_id: str, sent: dict[str, Any]
) -> tuple[list[list[str]], list[dict[str, str]]]:
    """Hands `sent` to the worker as a push, through DevTools, and returns the notifications
    shown once the app's push handler has shown its own, with the handler's showNotification
    calls and their outcomes. The worker's notifications are read once, after its call settled,
    not polled while it is pending: on a loaded machine chromium once dropped a notification
    that the handler showed (its promise resolved, permission granted) while getNotifications()
    was being polled every 25 ms, and a later notification stayed (CI, then 2 of ~80 runs here
    at load 5-10); read after the call settles it was there in every run since."""
    worker.evaluate(_WATCH)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": origin,
            "registrationId": registration_id,
            "data": json.dumps(sent, ensure_ascii=False),
        },
    )
    calls, shown = worker.evaluate(_SETTLED)
    return shown, calls


def test_the_servers_encrypted_push_shows_a_notification_whose_tap_opens_the_alert(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    # a third senior of alice's, with a robot; alice's phone is subscribed at a local push service
    with sessions() as s, s.begin():
        s.add(Senior(id="s-c", display_name="최영희", settings={}, created_at=NOW))
        s.flush()
        s.add(CaregiverLink(account_id=world.ids["alice"], senior_id="s-c", relation="son"))
        s.add(Device(id="dev-c", senior_id="s-c", first_seen=NOW, last_seen=NOW))
    service = PushService()
    keys = BrowserKeys()
    _subscribe(sessions, world.ids["alice"], keys, f"{service.base}/alice")
    notifier = push.PushNotifier(
        push.PushSender(
            sessions,
            tmp_path / "data",
            "mailto:ops@dolbom.example",
            allow=parse_networks(["127.0.0.0/8"]),
            lang="en",
        )
    )
    notifier.start()
    try:
        # the emergency through ingest, as the cloud's ingest worker runs it (on_alert → push)
        with sessions() as s, s.begin():
            outcome = ingest_message(
                s, events_topic("dev-c"), emergency("dev-c", 1), NOW, alerts=AlertEngine()
            )
        assert outcome.alert is not None
        assert outcome.alert.created
        notifier.notify(outcome.alert)
        wait_until(lambda: service.received or None, timeout_s=60, what="the push")
    finally:
        notifier.stop()
        service.close()
    alert_id = outcome.alert.alert_id
    [(path, headers, body)] = service.received
    assert path == "/alice"
    assert headers["content-encoding"] == "aes128gcm"
    sent = keys.decrypt(body)  # the server's payload, as the browser's push service hands it on
    assert sent["url"] == f"/app/alerts/{alert_id}"

    page = _open(chromium, base_url, PHONE, "en-US")
    context = page.context
    context.grant_permissions(["notifications"], origin=base_url)
    _login(page, "alice")
    cdp, registration_id, seen = _registration(page, f"{base_url}/app/")
    worker = _worker(page, base_url)
    shown, calls = _deliver(cdp, worker, base_url, registration_id, sent)
    assert calls == [{"title": "Emergency call — 최영희", "outcome": "shown"}], seen
    assert shown == [  # on failure: the worker's versions and errors
        ["Emergency call — 최영희", sent["body"], f"alert-{alert_id}", f"/app/alerts/{alert_id}"]
    ], (calls, seen)

    page.close()  # the app's tab is closed; the browser (its context) is still running
    assert context.pages == []
    # A tap on the notification: headless chromium has no DevTools command to click one, so the
    # worker's own `notificationclick` handler is run with the shown notification. Chromium lets
    # only a trusted (user) click open a window, so the handler's `clients.openWindow` is watched:
    # the URL it asks for is recorded, and the browser's refusal of an untrusted click is checked.
    tap = worker.evaluate(
        """async () => {
            const windows = await self.clients.matchAll({type: "window"});
            const [n] = await self.registration.getNotifications();
            const asked = [];
            const open = self.clients.openWindow.bind(self.clients);
            self.clients.openWindow = (url) => { asked.push(url); return open(url); };
            const e = new NotificationEvent("notificationclick", {notification: n});
            let done = null;
            e.waitUntil = (p) => { done = p; };
            self.dispatchEvent(e);
            let refused = "";
            try { await done; } catch (err) { refused = err.name; }
            const left = await self.registration.getNotifications();
            return {windows: windows.length, asked: asked, refused: refused, left: left.length};
        }"""
    )
    assert tap == {
        "windows": 0,  # no page of the app is open: the worker alone handles the tap
        "asked": [f"/app/alerts/{alert_id}"],
        "refused": "InvalidAccessError",
        "left": 0,
    }
    opened = context.new_page()  # what the browser does with the handler's URL: a new tab
    opened.goto(tap["asked"][0])
    opened.wait_for_selector("text=I'm on it (acknowledge)")
    assert "최영희" in opened.inner_text("main")
    assert opened.url == f"{base_url}/app/alerts/{alert_id}"
