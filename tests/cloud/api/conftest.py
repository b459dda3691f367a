"""Caregiver API fixtures: an app on a fresh store, accounts of every role, two seniors."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.alerts import AlertEngine
from cloud.api import create_app
from cloud.errors import CommandNotSentError
from cloud.ingest import ingest_message
from cloud.settings import CloudSettings
from cloud.store.models import CaregiverLink, Device, Role, Senior
from protocol import Command, events_topic
from tests.cloud.helpers import NOW, emergency

TOKEN = "test-token-123"
SECRET = "test-auth-secret-0123456789abcdef-0123456789"
SERVICE = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery"


class FakePublisher:
    """Records commands instead of sending them."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, Command]] = []

    def publish_command(self, device_id: str, command: Command) -> None:
        if self.fail:
            raise CommandNotSentError("broker gone")
        self.sent.append((device_id, command))


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    """Two seniors with a robot, an alert and a caregiver each; one account of every role."""

    sessions: sessionmaker[Session]
    ids: dict[str, int] = field(default_factory=dict)  # username -> account id
    alerts: dict[str, int] = field(default_factory=dict)  # senior id -> alert id


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    """Argon2id at the cheapest parameters, so logins in tests are fast."""
    return Passwords(PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings(**overrides: object) -> CloudSettings:
    """Settings with the test service token and auth secret."""
    base: dict[str, object] = {"api_token": SecretStr(TOKEN), "auth_secret": SecretStr(SECRET)}
    return CloudSettings.model_validate(base | overrides)


@pytest.fixture
def app(
    sessions: sessionmaker[Session], publisher: FakePublisher, clock: Clock, passwords: Passwords
) -> FastAPI:
    return create_app(
        settings(),
        session_factory=sessions,
        publisher=publisher,
        mqtt_connected=lambda: True,
        clock=clock,
        passwords=passwords,
    )


def http(app: FastAPI) -> httpx.AsyncClient:
    """An httpx client that calls the app in-process (as 127.0.0.1)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http(app) as c:
        yield c


def add_event(sessions: sessionmaker[Session], topic: str, raw: bytes) -> int | None:
    """Ingest one message; the id of the alert it opened, if any."""
    with sessions() as s, s.begin():
        outcome = ingest_message(s, topic, raw, NOW, alerts=AlertEngine())
    return outcome.alert.alert_id if outcome.alert else None


@pytest.fixture
def world(sessions: sessionmaker[Session], passwords: Passwords) -> World:
    w = World(sessions)
    with sessions() as s, s.begin():
        for username, role in [
            ("ada", Role.ADMIN),
            ("alice", Role.CAREGIVER),
            ("bob", Role.CAREGIVER),
            ("rita", Role.RESEARCHER),
            ("ian", Role.INSTALLER),
        ]:
            account = create_account(
                s, passwords, username=username, role=role, password=PASSWORD, now=NOW
            )
            w.ids[username] = account.id
        for senior_id, name, caregiver in [("s-a", "김순자", "alice"), ("s-b", "박말순", "bob")]:
            s.add(Senior(id=senior_id, display_name=name, settings={}, created_at=NOW))
            s.flush()
            s.add(CaregiverLink(account_id=w.ids[caregiver], senior_id=senior_id, relation="son"))
            device = f"dev-{senior_id[-1]}"
            s.add(Device(id=device, senior_id=senior_id, first_seen=NOW, last_seen=NOW))
    for senior_id in ("s-a", "s-b"):
        device = f"dev-{senior_id[-1]}"
        alert_id = add_event(sessions, events_topic(device), emergency(device, 1))
        assert alert_id is not None
        w.alerts[senior_id] = alert_id
    return w


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, str]:
    """Log in; the Authorization header to send."""
    r = await client.post("/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
