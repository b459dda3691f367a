"""Engines and sessions for SQLite (WAL, foreign keys) and PostgreSQL (psycopg 3)."""

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cloud.errors import StoreError


def normalise_url(database_url: str) -> str:
    """Use psycopg 3 for a bare `postgresql://` URL."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def dialect_insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the session's dialect, the one that has `on_conflict_do_*` (PostgreSQL or
    SQLite, the two stores the cloud runs on)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no idempotent insert for {dialect}")


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; an SQLite file's folder is created, WAL and foreign keys on."""
    try:
        url = make_url(normalise_url(database_url))
    except Exception as e:
        raise StoreError(f"invalid database_url {database_url!r}: {e}") from None
    if url.get_backend_name() == "sqlite":
        db = url.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, connect_args=_pg_connect_args(url))
    raise StoreError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def _pg_connect_args(url: URL) -> dict[str, Any]:
    """`?prepare_threshold=none` in the URL: no server-side prepared statements (psycopg
    prepares a query after 5 runs; PgBouncer < 1.21 in transaction pooling mode hands the next
    transaction another server connection, where the statement does not exist)."""
    raw = url.query.get("prepare_threshold")
    if raw is None:
        return {}
    value = raw if isinstance(raw, str) else raw[-1]
    if value.lower() in ("none", "off", ""):
        return {"prepare_threshold": None}
    try:
        return {"prepare_threshold": int(value)}
    except ValueError:
        raise StoreError(f"prepare_threshold must be an integer or none, not {value!r}") from None


def make_reports_engine(database_url: str) -> Engine:
    """An engine for reads only (a read replica): every transaction is read-only, so a report
    that tried to write fails here as it would on a hot standby (PostgreSQL: `SET TRANSACTION
    READ ONLY`, which holds through PgBouncer's transaction pooling; SQLite: `query_only`)."""
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_query_only)
    else:
        event.listen(engine, "begin", _pg_read_only)
    return engine


def _sqlite_query_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def _pg_read_only(conn: Connection) -> None:
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
