"""The store fixtures every cloud test stands on: a fresh SQLite store is a migrated one, and
the PostgreSQL store a test gets is empty with its ids starting at 1 again, whatever the test
before it left behind (rows, or an id sequence drawn from with the rows deleted again)."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cloud.store import current_revision, head_revision, make_engine
from cloud.store.models import Account, Base, DeadLetter, Role, Senior
from tests.cloud.conftest import empty_pg

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def test_a_fresh_sqlite_store_is_migrated_to_head_and_empty(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str]
) -> None:
    first = migrated_sqlite(tmp_path / "a" / "one.sqlite3")
    engine = make_engine(first)
    with Session(engine) as s, s.begin():
        s.add(Senior(id="s-1", display_name="어르신", settings={}, created_at=NOW))
    engine.dispose()
    second = migrated_sqlite(tmp_path / "b" / "two.sqlite3")
    assert current_revision(first) == current_revision(second) == head_revision()
    engine = make_engine(second)
    with Session(engine) as s:
        for table in Base.metadata.sorted_tables:
            assert s.scalar(select(func.count()).select_from(table)) == 0, table.name
    engine.dispose()
    with pytest.raises(FileExistsError):
        migrated_sqlite(tmp_path / "a" / "one.sqlite3")


@pytest.mark.postgres
def test_empty_pg_empties_every_table_and_restarts_the_ids_it_drew(migrated_pg_url: str) -> None:
    empty_pg(migrated_pg_url)
    engine = make_engine(migrated_pg_url)
    with Session(engine) as s, s.begin():
        s.add(Senior(id="s-1", display_name="어르신", settings={}, created_at=NOW))
        s.add(
            Account(
                username="a", password_hash="x", role=Role.ADMIN, display_name="a", created_at=NOW
            )
        )
        s.add(DeadLetter(topic="t", reason="r", raw=b"", raw_size=0, received_at=NOW))
    with Session(engine) as s, s.begin():  # rows gone, but the sequence was drawn from
        s.execute(text("DELETE FROM dead_letters"))
    empty_pg(migrated_pg_url)
    with Session(engine) as s:
        for table in Base.metadata.sorted_tables:
            assert s.scalar(select(func.count()).select_from(table)) == 0, table.name
    with Session(engine) as s, s.begin():
        account = Account(
            username="b", password_hash="x", role=Role.ADMIN, display_name="b", created_at=NOW
        )
        letter = DeadLetter(topic="t", reason="r", raw=b"", raw_size=0, received_at=NOW)
        s.add_all([account, letter])
        s.flush()
        assert (account.id, letter.id) == (1, 1)
    empty_pg(migrated_pg_url)
    engine.dispose()
