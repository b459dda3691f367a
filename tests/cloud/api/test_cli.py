"""`dolbom cloud create-account`: bootstrap an admin, never with a default password."""

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from cloud.accounts import Passwords
from cloud.store import make_engine, make_session_factory
from cloud.store.models import Account, Role
from dolbom.cli import app


def test_create_account_reads_the_password_from_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    args = ["cloud", "create-account", "--username", "Ada", "--role", "admin", "--password-stdin"]
    result = CliRunner().invoke(app, [*args, "--database-url", url], input="a long passphrase\n")
    assert result.exit_code == 0, result.output
    assert "created admin account 'ada'" in result.output
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        account = s.scalars(select(Account)).one()
    engine.dispose()
    assert account.role is Role.ADMIN
    assert account.password_hash.startswith("$argon2id$")
    assert Passwords().verify(account.password_hash, "a long passphrase")


def test_create_account_refuses_a_short_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    args = ["cloud", "create-account", "--username", "ada", "--role", "admin", "--password-stdin"]
    result = CliRunner().invoke(app, [*args, "--database-url", url], input="short\n")
    assert result.exit_code == 1
    assert "password: at least 12 characters" in result.output
