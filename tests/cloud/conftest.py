"""Cloud fixtures: a migrated store on SQLite and on PostgreSQL, webhook receivers."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import Base
from tests.cloud.helpers import WebhookReceiver

TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture(scope="session")
def migrated_pg_url(pg_url: str) -> str:
    """The session's PostgreSQL database, migrated to head once."""
    migrate(pg_url)
    return pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store: an SQLite file, then the real PostgreSQL (every table emptied)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
        migrate(url)
        return url
    pg: str = request.getfixturevalue("migrated_pg_url")
    engine = make_engine(pg)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test store."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver that accepts everything."""
    r = WebhookReceiver()
    yield r
    r.close()
