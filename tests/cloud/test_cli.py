"""`dolbom cloud migrate` (the serve command is exercised through CloudService)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloud.store import current_revision, head_revision
from dolbom.cli import app


def test_migrate_command_creates_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'db.sqlite3'}"
    result = CliRunner().invoke(app, ["cloud", "migrate", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"store at revision {head_revision()}" in result.output
    assert current_revision(url) == head_revision()


def test_migrate_command_explains_a_bad_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOLBOM_DATABASE_URL", "oracle://nope")
    result = CliRunner().invoke(app, ["cloud", "migrate"])
    assert result.exit_code == 1
    assert "unsupported database 'oracle'" in result.output
