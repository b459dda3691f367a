"""A senior's daily activity minutes, and a bar chart of them drawn as SVG on the server
(no chart script, nothing inline for the CSP to refuse)."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.routers.events import senior_events
from cloud.store.models import Event
from protocol import EventType

# Activity 2.x classes that are movement (still and rest are not; 1.x postures are not either).
MOVING = ("light", "walking", "active")


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def daily_activity(
    session: Session, senior_id: str, tz: str, now: datetime, days: int = 7
) -> list[tuple[date, float]]:
    """Minutes of movement per day in the senior's time zone, oldest first, today last."""
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    totals = {first + timedelta(days=i): 0.0 for i in range(days)}
    rows = session.execute(
        select(Event.ts, Event.payload).where(
            senior_events(session, senior_id),
            Event.type == EventType.ACTIVITY.value,
            Event.ts >= start,
        )
    )
    for ts, payload in rows:
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=ZoneInfo("UTC"))
        day = ts.astimezone(zone).date()
        if day in totals:
            minutes = payload.get("minutes") or {}
            totals[day] += sum(float(minutes.get(k, 0.0)) for k in MOVING)
    return sorted(totals.items())


def bar_chart(values: Sequence[tuple[str, float]], title: str, peak: float | None = None) -> Markup:
    """An accessible SVG bar chart (role img, its title and every value as text); the bars
    scale to `peak` when given (e.g. 100 for percentages), else to the largest value."""
    width, height, top, bottom = 320, 150, 18, 22
    bar_w = width / max(1, len(values))
    peak = peak or max((v for _, v in values), default=0.0) or 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(values):
        h = (height - top - bottom) * value / peak
        x = i * bar_w + bar_w * 0.15
        y = height - bottom - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.7:.1f}" height="{h:.1f}"'
            ' fill="#0b3d91"/>'
        )
        cx = i * bar_w + bar_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11"'
            f' fill="#111">{value:.0f}</text>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{height - 6}" text-anchor="middle" font-size="11"'
            f' fill="#111">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every interpolated text is escaped above)
