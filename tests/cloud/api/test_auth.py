"""Login, tokens, the login rate limit, the cookie, and the auth settings."""

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.accounts.ratelimit import RATE_LIMITED
from cloud.api import create_app
from cloud.settings import CloudSettings
from cloud.store.models import Account, AuditLog
from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import PASSWORD, SECRET, TOKEN, Clock, World, http, login


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> str:
    """Auth does not depend on the database engine: SQLite only."""
    url = migrated_sqlite(tmp_path / "cloud.sqlite3")
    return url


async def test_login_returns_a_signed_short_lived_token(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert (body["token_type"], body["role"], body["expires_in"]) == ("bearer", "caregiver", 900)
    claims = jwt.decode(
        body["access_token"], SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert (claims["sub"], claims["role"]) == (str(world.ids["alice"]), "caregiver")
    assert claims["exp"] - claims["iat"] == 900
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "alice"


async def test_login_accepts_a_form_and_any_username_case(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await client.post("/auth/login", data={"username": "ALICE", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["account_id"] == world.ids["alice"]


async def test_login_sets_a_secure_httponly_strict_cookie(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie
    assert r.headers["cache-control"] == "no-store"


async def test_the_cookie_authenticates_too(app: object, world: World) -> None:
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://api"
    ) as c:
        r = await c.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 200
        me = await c.get("/auth/me")
    assert me.status_code == 200
    assert me.json()["role"] == "caregiver"


@pytest.mark.parametrize("username", ["alice", "nobody"])
async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, world: World, username: str
) -> None:
    r = await client.post("/auth/login", json={"username": username, "password": "wrong-wrong-1"})
    assert r.status_code == 401
    assert r.json() == {"detail": "아이디 또는 비밀번호가 틀립니다 / invalid username or password"}


async def test_a_disabled_account_cannot_log_in_and_its_tokens_stop(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = await login(client, "alice")
    with world.sessions() as s, s.begin():
        s.get_one(Account, world.ids["alice"]).disabled = True
    assert (await client.get("/seniors", headers=headers)).status_code == 401
    r = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.json() == {"detail": "아이디 또는 비밀번호가 틀립니다 / invalid username or password"}


async def test_bad_login_bodies_are_422_without_echoing_the_password(
    client: httpx.AsyncClient,
) -> None:
    for content in [b"{", b'{"username": "a"}', b'{"username": "a", "password": "s3cret", "x": 1}']:
        r = await client.post(
            "/auth/login", content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422
        assert "username and password" in r.json()["detail"]
        assert "s3cret" not in r.text


async def test_five_failures_rate_limit_the_username_from_that_address(
    client: httpx.AsyncClient, world: World, clock: Clock
) -> None:
    bad = {"username": "alice", "password": "not-the-password"}
    for _ in range(5):
        assert (await client.post("/auth/login", json=bad)).status_code == 401
        clock.advance(1)
    r = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "55"  # the first failure (at 0 s) ages out at 60 s
    assert r.json() == {"detail": RATE_LIMITED}
    # Another username from the same address is not blocked.
    assert (
        await client.post("/auth/login", json={"username": "bob", "password": PASSWORD})
    ).status_code == 200
    clock.advance(54)
    assert (await client.post("/auth/login", json=bad)).status_code == 429
    clock.advance(1)
    assert (
        await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    ).status_code == 200


async def test_an_expired_token_is_refused(
    client: httpx.AsyncClient, world: World, clock: Clock
) -> None:
    headers = await login(client, "alice")
    clock.advance(899)
    assert (await client.get("/seniors", headers=headers)).status_code == 200
    clock.advance(1)
    r = await client.get("/seniors", headers=headers)
    assert r.status_code == 401
    assert english(r.json()["detail"]) == "expired bearer token: log in again"
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_signed_with_another_secret_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    forged = jwt.encode(
        {"iss": "dolbom-cloud", "sub": "1", "role": "admin", "iat": 0, "exp": 2**40},
        "another-secret-that-is-long-enough-0123456789",
        algorithm="HS256",
    )
    r = await client.get("/seniors", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    assert english(r.json()["detail"]) == "invalid bearer token"


async def test_logins_are_audited(client: httpx.AsyncClient, world: World) -> None:
    await login(client, "alice")
    with world.sessions() as s:
        [row] = s.scalars(select(AuditLog).where(AuditLog.action == "login"))
    assert (row.actor, row.resource, row.resource_id) == (
        "caregiver:alice",
        "account",
        str(world.ids["alice"]),
    )


def test_a_missing_secret_is_generated_with_a_warning(
    sessions: sessionmaker[Session], passwords: Passwords, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cloud.api.app"):
        create_app(
            CloudSettings(api_token=SecretStr(TOKEN)), session_factory=sessions, passwords=passwords
        )
    assert "no DOLBOM_AUTH_SECRET" in caplog.text


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        CloudSettings(auth_secret=SecretStr("short"))


async def test_the_service_token_still_works_everywhere(
    sessions: sessionmaker[Session], passwords: Passwords, world: World
) -> None:
    app = create_app(
        CloudSettings(api_token=SecretStr(TOKEN)), session_factory=sessions, passwords=passwords
    )
    async with http(app) as c:
        r = await c.get("/seniors", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json()["total"] == 2
