"""What the embedded SQLite store holds, measured, and the start-up warning beyond it.

benchmarks/alerts.py on this 2-core machine (issue 16, bulk ingest): SQLite with 5,000 robots'
fleet traffic at 200 msg/s keeps emergency -> webhook p95 at 85 ms and at 400 msg/s at 142 ms
(target 200 ms). At the issue's sizing (1,000 robots = 200 msg/s), 400 msg/s is 2,000 robots: the
SQLite store holds 1,000 robots with a 2x margin. Beyond `SQLITE_ROBOTS_HELD` run PostgreSQL.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import Device

SQLITE_ROBOTS_HELD = 2_000


def sqlite_capacity_warning(sessions: sessionmaker[Session]) -> str | None:
    """A warning (Korean and English) when an SQLite store serves more robots than it holds."""
    with sessions() as session:
        if session.get_bind().dialect.name != "sqlite":
            return None
        robots = session.scalar(select(func.count()).select_from(Device)) or 0
    if robots <= SQLITE_ROBOTS_HELD:
        return None
    return (
        f"SQLite 저장소가 로봇 {robots:,}대를 받고 있습니다. 측정된 한도는 {SQLITE_ROBOTS_HELD:,}대"
        " (알림 지연 p95 200 ms 이내)입니다. PostgreSQL을 사용하세요 (DOLBOM_DATABASE_URL). / "
        f"The SQLite store serves {robots:,} robots; it was measured to hold"
        f" {SQLITE_ROBOTS_HELD:,} (alert p95 within 200 ms). Use PostgreSQL (DOLBOM_DATABASE_URL)."
    )
