"""Denials are audited and bounded (item 11), the escalation policy is an admin's or a primary
caregiver's (item 14), a robot moved to another senior brings no history (item 13), and no
request body makes a 500 (item 15)."""

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import AuditLog
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import HeartbeatPayload
from tests.cloud.api.conftest import SERVICE, Clock, World, add_event, login
from tests.cloud.helpers import heartbeat

BEAT = HeartbeatPayload(uptime_s=1.0, agent_version="0.1.0", outbox_pending=0, self_tests=[])


def audit_rows(sessions: sessionmaker[Session], action: str) -> list[AuditLog]:
    with sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


async def test_denials_and_failed_logins_are_audited_once_per_source_and_minute(
    client: httpx.AsyncClient, world: World, clock: Clock, sessions: sessionmaker[Session]
) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    for _ in range(50):
        assert (await client.get("/seniors", headers=bad)).status_code == 401
    bob = await login(client, "bob")
    for _ in range(3):
        assert (await client.get("/seniors/s-a", headers=bob)).status_code == 404
    rita = await login(client, "rita")
    assert (await client.get("/seniors", headers=rita)).status_code == 403
    for _ in range(3):
        r = await client.post("/auth/login", json={"username": "ada", "password": "nope-nope-1"})
        assert r.status_code == 401
    rows = audit_rows(sessions, "denied")
    got = sorted((r.resource, r.actor, r.resource_id) for r in rows)
    assert got == [
        ("http_401", "anonymous", "127.0.0.1"),
        ("http_403", "researcher:rita", "127.0.0.1"),
        ("http_404", "caregiver:bob", "127.0.0.1"),
        ("login_failed", "anonymous", "127.0.0.1"),
    ]
    by_kind = {r.resource: r.detail for r in rows}
    assert by_kind["http_404"] == "GET /seniors/s-a"
    assert by_kind["login_failed"] == "username 'ada' from 127.0.0.1"
    # The next minute, a denial is written again.
    clock.advance(60)
    assert (await client.get("/seniors", headers=bad)).status_code == 401
    assert len(audit_rows(sessions, "denied")) == 5


async def test_an_unknown_path_is_not_audited(
    client: httpx.AsyncClient, world: World, sessions: sessionmaker[Session]
) -> None:
    assert (await client.get("/no/such/path")).status_code == 404
    assert audit_rows(sessions, "denied") == []


async def test_stream_subscriptions_are_audited(
    client: httpx.AsyncClient, world: World, sessions: sessionmaker[Session], app: object
) -> None:
    alice = await login(client, "alice")
    app.state.ctx.shutdown.set()  # type: ignore[attr-defined]  # the stream ends at once
    r = await client.get("/alerts/stream", headers=alice)
    assert r.status_code == 200
    [row] = audit_rows(sessions, "subscribe")
    assert (row.actor, row.resource, row.resource_id) == (
        "caregiver:alice",
        "alert_stream",
        "127.0.0.1",
    )


async def test_only_an_admin_or_a_primary_caregiver_changes_the_escalation_policy(
    client: httpx.AsyncClient, world: World, sessions: sessionmaker[Session]
) -> None:
    ada = await login(client, "ada")
    contact = {"name": "아들", "relation": "son", "channel": "sse", "target": "alice"}
    cid = (await client.post("/seniors/s-a/contacts", json=contact, headers=ada)).json()["id"]
    policy = {"tiers": [{"contact_ids": [cid], "timeout_s": 60}]}
    alice = await login(client, "alice")
    r = await client.put("/seniors/s-a/escalation-policy", json=policy, headers=alice)
    assert r.status_code == 403
    assert "primary caregiver" in r.json()["detail"]
    assert "주 보호자" in r.json()["detail"]
    link = {"relation": "son", "is_primary": True}
    r = await client.put(f"/seniors/s-a/caregivers/{world.ids['alice']}", json=link, headers=ada)
    assert (r.status_code, r.json()["is_primary"]) == (200, True)
    r = await client.put("/seniors/s-a/escalation-policy", json=policy, headers=alice)
    assert r.status_code == 200
    assert (await client.put("/seniors/s-a/escalation-policy", json=policy, headers=ada)).is_success
    updates = [r for r in audit_rows(sessions, "update") if r.resource == "escalation_policy"]
    assert [r.actor for r in updates] == ["caregiver:alice", "admin:ada"]
    assert updates[0].detail == f"tier 0: contacts [{cid}] after 60 s"
    # A caregiver cannot make themselves primary: linking is an admin's.
    r = await client.put(f"/seniors/s-a/caregivers/{world.ids['alice']}", json=link, headers=alice)
    assert r.status_code == 403


async def test_a_moved_robot_brings_no_history_to_its_new_senior(
    client: httpx.AsyncClient, world: World, clock: Clock, sessions: sessionmaker[Session]
) -> None:
    for seq in range(2, 12):  # dev-b's history with senior s-b
        add_event(sessions, events_topic("dev-b"), heartbeat("dev-b", seq))
    clock.advance(3600)
    ian = await login(client, "ian")
    r = await client.post("/devices", json={"id": "dev-b", "senior_id": "s-a"}, headers=ian)
    assert r.status_code == 201
    # Events the robot reports after the move (its clock an hour later) are s-a's.
    later = clock.now + timedelta(seconds=5)
    for seq in range(12, 15):
        raw = encode(make_envelope("dev-b", seq, BEAT, event_type=EventType.HEARTBEAT, ts=later))
        add_event(sessions, events_topic("dev-b"), raw)
    ada = await login(client, "ada")
    mine = (await client.get("/seniors/s-a/events", headers=ada)).json()
    dev_b = [e for e in mine["items"] if e["device_id"] == "dev-b"]
    assert sorted(e["seq"] for e in dev_b) == [12, 13, 14]
    theirs = (await client.get("/seniors/s-b/events", headers=ada)).json()
    assert sorted(e["seq"] for e in theirs["items"]) == list(range(1, 12))
    # Moving it back: s-b sees its old history and the new period, never s-a's.
    clock.advance(3600)
    r = await client.post("/devices", json={"id": "dev-b", "senior_id": "s-b"}, headers=SERVICE)
    assert r.status_code == 201
    theirs = (await client.get("/seniors/s-b/events", headers=SERVICE)).json()
    assert sorted(e["seq"] for e in theirs["items"]) == list(range(1, 12))


async def test_deeply_nested_json_is_a_client_error(
    client: httpx.AsyncClient, world: World
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    obj = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    for body in (deep, obj):
        r = await client.post(
            "/auth/login", content=body, headers={"Content-Type": "application/json"}
        )
        assert 400 <= r.status_code < 500, r.text
        r = await client.post(
            "/accounts", content=body, headers={"Content-Type": "application/json", **SERVICE}
        )
        assert 400 <= r.status_code < 500, r.text
        r = await client.put(
            "/seniors/s-a/escalation-policy",
            content=body,
            headers={"Content-Type": "application/json", **SERVICE},
        )
        assert 400 <= r.status_code < 500, r.text
