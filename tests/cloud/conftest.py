"""Cloud fixtures: a migrated store on SQLite and on PostgreSQL, webhook receivers."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import Base
from tests.cloud.helpers import WebhookReceiver

# Emptied by DELETE, children first, not TRUNCATE: TRUNCATE of even the few tables a test used
# cost 0.5-0.9 s per test at load 5-8 (new files for every table and index, synced at commit),
# DELETE of a test's few rows and a restart of the id sequences it drew from ~50 ms.
_CHILDREN_FIRST = [t.name for t in reversed(Base.metadata.sorted_tables)]
# The tables a test left rows in. The names are the models' own table names, not input.
_NOT_EMPTY = text(
    " UNION ".join(
        f"SELECT '{t.name}' AS name WHERE EXISTS (SELECT 1 FROM {t.name})"  # noqa: S608
        for t in Base.metadata.sorted_tables
    )
)
# The id sequences owned by the store's tables that a test drew from (rows inserted, or
# inserted and deleted again): what `TRUNCATE ... RESTART IDENTITY` would restart.
_DRAWN = text(
    "SELECT DISTINCT s.relname FROM pg_class s"
    " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid"
    " AND d.refclassid = 'pg_class'::regclass"
    " JOIN pg_sequences q ON q.schemaname = current_schema() AND q.sequencename = s.relname"
    " WHERE s.relkind = 'S' AND q.last_value IS NOT NULL"
)


def empty_pg(url: str) -> None:
    """Every table of the store at `url` empty and every id sequence restarted, as after
    `TRUNCATE <all tables> RESTART IDENTITY CASCADE`."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            used = {str(name) for name in conn.scalars(_NOT_EMPTY)}
            for name in _CHILDREN_FIRST:
                if name in used:
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608
            for sequence in list(conn.scalars(_DRAWN)):
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_pg_url(pg_url: str) -> str:
    """The session's PostgreSQL database, migrated to head once."""
    migrate(pg_url)
    return pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store: an SQLite file (a copy of the session's migrated template),
    then the real PostgreSQL (every table emptied)."""
    if request.param == "sqlite":
        make: Callable[[Path], str] = request.getfixturevalue("migrated_sqlite")
        return make(tmp_path / "cloud.sqlite3")
    pg: str = request.getfixturevalue("migrated_pg_url")
    empty_pg(pg)
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
