"""The API with the static service token (what the demo uses): listing, ack, errors."""

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cloud.api import create_app
from cloud.errors import ConfigError
from cloud.settings import CloudSettings
from protocol import CommandType, events_topic, status_topic
from protocol.release import version
from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import SERVICE, TOKEN, FakePublisher, add_event, http
from tests.cloud.helpers import emergency, fall, new_device_id

AUTH = SERVICE


def add(sessions: sessionmaker[Session], topic: str, raw: bytes) -> int | None:
    return add_event(sessions, topic, raw)


async def test_healthz_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "db": True,
        "mqtt": True,
        "ingest": None,
        "version": version(),
    }


async def test_healthz_is_503_when_mqtt_is_down(sessions: sessionmaker[Session]) -> None:
    settings = CloudSettings(api_token=SecretStr(TOKEN))
    app = create_app(settings, session_factory=sessions, mqtt_connected=lambda: False)
    async with http(app) as c:
        r = await c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["mqtt"] is False


@pytest.mark.parametrize("path", ["/alerts", "/devices", "/alerts/1", "/alerts/stream"])
async def test_missing_token_is_401(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 401
    assert "missing bearer token" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_wrong_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/alerts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert english(r.json()["detail"]) == "invalid bearer token"


def test_app_refuses_to_start_without_a_token(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ConfigError, match="DOLBOM_API_TOKEN"):
        create_app(CloudSettings(api_token=None), session_factory=sessions)


async def test_alerts_list_filters_and_paginates(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    a, b = new_device_id(), new_device_id()
    add(sessions, events_topic(a), emergency(a, 1))
    add(sessions, events_topic(a), fall(a, 2))
    acked = add(sessions, events_topic(b), emergency(b, 1))
    await client.post(f"/alerts/{acked}/ack", json={"by": "son"}, headers=AUTH)

    everything = (await client.get("/alerts", headers=AUTH)).json()
    assert everything["total"] == 3
    assert [x["id"] for x in everything["items"]] == [3, 2, 1]

    for_a = (await client.get("/alerts", params={"device_id": a}, headers=AUTH)).json()
    assert {x["kind"] for x in for_a["items"]} == {"emergency", "fall"}

    opened = (await client.get("/alerts", params={"status": "open"}, headers=AUTH)).json()
    assert opened["total"] == 2
    assert all(x["status"] == "open" for x in opened["items"])

    page = (await client.get("/alerts", params={"limit": 1, "offset": 1}, headers=AUTH)).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [x["id"] for x in page["items"]] == [2]


async def test_bad_filter_is_a_clear_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/alerts", params={"status": "panicking"}, headers=AUTH)
    assert r.status_code == 422
    assert "status" in r.json()["detail"]


async def test_ack_changes_state_records_transition_and_sends_command(
    client: httpx.AsyncClient, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    dev = new_device_id()
    alert_id = add(sessions, events_topic(dev), emergency(dev, 1))
    r = await client.post(f"/alerts/{alert_id}/ack", json={"by": "김영희"}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["alert"]["status"] == "acknowledged"
    assert body["alert"]["acknowledged_by"] == "김영희"
    assert body["command_published"] is True

    [(device_id, command)] = publisher.sent
    assert device_id == dev
    assert command.type is CommandType.ALERT_ACK
    assert command.command_id == body["command_id"]
    assert command.payload == {"alert_id": alert_id, "kind": "emergency", "by": "김영희"}

    detail = (await client.get(f"/alerts/{alert_id}", headers=AUTH)).json()
    last = detail["transitions"][-1]
    assert (last["from_status"], last["to_status"], last["actor"], last["channel"]) == (
        "open",
        "acknowledged",
        "김영희",
        "api",
    )


async def test_ack_twice_is_409(client: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    alert_id = add(sessions, events_topic(dev), emergency(dev, 1))
    await client.post(f"/alerts/{alert_id}/ack", json={"by": "a"}, headers=AUTH)
    r = await client.post(f"/alerts/{alert_id}/ack", json={"by": "b"}, headers=AUTH)
    assert r.status_code == 409
    assert english(r.json()["detail"]) == (
        f"alert {alert_id} is acknowledged; only open or notified alerts can be acknowledged"
    )


async def test_ack_unknown_alert_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/alerts/999/ack", json={"by": "a"}, headers=AUTH)
    assert r.status_code == 404
    assert english(r.json()["detail"]) == "no alert with id 999"
    assert (await client.get("/alerts/999", headers=AUTH)).status_code == 404


async def test_ack_without_name_is_422(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    dev = new_device_id()
    alert_id = add(sessions, events_topic(dev), emergency(dev, 1))
    r = await client.post(f"/alerts/{alert_id}/ack", json={"by": "  "}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("body.by:")


async def test_ack_is_stored_even_when_the_command_cannot_be_sent(
    sessions: sessionmaker[Session],
) -> None:
    settings = CloudSettings(api_token=SecretStr(TOKEN))
    app = create_app(settings, session_factory=sessions, publisher=FakePublisher(fail=True))
    dev = new_device_id()
    alert_id = add(sessions, events_topic(dev), emergency(dev, 1))
    async with http(app) as c:
        r = await c.post(f"/alerts/{alert_id}/ack", json={"by": "a"}, headers=AUTH)
    assert r.status_code == 200
    assert r.json()["command_published"] is False
    assert r.json()["alert"]["status"] == "acknowledged"


async def test_devices_lists_online_state(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    dev = new_device_id()
    add(sessions, events_topic(dev), emergency(dev, 1))
    add(sessions, status_topic(dev), b"offline")
    r = await client.get("/devices", headers=AUTH)
    assert r.status_code == 200
    [device] = r.json()["items"]
    assert (device["id"], device["online"]) == (dev, False)
