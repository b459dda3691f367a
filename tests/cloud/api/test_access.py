"""Who sees what: caregivers only their seniors (404 otherwise), researchers no identities."""

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import Alert, AlertStatus
from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import FakePublisher, World, login

# Every way a caregiver could reach senior s-b's data (bob's), with what alice must get.
OTHERS = [
    ("GET", "/seniors/s-b", None),
    ("GET", "/seniors/s-b/caregivers", None),
    ("GET", "/seniors/s-b/contacts", None),
    (
        "POST",
        "/seniors/s-b/contacts",
        {"name": "x", "relation": "x", "channel": "sse", "target": "x"},
    ),
    ("GET", "/seniors/s-b/escalation-policy", None),
    ("PUT", "/seniors/s-b/escalation-policy", {"tiers": [{"contact_ids": [1], "timeout_s": 60}]}),
    ("GET", "/seniors/s-b/reminders", None),
    ("POST", "/seniors/s-b/reminders", {"kind": "meal", "label": "x", "times": ["08:00"]}),
    ("GET", "/seniors/s-b/events", None),
    ("GET", "/devices/dev-b", None),
]


async def test_caregiver_lists_only_their_seniors(client: httpx.AsyncClient, world: World) -> None:
    alice = await login(client, "alice")
    seniors = (await client.get("/seniors", headers=alice)).json()
    assert [s["id"] for s in seniors["items"]] == ["s-a"]
    devices = (await client.get("/devices", headers=alice)).json()
    assert [d["id"] for d in devices["items"]] == ["dev-a"]
    alerts = (await client.get("/alerts", headers=alice)).json()
    assert [a["id"] for a in alerts["items"]] == [world.alerts["s-a"]]
    assert alerts["items"][0]["senior_id"] == "s-a"


@pytest.mark.parametrize(
    "params",
    [{"device_id": "dev-b"}, {"senior_id": "s-b"}, {"status": "open", "device_id": "dev-b"}],
)
async def test_filters_for_another_senior_return_nothing(
    client: httpx.AsyncClient, world: World, params: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    r = await client.get("/alerts", params=params, headers=alice)
    assert r.status_code == 200
    assert (r.json()["items"], r.json()["total"]) == ([], 0)
    r = await client.get("/devices", params={"senior_id": "s-b"}, headers=alice)
    assert r.json()["items"] == []


async def test_another_seniors_alert_is_404_to_read_ack_or_resolve(
    client: httpx.AsyncClient,
    world: World,
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
) -> None:
    alice = await login(client, "alice")
    theirs = world.alerts["s-b"]
    missing = 999
    for alert_id in (theirs, missing):
        expected = f"no alert with id {alert_id}"
        r = await client.get(f"/alerts/{alert_id}", headers=alice)
        assert (r.status_code, english(r.json()["detail"])) == (404, expected)
        r = await client.post(f"/alerts/{alert_id}/ack", json={}, headers=alice)
        assert (r.status_code, english(r.json()["detail"])) == (404, expected)
        r = await client.post(f"/alerts/{alert_id}/resolve", json={"note": "x"}, headers=alice)
        assert (r.status_code, english(r.json()["detail"])) == (404, expected)
    with sessions() as s:
        assert s.get_one(Alert, theirs).status is AlertStatus.OPEN
    assert publisher.sent == []


@pytest.mark.parametrize(("method", "path", "body"), OTHERS)
async def test_another_seniors_resources_are_404(
    client: httpx.AsyncClient, world: World, method: str, path: str, body: object
) -> None:
    alice = await login(client, "alice")
    r = await client.request(method, path, json=body, headers=alice)
    assert r.status_code == 404, r.text
    missing = await client.request(
        method, path.replace("s-b", "s-zz").replace("dev-b", "dev-zz"), json=body, headers=alice
    )
    assert missing.status_code == 404
    # The same message shape whether it exists or not: nothing to probe.
    assert r.json()["detail"].replace("s-b", "?").replace("dev-b", "?") == missing.json()[
        "detail"
    ].replace("s-zz", "?").replace("dev-zz", "?")


async def test_caregiver_acknowledges_and_resolves_their_own_alert(
    client: httpx.AsyncClient, world: World, publisher: FakePublisher
) -> None:
    alice = await login(client, "alice")
    mine = world.alerts["s-a"]
    r = await client.post(f"/alerts/{mine}/ack", headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["alert"]["acknowledged_by"] == "alice"
    assert [d for d, _ in publisher.sent] == ["dev-a"]
    r = await client.post(f"/alerts/{mine}/resolve", json={"note": "she was fine"}, headers=alice)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["note"], r.json()["resolved_by"]) == (
        "resolved",
        "she was fine",
        "alice",
    )
    detail = (await client.get(f"/alerts/{mine}", headers=alice)).json()
    assert [t["to_status"] for t in detail["transitions"]] == ["open", "acknowledged", "resolved"]
    again = await client.post(f"/alerts/{mine}/resolve", json={"note": "x"}, headers=alice)
    assert again.status_code == 409


async def test_caregiver_cannot_administer(client: httpx.AsyncClient, world: World) -> None:
    alice = await login(client, "alice")
    for method, path, body in [
        ("POST", "/seniors", {"id": "s-c", "display_name": "x"}),
        ("PATCH", "/seniors/s-a", {"display_name": "x"}),
        ("DELETE", "/seniors/s-a", None),
        ("PUT", f"/seniors/s-a/caregivers/{world.ids['alice']}", {"relation": "x"}),
        ("POST", "/devices", {"id": "dev-new", "senior_id": "s-a"}),
        ("GET", "/accounts", None),
    ]:
        r = await client.request(method, path, json=body, headers=alice)
        assert r.status_code == 403, (method, path, r.text)
        assert english(r.json()["detail"]) == "the caregiver role may not use this resource"


@pytest.mark.parametrize(
    "path",
    [
        "/seniors",
        "/seniors/s-a",
        "/seniors/s-a/contacts",
        "/seniors/s-a/caregivers",
        "/seniors/s-a/escalation-policy",
        "/seniors/s-a/reminders",
        "/seniors/s-a/events",
        "/alerts",
        "/alerts/1",
        "/alerts/stream",
    ],
)
async def test_a_researcher_sees_no_identities(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    rita = await login(client, "rita")
    r = await client.get(path, headers=rita)
    assert r.status_code == 403
    assert english(r.json()["detail"]) == "the researcher role may not use this resource"


async def test_a_researcher_sees_the_fleet_without_whose_robot_it_is(
    client: httpx.AsyncClient, world: World
) -> None:
    rita = await login(client, "rita")
    items = (await client.get("/devices", headers=rita)).json()["items"]
    assert [d["id"] for d in items] == ["dev-a", "dev-b"]
    assert all(d["senior_id"] is None for d in items)
    assert "김순자" not in (await client.get("/devices/dev-a", headers=rita)).text


async def test_an_installer_registers_robots_but_reads_no_alerts(
    client: httpx.AsyncClient, world: World
) -> None:
    ian = await login(client, "ian")
    r = await client.post("/devices", json={"id": "dev-new", "senior_id": "s-a"}, headers=ian)
    assert r.status_code == 201, r.text
    assert (r.json()["id"], r.json()["senior_id"], r.json()["online"]) == ("dev-new", "s-a", False)
    r = await client.post("/devices", json={"id": "dev-new", "senior_id": "s-b"}, headers=ian)
    assert r.json()["senior_id"] == "s-b"
    r = await client.post("/devices", json={"id": "dev-x", "senior_id": "s-zz"}, headers=ian)
    assert r.status_code == 404
    for path in ["/alerts", f"/alerts/{world.alerts['s-a']}", "/seniors", "/seniors/s-a/contacts"]:
        assert (await client.get(path, headers=ian)).status_code == 403


async def test_admin_sees_everything(client: httpx.AsyncClient, world: World) -> None:
    ada = await login(client, "ada")
    assert (await client.get("/seniors", headers=ada)).json()["total"] == 2
    assert (await client.get("/alerts", headers=ada)).json()["total"] == 2
    assert (await client.get("/seniors/s-b", headers=ada)).status_code == 200


async def test_linking_a_caregiver_opens_the_senior_to_them(
    client: httpx.AsyncClient, world: World
) -> None:
    ada, alice = await login(client, "ada"), await login(client, "alice")
    assert (await client.get("/seniors/s-b", headers=alice)).status_code == 404
    link = f"/seniors/s-b/caregivers/{world.ids['alice']}"
    assert (await client.put(link, json={"relation": "daughter"}, headers=ada)).status_code == 200
    assert (await client.get("/seniors/s-b", headers=alice)).status_code == 200
    assert (await client.get("/alerts", headers=alice)).json()["total"] == 2
    assert (await client.delete(link, headers=ada)).status_code == 204
    assert (await client.get("/seniors/s-b", headers=alice)).status_code == 404
