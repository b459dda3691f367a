"""Web Push as an escalation channel: a push contact's browsers are told once by the dispatcher
(on any node), only about seniors the account may see; gone, failing, private and broken
subscriptions are handled as the other channels' failures are. Decrypted with http_ece."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.alerts import scheduler
from cloud.alerts.dispatcher import WebhookDispatcher
from cloud.app import push
from cloud.netpolicy import parse_networks
from cloud.store.models import (
    Account,
    Alert,
    AlertTransition,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    EscalationPolicy,
    Organisation,
    OrganisationSenior,
    OrganisationStaff,
    PushSubscription,
    Role,
)
from tests.app.conftest import Browser
from tests.app.test_push import BrowserKeys, PushService, _subscribe
from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import PASSWORD, World, http, login
from tests.cloud.helpers import NOW

LOCAL = parse_networks(["127.0.0.0/8"])


@pytest.fixture
def service() -> Iterator[PushService]:
    s = PushService()
    yield s
    s.close()


def _sender(
    sessions: sessionmaker[Session], tmp_path: Path, *, local: bool = True
) -> push.PushSender:
    return push.PushSender(
        sessions, tmp_path / "data", "mailto:ops@dolbom.example", allow=LOCAL if local else ()
    )


def _dispatcher(sessions: sessionmaker[Session], sender: push.PushSender) -> WebhookDispatcher:
    return WebhookDispatcher(sessions, secret=None, clock=lambda: NOW, push=sender)


def _dispatch_once(sessions: sessionmaker[Session], sender: push.PushSender) -> None:
    """One dispatcher node takes what is due once, then stops."""
    node = _dispatcher(sessions, sender)
    node.run_once()
    node.stop()


def _push_contact(
    sessions: sessionmaker[Session], senior_id: str, username: str, language: str = "en"
) -> int:
    """A push contact (stored directly: the API's check is tested on its own) as tier 1."""
    with sessions() as s, s.begin():
        account_id = s.scalar(select(Account.id).where(Account.username == username))
        contact = Contact(
            senior_id=senior_id,
            name=username,
            relation="family",
            channel=Channel.PUSH,
            target=username,
            language=language,
            account_id=account_id,
        )
        s.add(contact)
        s.flush()
        s.add(
            EscalationPolicy(
                senior_id=senior_id,
                tiers={"tiers": [{"contact_ids": [contact.id], "timeout_s": 0.0}]},
                updated_at=NOW,
            )
        )
        return contact.id


def _escalate(sessions: sessionmaker[Session], alert_id: int) -> None:
    with sessions() as s, s.begin():
        alert = s.get_one(Alert, alert_id)
        assert scheduler.start(s, alert, NOW, ()) == 1


def _deliveries(sessions: sessionmaker[Session]) -> list[tuple[str, str, DeliveryStatus]]:
    with sessions() as s:
        return [(d.channel, d.target, d.status) for d in s.scalars(select(Delivery))]


def _last_error(sessions: sessionmaker[Session]) -> str:
    with sessions() as s:
        return s.scalars(select(Delivery.last_error)).one() or ""


def test_a_push_step_reaches_the_contacts_browsers_once_on_two_nodes(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    alice, bob = BrowserKeys(), BrowserKeys()
    _subscribe(sessions, world.ids["alice"], alice, f"{service.base}/alice")
    _subscribe(sessions, world.ids["bob"], bob, f"{service.base}/bob")
    _push_contact(sessions, "s-a", "alice")
    _escalate(sessions, world.alerts["s-a"])
    nodes = [_dispatcher(sessions, _sender(sessions, tmp_path)) for _ in range(2)]
    start = threading.Barrier(2)

    def run(node: WebhookDispatcher) -> None:
        start.wait()
        node.run_once()

    threads = [threading.Thread(target=run, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for n in nodes:
        n.stop()
    [(path, headers, body)] = service.received  # once, though two nodes dispatched
    assert path == "/alice"
    assert headers["content-encoding"] == "aes128gcm"
    payload = alice.decrypt(body)
    assert payload["title"] == "Emergency call — 김순자"
    assert payload["url"] == f"/app/alerts/{world.alerts['s-a']}"
    assert _deliveries(sessions) == [("push", "alice", DeliveryStatus.DELIVERED)]
    with sessions() as s:
        notes = {
            (t.channel, t.note)
            for t in s.scalars(
                select(AlertTransition).where(AlertTransition.alert_id == world.alerts["s-a"])
            )
        }
    assert ("push", "alice") in notes  # who was told by push
    assert ("escalation", "tier 0 attempt 0: alice (push)") in notes


def test_caregiver_b_never_gets_senior_a_push_even_if_named_as_a_contact(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    bob = BrowserKeys()
    _subscribe(sessions, world.ids["bob"], bob, f"{service.base}/bob")
    _push_contact(sessions, "s-a", "bob")  # slipped past the API's check (e.g. link removed)
    _escalate(sessions, world.alerts["s-a"])
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    assert service.received == []
    assert _deliveries(sessions) == [("push", "bob", DeliveryStatus.DEAD)]
    assert "may not see this senior" in _last_error(sessions)


def _staff_member(sessions: sessionmaker[Session], passwords: Passwords) -> int:
    """wendy: a care worker on the staff of the organisation of senior s-a (not linked to her)."""
    with sessions() as s, s.begin():
        worker = create_account(
            s, passwords, username="wendy", role=Role.CAREGIVER, password=PASSWORD, now=NOW
        )
        s.add(Organisation(id="org-1", name="돌봄센터", created_at=NOW))
        s.flush()
        s.add(OrganisationStaff(account_id=worker.id, organisation_id="org-1", added_at=NOW))
        s.add(OrganisationSenior(senior_id="s-a", organisation_id="org-1", assigned_at=NOW))
        return worker.id


def test_staff_of_the_seniors_organisation_can_be_told_by_push(
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    service: PushService,
    tmp_path: Path,
) -> None:
    worker_id = _staff_member(sessions, passwords)
    keys = BrowserKeys()
    _subscribe(sessions, worker_id, keys, f"{service.base}/wendy")
    _push_contact(sessions, "s-a", "wendy", language="ko")
    _escalate(sessions, world.alerts["s-a"])
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    [(path, _, body)] = service.received
    assert path == "/wendy"
    assert keys.decrypt(body)["title"] == "긴급 호출 — 김순자"  # in the contact's language
    assert _deliveries(sessions) == [("push", "wendy", DeliveryStatus.DELIVERED)]


def test_a_gone_subscription_is_dropped_and_the_delivery_ends(
    world: World, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    gone = PushService(status=410)
    try:
        _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{gone.base}/old")
        _push_contact(sessions, "s-a", "alice")
        _escalate(sessions, world.alerts["s-a"])
        _dispatch_once(sessions, _sender(sessions, tmp_path))
    finally:
        gone.close()
    assert len(gone.received) == 1
    assert _deliveries(sessions) == [("push", "alice", DeliveryStatus.DEAD)]
    with sessions() as s:
        assert s.scalars(select(PushSubscription)).all() == []


def test_a_push_service_error_is_retried_like_the_other_channels(
    world: World, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    failing = PushService(status=503)
    try:
        _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{failing.base}/a")
        _push_contact(sessions, "s-a", "alice")
        _escalate(sessions, world.alerts["s-a"])
        _dispatch_once(sessions, _sender(sessions, tmp_path))
    finally:
        failing.close()
    assert len(failing.received) == 1
    with sessions() as s:
        delivery = s.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.next_attempt_at > NOW
        assert "HTTP 503" in (delivery.last_error or "")
        assert len(s.scalars(select(PushSubscription)).all()) == 1  # kept for the retry


def test_a_subscription_on_a_private_address_is_never_posted_to(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{service.base}/alice")
    _push_contact(sessions, "s-a", "alice")
    _escalate(sessions, world.alerts["s-a"])
    _dispatch_once(sessions, _sender(sessions, tmp_path, local=False))  # no allow-list
    assert service.received == []
    assert _deliveries(sessions) == [("push", "alice", DeliveryStatus.DEAD)]
    assert "blocked" in _last_error(sessions)


def test_a_stored_subscription_with_broken_keys_fails_its_delivery_only(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    with sessions() as s, s.begin():
        s.add(
            PushSubscription(
                account_id=world.ids["alice"],
                endpoint=f"{service.base}/broken",
                p256dh="BAAA",  # not a P-256 point
                auth="AAAA",
                created_at=NOW,
            )
        )
    _push_contact(sessions, "s-a", "alice")
    _escalate(sessions, world.alerts["s-a"])
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    assert service.received == []
    assert _deliveries(sessions) == [("push", "alice", DeliveryStatus.DEAD)]
    assert "unusable keys" in _last_error(sessions)


def test_a_push_contact_is_not_pushed_twice_for_a_new_alert(
    world: World, sessions: sessionmaker[Session], service: PushService, tmp_path: Path
) -> None:
    _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{service.base}/alice")
    _push_contact(sessions, "s-a", "alice")
    # The new-alert push (PushNotifier) leaves a push contact to the escalation.
    assert _sender(sessions, tmp_path).send_alert(world.alerts["s-a"]) == 0
    assert service.received == []


def test_without_web_push_a_push_delivery_ends_with_the_reason(
    world: World, sessions: sessionmaker[Session]
) -> None:
    _push_contact(sessions, "s-a", "alice")
    _escalate(sessions, world.alerts["s-a"])
    node = WebhookDispatcher(sessions, secret=None, clock=lambda: NOW)
    node.run_once()
    node.stop()
    assert _deliveries(sessions) == [("push", "alice", DeliveryStatus.DEAD)]
    assert _last_error(sessions) == "Web Push is not configured"


async def test_the_api_takes_a_push_contact_only_for_an_account_that_sees_the_senior(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    async with http(app) as client:
        ada = await login(client, "ada")
        base = "/seniors/s-a/contacts"
        contact = {"name": "딸", "relation": "daughter", "channel": "push", "target": "alice"}
        r = await client.post(base, json=contact, headers=ada)
        assert r.status_code == 201, r.text
        url = f"{base}/{r.json()['id']}"
        for target in ("bob", "nobody", "rita"):  # another senior's, unknown, no access
            r = await client.post(base, json=contact | {"target": target}, headers=ada)
            assert r.status_code == 422
            assert english(r.json()["detail"]).startswith("body.target: a push contact needs")
        r = await client.put(url, json=contact | {"target": "bob"}, headers=ada)
        assert r.status_code == 422
    with sessions() as s:
        rows = s.scalars(select(Contact).where(Contact.channel == Channel.PUSH)).all()
    assert [(c.target, c.account_id) for c in rows] == [("alice", world.ids["alice"])]


async def test_the_alert_page_shows_who_was_told_by_push(
    browser: Browser,
    world: World,
    sessions: sessionmaker[Session],
    service: PushService,
    tmp_path: Path,
) -> None:
    _subscribe(sessions, world.ids["alice"], BrowserKeys(), f"{service.base}/alice")
    _push_contact(sessions, "s-a", "alice")
    _escalate(sessions, world.alerts["s-a"])
    _dispatch_once(sessions, _sender(sessions, tmp_path))
    await browser.login("alice")
    page = await browser.get(
        f"/app/alerts/{world.alerts['s-a']}", headers={"Accept-Language": "en"}
    )
    assert page.status_code == 200
    assert "phone notification (alice) · delivered" in page.text


async def test_a_care_worker_subscribes_and_is_a_push_contact_of_her_organisations_seniors_only(
    app: FastAPI,
    browser: Browser,
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
) -> None:
    worker_id = _staff_member(sessions, passwords)
    await browser.login("wendy")
    await browser.get("/app/")
    sub = BrowserKeys().subscription("https://93.184.216.34/push/wendy")
    r = await browser.http.post(
        "/app/push/subscribe", json=sub, headers={"X-CSRF-Token": browser.csrf}
    )
    assert r.status_code == 201
    with sessions() as s:
        assert s.scalars(select(PushSubscription.account_id)).all() == [worker_id]
    async with http(app) as client:
        ada = await login(client, "ada")
        contact = {"name": "복지사", "relation": "worker", "channel": "push", "target": "wendy"}
        assert (
            await client.post("/seniors/s-a/contacts", json=contact, headers=ada)
        ).status_code == 201
        r = await client.post("/seniors/s-b/contacts", json=contact, headers=ada)
        assert r.status_code == 422  # s-b is not her organisation's
