"""The senior page's activity chart: movement minutes per local day, drawn as escaped SVG."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cloud.app.charts import bar_chart, daily_activity
from cloud.store.models import Device, Event, Senior
from tests.app.conftest import Browser
from tests.cloud.api.conftest import World

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


def _activity(minutes: dict[str, float]) -> dict[str, Any]:
    return {"period_start": NOW.isoformat(), "period_end": NOW.isoformat(), "minutes": minutes}


def test_movement_minutes_are_summed_per_day_in_the_seniors_time_zone(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, s.begin():
        s.add(Senior(id="s", display_name="s", settings={}, created_at=NOW))
        s.flush()
        s.add(Device(id="d", senior_id="s", first_seen=NOW, last_seen=NOW))
        s.flush()
        rows = [
            (NOW - timedelta(hours=4), {"walking": 10.0, "rest": 40.0}),  # today 08:00 KST
            (NOW - timedelta(hours=12), {"light": 5.0, "still": 55.0}),  # today 00:00 KST
            (NOW - timedelta(hours=13), {"active": 7.0}),  # yesterday 23:00 KST
            (NOW - timedelta(days=9), {"walking": 99.0}),  # outside the 7 days
        ]
        for seq, (at, minutes) in enumerate(rows, start=1):
            s.add(
                Event(
                    device_id="d",
                    seq=seq,
                    type="activity",
                    priority="normal",
                    ts=at,
                    received_at=at,
                    payload=_activity(minutes),
                )
            )
    with sessions() as s:
        days = daily_activity(s, "s", "Asia/Seoul", NOW)
    assert len(days) == 7
    assert days[-1] == (datetime(2026, 12, 5).date(), 15.0)
    assert days[-2] == (datetime(2026, 12, 4).date(), 7.0)
    assert sum(v for _, v in days) == 22.0


def test_the_chart_escapes_its_text_and_is_an_image_with_a_name() -> None:
    svg = str(bar_chart([("<b>", 3.0), ("x", 0.0)], 'a "title" <script>'))
    assert 'role="img"' in svg
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg


async def test_the_senior_page_shows_the_chart(browser: Browser, world: World) -> None:
    await browser.login("alice")
    r = await browser.get("/app/seniors/s-a")
    assert '<svg class="chart"' in r.text
    assert "Minutes of movement a day, last 7 days" in r.text
