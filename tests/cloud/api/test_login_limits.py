"""The login limiter (issue 14 item 9): shared in the store, atomic, per source and per account,
forwarding headers only from trusted proxies, and the right password still gets in."""

import asyncio
import threading

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.accounts.ratelimit import RATE_LIMITED
from cloud.api import create_app
from cloud.store.models import LoginSource
from tests.cloud.api.conftest import PASSWORD, Clock, FakePublisher, World, settings

BAD = {"username": "alice", "password": "not-the-password"}
GOOD = {"username": "alice", "password": PASSWORD}


class CountingPasswords(Passwords):
    """Counts password checks: the number of guesses the limiter let through."""

    def __init__(self, inner: Passwords) -> None:
        super().__init__(inner.hasher)
        self.checks = 0
        self._lock = threading.Lock()

    def verify(self, stored: str | None, password: str) -> bool:
        with self._lock:
            self.checks += 1
        return super().verify(stored, password)


def make_app(
    sessions: sessionmaker[Session], clock: Clock, passwords: Passwords, **overrides: object
) -> FastAPI:
    return create_app(
        settings(**overrides),
        session_factory=sessions,
        publisher=FakePublisher(),
        clock=clock,
        passwords=passwords,
    )


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


async def test_rotating_forwarded_for_from_an_untrusted_peer_is_limited(
    sessions: sessionmaker[Session], world: World, clock: Clock, passwords: Passwords
) -> None:
    counting = CountingPasswords(passwords)
    app = make_app(sessions, clock, counting)  # no trusted proxies: X-Forwarded-For is ignored
    codes = []
    async with client_from(app, "203.0.113.9") as attacker:
        for i in range(30):
            headers = {"X-Forwarded-For": f"198.51.100.{i}"}
            codes.append(
                (await attacker.post("/auth/login", json=BAD, headers=headers)).status_code
            )
    assert codes == [401] * 5 + [429] * 25
    assert counting.checks == 5


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    sessions: sessionmaker[Session], world: World, clock: Clock, passwords: Passwords
) -> None:
    counting = CountingPasswords(passwords)
    app = make_app(sessions, clock, counting, trusted_proxies=["10.0.0.0/8"])
    async with client_from(app, "10.0.0.2") as proxy:
        # The right-most untrusted hop is the client; what it wrote further left is ignored.
        for i in range(5):
            headers = {"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.7"}
            assert (await proxy.post("/auth/login", json=BAD, headers=headers)).status_code == 401
        r = await proxy.post("/auth/login", json=BAD, headers={"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 429
        # Another client behind the proxy is not blocked by that one.
        r = await proxy.post("/auth/login", json=GOOD, headers={"X-Forwarded-For": "198.51.100.8"})
        assert r.status_code == 200
    assert counting.checks == 6


async def test_rotating_sources_hit_the_account_cap_but_the_real_user_gets_in(
    sessions: sessionmaker[Session], world: World, clock: Clock, passwords: Passwords
) -> None:
    counting = CountingPasswords(passwords)
    app = make_app(sessions, clock, counting, trusted_proxies=["10.0.0.0/8"])
    async with client_from(app, "10.0.0.2") as proxy:
        # The real user logs in from home once: that source is now known to the account.
        home = {"X-Forwarded-For": "192.0.2.50"}
        assert (await proxy.post("/auth/login", json=GOOD, headers=home)).status_code == 200
        codes = []
        for i in range(60):  # one guess from each of 60 addresses
            headers = {"X-Forwarded-For": f"198.51.100.{i}"}
            codes.append((await proxy.post("/auth/login", json=BAD, headers=headers)).status_code)
        assert codes == [401] * 20 + [429] * 40
        assert counting.checks == 1 + 20
        # A new source is throttled for the window, even with the right password ...
        new = {"X-Forwarded-For": "192.0.2.99"}
        r = await proxy.post("/auth/login", json=GOOD, headers=new)
        assert (r.status_code, r.json()["detail"]) == (429, RATE_LIMITED)
        # ... but the real user's known address still gets in,
        assert (await proxy.post("/auth/login", json=GOOD, headers=home)).status_code == 200
        # and after the window a new address with the right password does too.
        clock.advance(60)
        assert (await proxy.post("/auth/login", json=GOOD, headers=new)).status_code == 200
    with sessions() as s:
        known = set(s.scalars(select(LoginSource.source)))
    assert known == {"192.0.2.50", "192.0.2.99"}


async def test_forty_parallel_guesses_check_at_most_the_limit(
    sessions: sessionmaker[Session], world: World, clock: Clock, passwords: Passwords
) -> None:
    counting = CountingPasswords(passwords)
    app = make_app(sessions, clock, counting)
    async with client_from(app, "203.0.113.9") as attacker:
        replies = await asyncio.gather(*(attacker.post("/auth/login", json=BAD) for _ in range(40)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [401] * 5 + [429] * 35
    assert counting.checks == 5
    # The real user, from their own address, is not locked out by the attacker's guesses.
    async with client_from(app, "192.0.2.50") as user:
        assert (await user.post("/auth/login", json=GOOD)).status_code == 200
