"""Uptime hours from the heartbeats' hourly roll-up equal those counted from every heartbeat,
in zones whose hours are not whole UTC hours and on DST days (pure)."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from cloud.research.metrics import day_window, up_hours_of


def _counted_from_every_heartbeat(
    beats: list[datetime], start: datetime, end: datetime
) -> set[int]:
    up = set()
    h, lo = 0, start
    while lo < end:
        hi = min(lo + timedelta(hours=1), end)
        if any(lo <= b < hi for b in beats):
            up.add(h)
        h, lo = h + 1, hi
    return up


def _rolled_up(beats: list[datetime]) -> list[tuple[datetime, datetime, datetime]]:
    hours: dict[datetime, list[datetime]] = {}
    for b in beats:
        hours.setdefault(b.replace(minute=0, second=0, microsecond=0), []).append(b)
    return [(hour, min(bs), max(bs)) for hour, bs in hours.items()]


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Asia/Seoul", date(2026, 3, 2)),
        ("Asia/Kolkata", date(2026, 3, 2)),  # UTC+5:30: each local hour spans two UTC hours
        ("Asia/Kathmandu", date(2026, 3, 2)),  # UTC+5:45
        ("America/New_York", date(2026, 3, 8)),  # 23 hours
        ("America/New_York", date(2026, 11, 1)),  # 25 hours
    ],
)
def test_uptime_from_the_roll_up_is_exact(tz: str, day: date) -> None:
    start, end = day_window(day, tz)
    rng = random.Random(f"{tz}{day}")
    for _ in range(200):
        n = rng.choice([0, 1, 2, 5, 30])
        span = (end - start).total_seconds() + 7200
        beats = [
            (start - timedelta(hours=1) + timedelta(seconds=rng.uniform(0, span))).astimezone(UTC)
            for _ in range(n)
        ]
        expected = _counted_from_every_heartbeat(beats, start, end)
        assert up_hours_of(_rolled_up(beats), start, end) == expected
