"""Webhook URLs are not an SSRF (issue 14 item 12): private, loopback, link-local, metadata
and reserved targets are refused at registration and again before every delivery (DNS can
change in between), unless an admin allow-lists them; no response body reaches the API."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.alerts.dispatcher import WebhookDispatcher
from cloud.api import create_app
from cloud.netpolicy import Resolver, webhook_url_check
from cloud.store.models import Delivery, DeliveryStatus
from tests.cloud.api.conftest import SERVICE, Clock, FakePublisher, World, http, settings
from tests.cloud.helpers import WebhookReceiver

PUBLIC = "93.184.215.14"  # a globally routable address (never contacted by these tests)


class FlipResolver:
    """Answers `first` until `flip()`, then `then`: a rebinding DNS server."""

    def __init__(self, first: str, then: str) -> None:
        self.answer, self._then = first, then

    def flip(self) -> None:
        self.answer = self._then

    def __call__(self, host: str, port: int) -> list[str]:
        return [self.answer] if host == "hooks.example.org" else []


def make_app(
    sessions: sessionmaker[Session],
    clock: Clock,
    passwords: Passwords,
    resolve: Resolver | None = None,
    **overrides: object,
) -> FastAPI:
    app = create_app(
        settings(**overrides),
        session_factory=sessions,
        publisher=FakePublisher(),
        clock=clock,
        passwords=passwords,
    )
    if resolve is not None:
        app.state.ctx.resolve = resolve
    return app


def contact(target: str) -> dict[str, str]:
    return {"name": "아들", "relation": "son", "channel": "webhook", "target": target}


@pytest.fixture
def failing_receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(always_fail=True)
    yield r
    r.close()


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://hooks.example.org/hook",  # resolves to a private address
    ],
)
async def test_internal_targets_are_refused_at_registration(
    sessions: sessionmaker[Session],
    world: World,
    clock: Clock,
    passwords: Passwords,
    target: str,
) -> None:
    app = make_app(sessions, clock, passwords, FlipResolver("10.0.0.7", "10.0.0.7"))
    async with http(app) as client:
        r = await client.post("/seniors/s-a/contacts", json=contact(target), headers=SERVICE)
    assert r.status_code == 422, r.text
    assert "DOLBOM_WEBHOOK_ALLOW_NETWORKS" in r.json()["detail"]
    assert "내부 주소" in r.json()["detail"]


async def test_public_targets_and_allow_listed_networks_are_accepted(
    sessions: sessionmaker[Session], world: World, clock: Clock, passwords: Passwords
) -> None:
    app = make_app(
        sessions,
        clock,
        passwords,
        FlipResolver(PUBLIC, PUBLIC),
        webhook_allow_networks="127.0.0.0/8, 10.20.0.0/16",
    )
    async with http(app) as client:
        for target in (
            f"https://{PUBLIC}/hook",
            "https://hooks.example.org/hook",
            "http://127.0.0.1:9000/hook",
            "http://10.20.3.4/hook",
        ):
            r = await client.post("/seniors/s-a/contacts", json=contact(target), headers=SERVICE)
            assert r.status_code == 201, (target, r.text)
        r = await client.post(
            "/seniors/s-a/contacts", json=contact("http://10.21.0.1/"), headers=SERVICE
        )
        assert r.status_code == 422


def add_delivery(sessions: sessionmaker[Session], alert_id: int, target: str, clock: Clock) -> int:
    with sessions() as s, s.begin():
        d = Delivery(
            alert_id=alert_id,
            channel="webhook",
            target=target,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=clock.now,
            created_at=clock.now,
        )
        s.add(d)
        s.flush()
        return d.id


def test_delivery_rechecks_the_address_dns_rebinding_included(
    sessions: sessionmaker[Session], world: World, clock: Clock, receiver: WebhookReceiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    rebinding = FlipResolver(PUBLIC, "127.0.0.1")
    # Registered while hooks.example.org pointed at a public address; now it points inside.
    rebinding.flip()
    add_delivery(sessions, world.alerts["s-a"], f"http://hooks.example.org:{port}/hook", clock)
    add_delivery(sessions, world.alerts["s-a"], receiver.url, clock)
    dispatcher = WebhookDispatcher(
        sessions, secret=None, clock=clock, url_check=webhook_url_check([], rebinding)
    )
    try:
        assert dispatcher.run_once() == 2
    finally:
        dispatcher.stop()
    assert receiver.attempts == 0
    with sessions() as s:
        errors = list(s.scalars(select(Delivery.last_error)))
    assert errors == ["blocked: the target address is not allowed"] * 2
    # Allow-listed by the admin: delivered.
    add_delivery(sessions, world.alerts["s-b"], receiver.url, clock)
    allowed = WebhookDispatcher(
        sessions, secret=None, clock=clock, url_check=webhook_url_check(["127.0.0.0/8"])
    )
    try:
        allowed.run_once()
    finally:
        allowed.stop()
    assert len(receiver.received) == 1


async def test_a_receivers_response_body_never_reaches_the_api(
    sessions: sessionmaker[Session],
    world: World,
    clock: Clock,
    client: httpx.AsyncClient,
    failing_receiver: WebhookReceiver,
) -> None:
    add_delivery(sessions, world.alerts["s-a"], failing_receiver.url, clock)
    dispatcher = WebhookDispatcher(
        sessions, secret=None, clock=clock, url_check=webhook_url_check(["127.0.0.1/32"])
    )
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    assert failing_receiver.attempts == 1
    with sessions() as s:
        assert s.scalars(select(Delivery.last_error)).one() == "HTTP 500"
    r = await client.get(f"/alerts/{world.alerts['s-a']}", headers=SERVICE)
    assert "receiver down" not in r.text
    assert [d["last_error"] for d in r.json()["deliveries"]] == ["HTTP 500"]
