"""DOLBOM_REPORTS_DATABASE_URL: the research report, summary and export read the replica; the
audit of those reads, and everything else, goes to the primary; the replica is never written."""

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.access import SERVICE, Principal
from cloud.api import create_app
from cloud.research.studies import create_study
from cloud.store import make_engine, make_session_factory
from cloud.store.db import make_reports_engine
from cloud.store.models import AuditLog, Study
from tests.cloud.api.conftest import TOKEN, http, settings

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OPERATOR = Principal(role=SERVICE.role, account_id=None, username="service", display_name="s")
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _sessions(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


@pytest.fixture
def stores(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> tuple[str, str]:
    """A primary with a study, and its replica: a copy whose study title differs."""
    primary = tmp_path / "primary.sqlite3"
    replica = tmp_path / "replica.sqlite3"
    migrated_sqlite(primary)
    with _sessions(f"sqlite:///{primary}")() as s, s.begin():
        create_study(s, OPERATOR, NOW, study_id="pilot", title="Pilot on the primary")
    src, dst = sqlite3.connect(primary), sqlite3.connect(replica)
    src.backup(dst)
    src.close()
    dst.close()
    with _sessions(f"sqlite:///{replica}")() as s, s.begin():
        s.execute(update(Study).where(Study.id == "pilot").values(title="Pilot on the replica"))
    return f"sqlite:///{primary}", f"sqlite:///{replica}"


def _audits(url: str) -> list[str]:
    with _sessions(url)() as s:
        return list(s.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def test_reports_read_the_replica_and_audit_on_the_primary(
    stores: tuple[str, str],
) -> None:
    primary, replica = stores
    app = create_app(
        settings(database_url=primary, reports_database_url=replica),
        clock=lambda: NOW,
    )
    async with http(app) as client:
        r = await client.get("/research/studies/pilot/report", headers=HEADERS)
        assert r.status_code == 200, r.text
        assert "Pilot on the replica" in r.text
        assert "Pilot on the primary" not in r.text
        r = await client.get("/research/studies/pilot/summary", headers=HEADERS)
        assert r.status_code == 200, r.text
        # Not a report: the study itself is read from the primary.
        r = await client.get("/research/studies/pilot", headers=HEADERS)
        assert r.status_code == 200, r.text
        assert r.json()["title"] == "Pilot on the primary"
    assert _audits(primary)[-3:] == ["report", "read", "read"]  # report, summary, study
    assert _audits(replica) == ["create"]  # as copied: nothing written there


async def test_without_the_setting_reports_read_the_primary(stores: tuple[str, str]) -> None:
    primary, _ = stores
    app = create_app(settings(database_url=primary), clock=lambda: NOW)
    async with http(app) as client:
        r = await client.get("/research/studies/pilot/report", headers=HEADERS)
    assert r.status_code == 200, r.text
    assert "Pilot on the primary" in r.text


def test_reports_engine_refuses_writes_on_sqlite(stores: tuple[str, str]) -> None:
    _, replica = stores
    engine = make_reports_engine(replica)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT title FROM studies")) == "Pilot on the replica"
            with pytest.raises(OperationalError, match="readonly"):
                conn.execute(text("UPDATE studies SET title = 'x'"))
    finally:
        engine.dispose()


def test_reports_engine_is_read_only_on_postgresql(migrated_pg_url: str) -> None:
    """Every transaction on the reports engine is READ ONLY, as on a hot standby (and it holds
    through PgBouncer's transaction pooling, unlike a connection-level setting)."""
    engine = make_reports_engine(migrated_pg_url)
    try:
        with engine.begin() as conn:
            assert conn.scalar(text("SHOW transaction_read_only")) == "on"
            with pytest.raises(Exception, match="read-only transaction"):
                conn.execute(text("DELETE FROM audit_log"))
    finally:
        engine.dispose()
    plain = make_engine(migrated_pg_url)
    try:
        with plain.begin() as conn:
            assert conn.scalar(text("SHOW transaction_read_only")) == "off"
    finally:
        plain.dispose()


def test_reports_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloud.settings import CloudSettings

    monkeypatch.setenv("DOLBOM_REPORTS_DATABASE_URL", "postgresql://r@replica:6432/dolbom_reports")
    assert CloudSettings().reports_database_url == "postgresql://r@replica:6432/dolbom_reports"
    monkeypatch.delenv("DOLBOM_REPORTS_DATABASE_URL")
    assert CloudSettings().reports_database_url is None
