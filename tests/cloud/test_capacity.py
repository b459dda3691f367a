"""Issue 16: an SQLite store serving more robots than it was measured to hold warns at start."""

from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.capacity import SQLITE_ROBOTS_HELD, sqlite_capacity_warning
from cloud.store.models import Device

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def robots(sessions: sessionmaker[Session], n: int, prefix: str) -> None:
    rows = [
        {"id": f"{prefix}-{i:05d}", "first_seen": NOW, "last_seen": NOW, "online": True}
        for i in range(n)
    ]
    with sessions() as s, s.begin():
        s.execute(insert(Device), rows)


def test_sqlite_warns_beyond_what_it_holds_postgresql_never(
    sessions: sessionmaker[Session],
) -> None:
    robots(sessions, SQLITE_ROBOTS_HELD, "cap")
    assert sqlite_capacity_warning(sessions) is None  # at the limit: fine
    robots(sessions, 1, "over")
    warning = sqlite_capacity_warning(sessions)
    if sessions.kw["bind"].dialect.name == "sqlite":
        assert warning is not None
        assert f"{SQLITE_ROBOTS_HELD + 1:,}" in warning
        assert "PostgreSQL을 사용하세요" in warning  # Korean
        assert "Use PostgreSQL" in warning  # and English
    else:
        assert warning is None
