"""Throwaway PostgreSQL databases for tests and benchmarks: created fresh, dropped after."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from cloud.errors import CloudError


class ScratchDatabaseError(CloudError):
    """The PostgreSQL server could not be reached to make a scratch database."""


@contextmanager
def scratch_database(admin_url: str, prefix: str = "dolbom_scratch") -> Iterator[str]:
    """Create `<prefix>_<random>` through `admin_url`; yield its SQLAlchemy URL; drop it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        shown = make_url(admin_url).render_as_string(hide_password=True)
        raise ScratchDatabaseError(f"PostgreSQL is not reachable at {shown} ({reason})") from None
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
