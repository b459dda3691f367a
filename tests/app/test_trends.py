"""The 7- and 30-day trends: movement, mood, talk, reminder adherence and screenings per local
day in the senior's time zone, a chart and a table each, scoped and audited like the senior page."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.app.trends import daily_trends, day_chart
from cloud.store.models import AuditLog, Device, Event, Senior
from tests.app.conftest import Browser
from tests.cloud.api.conftest import World

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
TODAY = date(2026, 12, 5)


def _period(at: datetime) -> dict[str, Any]:
    return {"period_start": at.isoformat(), "period_end": at.isoformat()}


def _seed(
    sessions: sessionmaker[Session], rows: list[tuple[datetime, str, dict[str, Any]]]
) -> None:
    with sessions() as s, s.begin():
        s.add(Senior(id="s", display_name="s", settings={}, created_at=NOW))
        s.flush()
        s.add(Device(id="d", senior_id="s", first_seen=NOW, last_seen=NOW))
        s.flush()
        for seq, (at, kind, payload) in enumerate(rows, start=1):
            s.add(
                Event(
                    device_id="d",
                    seq=seq,
                    type=kind,
                    priority="normal",
                    ts=at,
                    received_at=at,
                    payload=payload,
                )
            )


def test_each_series_is_a_daily_value_in_the_seniors_time_zone(
    sessions: sessionmaker[Session],
) -> None:
    today = NOW - timedelta(hours=1)  # 11:00 KST
    yesterday = NOW - timedelta(hours=13)  # 23:00 KST the day before
    old = NOW - timedelta(days=20)
    mood = {"shares": {"calm": 1.0}, "arousal": 0.0, "utterances": 3}
    _seed(
        sessions,
        [
            (today, "activity", _period(today) | {"minutes": {"walking": 10.0, "rest": 50.0}}),
            (today, "mood", _period(today) | mood | {"valence": 0.5}),
            (today, "mood", _period(today) | mood | {"valence": -0.1}),
            (yesterday, "mood", _period(yesterday) | mood | {"valence": -1.0}),
            (
                today,
                "conversation",
                _period(today) | {"turns": 4, "robot_turns": 4, "talk_minutes": 6.5},
            ),
            (today, "reminder", {"reminder_id": "7", "kind": "medicine", "status": "confirmed"}),
            (today, "reminder", {"reminder_id": "8", "kind": "meal", "status": "missed"}),
            (today, "reminder", {"reminder_id": "9", "kind": "meal", "status": "given"}),
            (
                yesterday,
                "reminder",
                {"reminder_id": "7", "kind": "medicine", "status": "confirmed"},
            ),
            (
                old,
                "screening",
                {"instrument": "phq9", "answers": [1, 2], "score": 11, "complete": True},
            ),
        ],
    )
    with sessions() as s:
        week = daily_trends(s, "s", "Asia/Seoul", NOW, 7)
        month = daily_trends(s, "s", "Asia/Seoul", NOW, 30)
    assert len(week.activity) == 7
    assert len(month.activity) == 30
    assert week.activity[-1] == (TODAY, 10.0)
    assert week.mood[-1] == (TODAY, 60)  # mean valence 0.2 -> 60 of 100
    assert week.mood[-2] == (TODAY - timedelta(days=1), 0)
    assert week.mood[0] == (TODAY - timedelta(days=6), None)  # no data is not a bad mood
    assert week.talk[-1] == (TODAY, 6.5)
    assert week.adherence[-1] == (TODAY, 50.0)  # "given" is not settled yet
    assert week.adherence[-2] == (TODAY - timedelta(days=1), 100.0)
    assert week.screenings == []
    [screening] = month.screenings
    assert (screening.instrument, screening.score, screening.day) == (
        "phq9",
        11.0,
        TODAY - timedelta(days=20),
    )


def test_a_thirty_day_chart_labels_every_fifth_day_and_escapes_its_title() -> None:
    values = [(TODAY - timedelta(days=29 - i), float(i) if i % 3 else None) for i in range(30)]
    svg = str(day_chart(values, "<script>x</script>"))
    assert "<script>" not in svg
    assert svg.count("<rect") == 20  # days without data have no bar
    assert svg.count("<text") == 6  # days 0, 5, ..., 20 and the last (25 would touch it)


async def test_the_trends_page_shows_thirty_days_and_is_audited(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    senior = await browser.get("/app/seniors/s-a")
    assert 'href="/app/seniors/s-a/trends?days=30"' in senior.text
    r = await browser.get("/app/seniors/s-a/trends?days=30")
    assert r.status_code == 200
    for title in (
        "Minutes of movement a day, last 30 days",
        "Mood (0 low – 100 good, daily mean, last 30 days)",
        "Minutes of conversation a day, last 30 days",
        "Reminders confirmed (%, last 30 days)",
        "Screenings (last 30 days)",
    ):
        assert title in r.text
    assert r.text.count('<svg class="chart"') == 4
    with sessions() as s:
        details = s.scalars(select(AuditLog.detail).where(AuditLog.senior_id == "s-a")).all()
    assert "app: trends 30 days" in details
    seven = await browser.get("/app/seniors/s-a/trends?days=99")
    assert "last 7 days" in seven.text


async def test_another_seniors_trends_are_404(browser: Browser, world: World) -> None:
    await browser.login("alice")
    assert (await browser.get("/app/seniors/s-b/trends")).status_code == 404
