"""Sessions end (issue 14 item 10): logout revokes the token until it expires; disabling an
account or changing its password ends every session (API and CLI)."""

from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.api.deps import COOKIE_NAME
from cloud.store import make_engine, make_session_factory
from cloud.store.models import AuditLog, RevokedToken
from dolbom.cli import app as cli
from tests.cloud.api.conftest import PASSWORD, SERVICE, Clock, World, login

NEW_PASSWORD = "another long passphrase"


async def test_logout_revokes_the_token_until_it_expires(
    client: httpx.AsyncClient, world: World, clock: Clock, sessions: sessionmaker[Session]
) -> None:
    alice = await login(client, "alice")
    assert (await client.get("/auth/me", headers=alice)).status_code == 200
    assert (await client.post("/auth/logout", headers=alice)).status_code == 204
    r = await client.get("/auth/me", headers=alice)
    assert r.status_code == 401
    assert "log in again" in r.json()["detail"]
    # Another session of the same account is untouched.
    other = await login(client, "alice")
    assert (await client.get("/auth/me", headers=other)).status_code == 200
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(RevokedToken)) == 1
    # Once the revoked token would have expired anyway, its deny-list row is cleaned up.
    clock.advance(901)
    bob = await login(client, "bob")
    assert (await client.post("/auth/logout", headers=bob)).status_code == 204
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(RevokedToken)) == 1


async def test_logout_by_cookie_revokes_it(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    client.cookies.clear()
    cookie = {"Cookie": f"{COOKIE_NAME}={r.json()['access_token']}"}
    assert (await client.get("/auth/me", headers=cookie)).status_code == 200
    assert (await client.post("/auth/logout", headers=cookie)).status_code == 204
    assert (await client.get("/auth/me", headers=cookie)).status_code == 401


async def test_disabling_an_account_ends_its_sessions(
    client: httpx.AsyncClient, world: World
) -> None:
    alice = await login(client, "alice")
    ada = await login(client, "ada")
    r = await client.post(f"/accounts/{world.ids['alice']}/disable", headers=ada)
    assert (r.status_code, r.json()["disabled"]) == (200, True)
    assert (await client.get("/auth/me", headers=alice)).status_code == 401
    r = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401
    # Enabled again: a new login works, the old token stays dead.
    r = await client.post(f"/accounts/{world.ids['alice']}/enable", headers=ada)
    assert r.json()["disabled"] is False
    assert (await client.get("/auth/me", headers=alice)).status_code == 401
    again = await login(client, "alice")
    assert (await client.get("/auth/me", headers=again)).status_code == 200


async def test_a_password_change_ends_every_session(
    client: httpx.AsyncClient, world: World, sessions: sessionmaker[Session]
) -> None:
    first = await login(client, "alice")
    second = await login(client, "alice")
    body = {"current_password": "wrong-wrong-wrong", "new_password": NEW_PASSWORD}
    r = await client.post("/auth/password", json=body, headers=first)
    assert r.status_code == 401
    assert "current password" in r.json()["detail"]
    body["current_password"] = PASSWORD
    assert (await client.post("/auth/password", json=body, headers=first)).status_code == 204
    for old in (first, second):
        assert (await client.get("/auth/me", headers=old)).status_code == 401
    fresh = await login(client, "alice", NEW_PASSWORD)
    assert (await client.get("/auth/me", headers=fresh)).status_code == 200
    # An admin's reset ends that session too.
    ada = await login(client, "ada")
    r = await client.post(
        f"/accounts/{world.ids['alice']}/password", json={"password": PASSWORD}, headers=ada
    )
    assert r.status_code == 204
    assert (await client.get("/auth/me", headers=fresh)).status_code == 401
    await login(client, "alice", PASSWORD)
    with sessions() as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.resource == "account")))
    assert "password" in actions


async def test_only_admins_manage_accounts(client: httpx.AsyncClient, world: World) -> None:
    alice = await login(client, "alice")
    r = await client.post(f"/accounts/{world.ids['bob']}/disable", headers=alice)
    assert r.status_code == 403
    r = await client.post(f"/accounts/{world.ids['bob']}/sessions/revoke", headers=SERVICE)
    assert r.status_code == 204
    r = await client.post("/accounts/999999/disable", headers=SERVICE)
    assert r.status_code == 404


async def test_cli_disable_and_reset_password_end_sessions(
    client: httpx.AsyncClient, world: World, database_url: str, tmp_path: Path
) -> None:
    alice = await login(client, "alice")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["cloud", "reset-password", "--username", "ALICE", "--password-stdin"],
        input=NEW_PASSWORD + "\n",
        env={"DOLBOM_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert "every session ended" in result.output
    assert (await client.get("/auth/me", headers=alice)).status_code == 401
    fresh = await login(client, "alice", NEW_PASSWORD)
    result = runner.invoke(
        cli,
        ["cloud", "disable-account", "--username", "alice"],
        env={"DOLBOM_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert (await client.get("/auth/me", headers=fresh)).status_code == 401
    result = runner.invoke(
        cli,
        ["cloud", "disable-account", "--username", "nobody"],
        env={"DOLBOM_DATABASE_URL": database_url},
    )
    assert result.exit_code == 1
    assert "no account named 'nobody'" in result.output
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as s:
            rows = list(s.scalars(select(AuditLog).where(AuditLog.detail == "cli")))
    finally:
        engine.dispose()
    assert [r.action for r in rows] == ["password", "disable"]
