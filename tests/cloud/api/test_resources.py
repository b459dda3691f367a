"""Each resource: audit rows for reads and changes, validation errors, schedule commands."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import AuditLog
from protocol import CommandType, events_topic
from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import FakePublisher, World, add_event, login
from tests.cloud.helpers import heartbeat


def audit_rows(
    sessions: sessionmaker[Session],
) -> list[tuple[str, str, str, str | None, str | None]]:
    with sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action != "login").order_by(AuditLog.id))
        return [(r.actor, r.action, r.resource, r.resource_id, r.senior_id) for r in rows]


async def test_reads_and_changes_are_audited(client: httpx.AsyncClient, world: World) -> None:
    alice = await login(client, "alice")
    alert = world.alerts["s-a"]
    await client.get("/seniors/s-a", headers=alice)
    await client.get("/alerts", headers=alice)
    await client.get(f"/alerts/{alert}", headers=alice)
    await client.post(f"/alerts/{alert}/ack", headers=alice)
    c = await client.post(
        "/seniors/s-a/contacts",
        json={"name": "딸", "relation": "daughter", "channel": "email", "target": "d@example.com"},
        headers=alice,
    )
    await client.get("/seniors/s-a/events", headers=alice)
    who = "caregiver:alice"
    assert audit_rows(world.sessions) == [
        (who, "read", "senior", "s-a", "s-a"),
        (who, "read", "alert", None, "s-a"),
        (who, "read", "alert", str(alert), "s-a"),
        (who, "ack", "alert", str(alert), "s-a"),
        (who, "create", "contact", str(c.json()["id"]), "s-a"),
        (who, "read", "event", None, "s-a"),
    ]


async def test_contacts_crud_and_validation(client: httpx.AsyncClient, world: World) -> None:
    alice = await login(client, "alice")
    base = "/seniors/s-a/contacts"
    good = {"name": "아들", "relation": "son", "channel": "webhook", "target": "https://x.test/h"}
    for bad, detail in [
        (good | {"target": "ftp://x"}, "body.target: a webhook contact needs an http(s) URL"),
        (
            good | {"channel": "email", "target": "nope"},
            "body.target: an email contact needs an e-mail address",
        ),
        (good | {"channel": "pigeon"}, "body.channel"),
        (good | {"name": ""}, "body.name"),
        (good | {"extra": 1}, "body.extra"),
    ]:
        r = await client.post(base, json=bad, headers=alice)
        assert r.status_code == 422, bad
        assert english(r.json()["detail"]).startswith(detail)
    created = (await client.post(base, json=good, headers=alice)).json()
    url = f"{base}/{created['id']}"
    r = await client.put(url, json=good | {"name": "큰아들"}, headers=alice)
    assert r.json()["name"] == "큰아들"
    assert [c["name"] for c in (await client.get(base, headers=alice)).json()] == ["큰아들"]
    assert (await client.delete(url, headers=alice)).status_code == 204
    assert (await client.get(url, headers=alice)).status_code == 404


async def test_escalation_policy_is_validated(client: httpx.AsyncClient, world: World) -> None:
    ada = await login(client, "ada")
    contact = {"name": "n", "relation": "r", "channel": "sse", "target": "alice"}
    mine = (await client.post("/seniors/s-a/contacts", json=contact, headers=ada)).json()["id"]
    theirs = (await client.post("/seniors/s-b/contacts", json=contact, headers=ada)).json()["id"]
    url = "/seniors/s-a/escalation-policy"
    assert (await client.get(url, headers=ada)).status_code == 404
    for body, detail in [
        ({"tiers": []}, "body.tiers: List should have at least 1 item"),
        ({"tiers": [{"contact_ids": [], "timeout_s": 60}]}, "body.tiers.0.contact_ids"),
        ({"tiers": [{"contact_ids": [mine], "timeout_s": 0}]}, "body.tiers.0.timeout_s"),
        (
            {
                "tiers": [
                    {"contact_ids": [mine], "timeout_s": 60},
                    {"contact_ids": [theirs], "timeout_s": 60},
                ]
            },
            f"body.tiers.1.contact_ids: {theirs} is not one of this senior's contacts",
        ),
        (
            {"tiers": [{"contact_ids": [mine, mine], "timeout_s": 60}]},
            "body.tiers.0.contact_ids: duplicates",
        ),
    ]:
        r = await client.put(url, json=body, headers=ada)
        assert r.status_code == 422, body
        assert english(r.json()["detail"]).startswith(detail), r.json()
    good = {"tiers": [{"contact_ids": [mine], "timeout_s": 120, "renotify_s": 60}]}
    r = await client.put(url, json=good, headers=ada)
    assert r.status_code == 200
    assert (await client.get(url, headers=ada)).json()["tiers"] == good["tiers"]
    r = await client.delete(f"/seniors/s-a/contacts/{mine}", headers=ada)
    assert r.status_code == 409


async def test_seniors_crud_and_validation(client: httpx.AsyncClient, world: World) -> None:
    ada = await login(client, "ada")
    for body, detail in [
        ({"id": "s c", "display_name": "x"}, "body.id"),
        (
            {"id": "s-c", "display_name": "x", "quiet_hours_start": "25:00"},
            "body.quiet_hours_start",
        ),
        ({"id": "s-c", "display_name": "x", "inactivity_hours": 0}, "body.inactivity_hours"),
    ]:
        r = await client.post("/seniors", json=body, headers=ada)
        assert (r.status_code, r.json()["detail"].split(":")[0]) == (422, detail)
    r = await client.post("/seniors", json={"id": "s-c", "display_name": "이영자"}, headers=ada)
    assert r.status_code == 201
    assert (
        await client.post("/seniors", json={"id": "s-c", "display_name": "x"}, headers=ada)
    ).status_code == 409
    r = await client.patch("/seniors/s-c", json={"quiet_hours_start": "22:00"}, headers=ada)
    assert r.json()["quiet_hours_start"] == "22:00"
    assert (await client.delete("/seniors/s-a", headers=ada)).status_code == 409  # has a robot
    assert (await client.delete("/seniors/s-c", headers=ada)).status_code == 204


async def test_a_reminder_change_sends_the_schedule_to_the_robots(
    client: httpx.AsyncClient, world: World, publisher: FakePublisher
) -> None:
    alice = await login(client, "alice")
    base = "/seniors/s-a/reminders"
    body = {"kind": "medicine", "label": "혈압약", "times": ["20:00", "08:00"], "days": [0, 1, 2]}
    r = await client.post(base, json=body, headers=alice)
    assert r.status_code == 201, r.text
    assert (r.json()["devices"], r.json()["commands_published"]) == (1, 1)
    reminder = r.json()["reminder"]
    assert reminder["times"] == ["08:00", "20:00"]
    [(device, command)] = publisher.sent
    assert (device, command.type) == ("dev-a", CommandType.SCHEDULE)
    assert command.payload == {
        "timezone": "Asia/Seoul",
        "reminders": [
            {
                "id": reminder["id"],
                "kind": "medicine",
                "label": "혈압약",
                "times": ["08:00", "20:00"],
                "days": [0, 1, 2],
            }
        ],
    }
    await client.put(f"{base}/{reminder['id']}", json=body | {"active": False}, headers=alice)
    assert publisher.sent[-1][1].payload["reminders"] == []
    r = await client.delete(f"{base}/{reminder['id']}", headers=alice)
    assert r.json()["commands_published"] == 1
    assert len(publisher.sent) == 3


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"times": ["8:00"]}, "body.times.0"),
        ({"times": ["24:00"]}, "body.times.0"),
        ({"times": []}, "body.times"),
        ({"times": ["08:00", "08:00"]}, "body.times: duplicates are not allowed"),
        ({"days": [7]}, "body.days.0"),
        ({"kind": "party"}, "body.kind"),
        ({"label": " "}, "body.label"),
    ],
)
async def test_reminder_validation(
    client: httpx.AsyncClient,
    world: World,
    publisher: FakePublisher,
    change: dict[str, object],
    detail: str,
) -> None:
    alice = await login(client, "alice")
    body = {"kind": "meal", "label": "점심", "times": ["12:00"]} | change
    r = await client.post("/seniors/s-a/reminders", json=body, headers=alice)
    assert r.status_code == 422
    assert english(r.json()["detail"]).startswith(detail), r.json()
    assert publisher.sent == []


async def test_device_health_and_the_events_timeline(
    client: httpx.AsyncClient, world: World, sessions: sessionmaker[Session]
) -> None:
    add_event(sessions, events_topic("dev-a"), heartbeat("dev-a", 2))
    alice = await login(client, "alice")
    health = (await client.get("/devices/dev-a", headers=alice)).json()
    assert (health["online"], health["outbox_pending"], health["agent_version"]) == (
        True,
        0,
        "0.1.0",
    )
    assert health["self_tests"] == [
        {"name": "mic", "ok": True, "detail": ""},
        {"name": "imu", "ok": False, "detail": ""},
    ]
    timeline = (await client.get("/seniors/s-a/events", headers=alice)).json()
    assert [(e["seq"], e["type"]) for e in timeline["items"]] == [
        (2, "heartbeat"),
        (1, "emergency"),
    ]
    only = await client.get(
        "/seniors/s-a/events", params={"type": "emergency", "limit": 1}, headers=alice
    )
    assert [e["seq"] for e in only.json()["items"]] == [1]
    bad = await client.get("/seniors/s-a/events", params={"type": "gossip"}, headers=alice)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("query.type")
