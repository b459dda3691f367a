"""The live alert stream's shared feed (issue 15: 1,000 caregivers' pages open at once): one
poll of the store for every open stream, each stream still given only its caller's alerts,
over a real uvicorn server (SQLite and PostgreSQL)."""

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.accounts.access import Principal, may_see, viewers, visible_seniors
from cloud.api import create_app
from cloud.settings import CloudSettings
from cloud.store.models import (
    Alert,
    AlertKind,
    AlertStatus,
    CaregiverLink,
    Device,
    Organisation,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Senior,
    Severity,
)
from tests.cloud.api.conftest import PASSWORD

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
# who: (role, linked seniors, staff of organisation "o" holding s-2)
PEOPLE = {
    "ann": (Role.CAREGIVER, ["s-1"], False),
    "ben": (Role.CAREGIVER, [], True),
    "cat": (Role.CAREGIVER, ["s-2", "s-3"], False),
    "dan": (Role.CAREGIVER, [], False),
    "eve": (Role.ADMIN, [], False),
    "ian": (Role.INSTALLER, [], False),
}


def _world(sessions: sessionmaker[Session]) -> dict[str, Principal]:
    passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    out = {}
    with sessions() as s, s.begin():
        for i in (1, 2, 3, 4):
            s.add(Senior(id=f"s-{i}", display_name=f"어르신 {i}", settings={}, created_at=T0))
        s.add(Organisation(id="o", name="돌봄센터", created_at=T0))
        s.flush()
        for i in (1, 2, 3, 4):
            s.add(Device(id=f"d-{i}", senior_id=f"s-{i}", first_seen=T0, last_seen=T0))
        s.add(Device(id="d-none", senior_id=None, first_seen=T0, last_seen=T0))
        s.add(OrganisationSenior(senior_id="s-2", organisation_id="o", assigned_at=T0))
        for name, (role, linked, staff) in PEOPLE.items():
            account = create_account(
                s, passwords, username=name, role=role, password=PASSWORD, now=T0
            )
            for senior in linked:
                s.add(CaregiverLink(account_id=account.id, senior_id=senior, relation="family"))
            if staff:
                s.add(OrganisationStaff(account_id=account.id, organisation_id="o", added_at=T0))
            out[name] = Principal(role, account.id, name, name)
    return out


def test_viewers_is_visible_seniors_the_other_way_round(
    sessions: sessionmaker[Session],
) -> None:
    people = _world(sessions)
    with sessions() as s:
        seniors = list(s.scalars(select(Senior.id)))
        who = viewers(s, [*seniors, "s-missing"])
        for name, principal in people.items():
            visible = visible_seniors(s, principal)
            expected = set(seniors) if visible is None else set(visible)
            assert {i for i in seniors if may_see(principal, who[i])} == expected, name
            assert may_see(principal, None) is (principal.role is Role.ADMIN), name
        assert who["s-missing"] == frozenset()
        assert viewers(s, []) == {}


@pytest.fixture
def server(sessions: sessionmaker[Session]) -> Iterator[tuple[str, FastAPI]]:
    """The API on a real uvicorn server on 127.0.0.1 (streams are read as they come)."""
    settings = CloudSettings(
        api_token=SecretStr("stream-test-token-0123"),
        auth_secret=SecretStr("stream-test-secret-0123456789-0123456789-abc"),
        sse_poll_s=0.05,
    )
    app = create_app(
        settings,
        session_factory=sessions,
        passwords=Passwords(PasswordHasher.from_parameters(CHEAPEST)),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not uv.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            thread.join(0.01)
        yield f"http://127.0.0.1:{port}", app
    finally:
        app.state.ctx.shutdown.set()
        uv.should_exit = True
        thread.join(10)
        sock.close()


def _raise(
    sessions: sessionmaker[Session], device: str, kind: AlertKind = AlertKind.EMERGENCY
) -> int:
    now = datetime.now(UTC)
    with sessions() as s, s.begin():
        alert = Alert(
            device_id=device,
            kind=kind,
            severity=Severity.CRITICAL,
            status=AlertStatus.OPEN,
            event_seq=1,
            created_at=now,
            updated_at=now,
        )
        s.add(alert)
        s.flush()
        return alert.id


async def test_many_streams_share_one_poll_and_each_gets_only_its_callers_alerts(
    sessions: sessionmaker[Session], server: tuple[str, FastAPI]
) -> None:
    base_url, app = server
    people = _world(sessions)
    assert people
    engine = sessions.kw["bind"]
    polls: list[str] = []

    def note(_c: object, _cur: object, statement: str, *_a: object) -> None:
        if "FROM alerts" in statement:
            polls.append(statement)

    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30.0)) as http:
        tokens = {}
        for name in ("ann", "ben", "cat", "dan", "eve"):
            r = await http.post("/auth/login", json={"username": name, "password": PASSWORD})
            tokens[name] = r.json()["access_token"]
        streams = [name for name in ("ann", "ben", "cat", "dan", "eve") for _ in range(8)]
        got: list[list[int]] = [[] for _ in streams]
        opened = asyncio.Semaphore(0)
        done = asyncio.Event()

        async def follow(k: int, name: str) -> None:
            headers = {"Authorization": f"Bearer {tokens[name]}"}
            async with http.stream("GET", "/alerts/stream", headers=headers) as r:
                assert r.status_code == 200
                lines = r.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                opened.release()
                async for line in lines:
                    if line.startswith("data: "):
                        got[k].append(json.loads(line[6:])["id"])
                        if done.is_set():
                            return

        tasks = [asyncio.create_task(follow(k, n)) for k, n in enumerate(streams)]
        for _ in streams:
            await asyncio.wait_for(opened.acquire(), 30)
        (feed,) = app.state.alert_feeds.values()  # one event loop: one feed
        first_version = feed.version
        event.listen(engine, "before_cursor_execute", note)
        try:
            alerts = {d: _raise(sessions, f"d-{d}") for d in ("1", "2", "3", "4", "none")}
            expected = {
                "ann": {alerts["1"]},
                "ben": {alerts["2"]},
                "cat": {alerts["2"], alerts["3"]},
                "dan": set(),
                "eve": set(alerts.values()),
            }
            # Each stream writes its batch on its own: wait until every stream has had what it
            # is owed (a stream that is sent too much keeps it in `got`, checked below).
            for _ in range(3000):  # 30 s cap
                if all(expected[n] <= set(got[k]) for k, n in enumerate(streams)):
                    break
                await asyncio.sleep(0.01)
            done.set()
            for device in ("1", "2", "3", "4"):  # one more alert each, to end the streams
                _raise(sessions, f"d-{device}", AlertKind.FALL)
            await asyncio.sleep(0.5)
        finally:
            event.remove(engine, "before_cursor_execute", note)
            last_version = feed.version
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    for k, name in enumerate(streams):
        first = set(got[k]) & set(alerts.values())
        assert first == expected[name], (name, got[k])
        assert len(got[k]) == len(set(got[k])), (name, got[k])  # each alert once
    # 40 streams open: one query of the alerts per poll of the shared feed, not one per stream
    assert polls
    assert len(polls) <= last_version - first_version + 2, (len(polls), last_version)  # +2: the
    # polls in flight when counting started and stopped
