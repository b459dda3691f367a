"""App fixtures: the API's world (two seniors, a caregiver each, an alert each) on SQLite,
and a browser-like client that keeps cookies and reads the CSRF token from forms."""

import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.api import create_app
from cloud.store import Event, make_engine, make_session_factory
from protocol import EventType
from tests.cloud import conftest as cloud_fixtures
from tests.cloud.api import conftest as api
from tests.cloud.api.conftest import PASSWORD, Clock, FakePublisher, settings

# The API tests' fixtures, shared: accounts of every role, two seniors with an alert each.
clock = api.clock
passwords = api.passwords
publisher = api.publisher
world = api.world

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


database_url = cloud_fixtures.database_url  # SQLite, then the real PostgreSQL
migrated_pg_url = cloud_fixtures.migrated_pg_url


def add_event(
    s: Session, seq: int, kind: EventType, at: datetime, payload: Any, device_id: str = "dev-a"
) -> None:
    """One stored event row of `device_id`, received when it happened (for seeding a store)."""
    s.add(
        Event(
            device_id=device_id,
            seq=seq,
            type=kind.value,
            priority="normal",
            ts=at,
            received_at=at,
            payload=payload,
        )
    )


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated store: each test runs on SQLite and on PostgreSQL."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def sqlite_sessions(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite store only (the browser tests)."""
    url = migrated_sqlite(tmp_path / "app.sqlite3")
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def app(
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
    clock: Clock,
    passwords: Passwords,
    tmp_path: Path,
) -> FastAPI:
    return create_app(
        settings(data_dir=str(tmp_path / "data")),
        session_factory=sessions,
        publisher=publisher,
        mqtt_connected=lambda: True,
        clock=clock,
        passwords=passwords,
    )


class Browser:
    """An httpx client over HTTPS (the cookies are Secure) that remembers the last CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client
        self.csrf = ""

    async def get(self, url: str, **kw: object) -> httpx.Response:
        r = await self.http.get(url, **kw)  # type: ignore[arg-type]
        found = _CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r

    async def post(self, url: str, data: dict[str, str], **kw: object) -> httpx.Response:
        return await self.http.post(url, data={"csrf": self.csrf} | data, **kw)  # type: ignore[arg-type]

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/app/login")
        return await self.post("/app/login", {"username": username, "password": password})


def browser_client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="https://app.test", headers=headers)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    async with browser_client(app, **{"accept-language": "en"}) as client:
        yield Browser(client)
