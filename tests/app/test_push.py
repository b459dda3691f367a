"""Web Push: the VAPID key made once and kept, subscriptions (CSRF, validation, SSRF guard), and
an alert's notification encrypted for the browser (decrypted here with http_ece)."""

import base64
import http.server
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.service import AlertChange
from cloud.app import push
from cloud.netpolicy import parse_networks
from cloud.store.models import PushSubscription
from tests.app.conftest import Browser
from tests.cloud.api.conftest import World
from tests.cloud.helpers import NOW, wait_until


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class BrowserKeys:
    """What a browser's push subscription holds: an ECDH key pair and an auth secret."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        raw = self.private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.p256dh = b64(raw)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, str]:
        plain = http_ece.decrypt(
            body, private_key=self.private, auth_secret=self.auth, version="aes128gcm"
        )
        data: dict[str, str] = json.loads(plain)
        return data


class PushService:
    """A push service on 127.0.0.1 that records what it is sent and answers `status`."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                service.received.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def service() -> Iterator[PushService]:
    s = PushService()
    yield s
    s.close()


def test_the_vapid_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = push.public_key(push.vapid_key(tmp_path / "data"))
    path = tmp_path / "data" / push.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert push.public_key(push.vapid_key(tmp_path / "data")) == first
    assert len(base64.urlsafe_b64decode(first + "=")) == 65


async def test_push_key_needs_a_login(browser: Browser, world: World) -> None:
    assert (await browser.get("/app/push/key")).status_code == 401
    await browser.login("alice")
    r = await browser.get("/app/push/key")
    assert r.status_code == 200
    assert len(r.json()["public_key"]) == 87


async def test_subscribe_stores_the_browsers_subscription(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get("/app/")
    sub = BrowserKeys().subscription("https://93.184.216.34/push/abc")
    r = await browser.http.post(
        "/app/push/subscribe", json=sub, headers={"X-CSRF-Token": browser.csrf}
    )
    assert r.status_code == 201
    again = await browser.http.post(
        "/app/push/subscribe", json=sub, headers={"X-CSRF-Token": browser.csrf}
    )
    assert again.status_code == 201
    with sessions() as s:
        rows = s.scalars(select(PushSubscription)).all()
    assert [(r.account_id, r.endpoint) for r in rows] == [
        (world.ids["alice"], "https://93.184.216.34/push/abc")
    ]


@pytest.mark.parametrize(
    ("body", "csrf", "code"),
    [
        (BrowserKeys().subscription("https://93.184.216.34/p"), False, 403),
        (
            {"endpoint": "https://93.184.216.34/p", "keys": {"p256dh": "AAAA", "auth": "x"}},
            True,
            422,
        ),
        (BrowserKeys().subscription("https://10.0.0.1/p"), True, 422),  # a private address
        (BrowserKeys().subscription("http://93.184.216.34/p"), True, 422),  # not https
        (BrowserKeys().subscription("javascript:alert(1)"), True, 422),
        ({"endpoint": "https://93.184.216.34/" + "a" * 5000}, True, 422),
        ([[[[[]]]]], True, 422),
    ],
)
async def test_bad_subscriptions_are_refused(
    browser: Browser,
    world: World,
    sessions: sessionmaker[Session],
    body: Any,
    csrf: bool,
    code: int,
) -> None:
    await browser.login("alice")
    await browser.get("/app/")
    headers = {"X-CSRF-Token": browser.csrf if csrf else ""}
    r = await browser.http.post("/app/push/subscribe", json=body, headers=headers)
    assert r.status_code == code
    with sessions() as s:
        assert s.scalars(select(PushSubscription)).all() == []


def _subscribe(
    sessions: sessionmaker[Session], account_id: int, keys: BrowserKeys, endpoint: str
) -> None:
    sub = push.SubscriptionIn.model_validate(keys.subscription(endpoint))
    with sessions() as s, s.begin():
        push.save_subscription(s, account_id, sub, NOW)


def test_an_alert_is_pushed_encrypted_to_its_seniors_caregivers_only(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    alice, bob = BrowserKeys(), BrowserKeys()
    _subscribe(sessions, world.ids["alice"], alice, f"{service.base}/alice")
    _subscribe(sessions, world.ids["bob"], bob, f"{service.base}/bob")
    sender = push.PushSender(
        sessions,
        tmp_path / "data",
        "mailto:ops@dolbom.example",
        allow=parse_networks(["127.0.0.0/8"]),
        lang="en",
    )
    assert sender.send_alert(world.alerts["s-a"]) == 1
    [(path, headers, body)] = service.received
    assert path == "/alice"
    assert headers["content-encoding"] == "aes128gcm"
    vapid = push.public_key(push.vapid_key(tmp_path / "data"))
    assert headers["authorization"].startswith("vapid t=")
    assert f"k={vapid}" in headers["authorization"]
    payload = alice.decrypt(body)
    assert payload["title"] == "Emergency call — 김순자"
    assert payload["url"] == f"/app/alerts/{world.alerts['s-a']}"
    with pytest.raises(Exception):  # noqa: B017,PT011  (bob's key cannot read alice's push)
        bob.decrypt(body)


def test_a_subscription_the_push_service_says_is_gone_is_dropped(
    world: World, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    gone = PushService(status=410)
    try:
        _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{gone.base}/old")
        sender = push.PushSender(
            sessions, tmp_path, "mailto:ops@dolbom.example", allow=parse_networks(["127.0.0.1"])
        )
        assert sender.send_alert(world.alerts["s-a"]) == 0
    finally:
        gone.close()
    assert len(gone.received) == 1
    with sessions() as s:
        assert s.scalars(select(PushSubscription)).all() == []


def test_a_push_endpoint_on_a_private_address_is_never_posted_to(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{service.base}/x")
    sender = push.PushSender(sessions, tmp_path, "mailto:ops@dolbom.example")  # no allow-list
    assert sender.send_alert(world.alerts["s-a"]) == 0
    assert service.received == []


def test_the_notifier_pushes_newly_opened_alerts_only(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    keys = BrowserKeys()
    _subscribe(sessions, world.ids["alice"], keys, f"{service.base}/alice")
    sender = push.PushSender(
        sessions, tmp_path, "mailto:ops@dolbom.example", allow=parse_networks(["127.0.0.1"])
    )
    notifier = push.PushNotifier(sender)
    notifier.start()
    try:
        notifier.notify(AlertChange(alert_id=world.alerts["s-a"], created=False, repeat_count=2))
        notifier.notify(AlertChange(alert_id=world.alerts["s-a"], created=True, repeat_count=1))
        wait_until(lambda: service.received or None, what="the push")
    finally:
        notifier.stop()
    [(_, _, body)] = service.received
    assert keys.decrypt(body)["alert_id"] == str(world.alerts["s-a"])
