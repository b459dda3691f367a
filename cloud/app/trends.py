"""/app/seniors/{id}/trends: the last 7 or 30 days of movement, mood, talk, reminder adherence
and screenings, as server-side SVG charts with their numbers in tables (no chart script, no
inline code for the CSP). Numbers and labels only: the events carry no words."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.access import get_senior
from cloud.accounts.audit import audit
from cloud.accounts.errors import NotFoundError
from cloud.api.routers.events import senior_events
from cloud.app.charts import MOVING
from cloud.app.pages import _caller, _Denied, _deny, _login_redirect
from cloud.app.web import PREFIX, context, render
from cloud.store.models import Event
from protocol import EventType

router = APIRouter(prefix=f"{PREFIX}/seniors/{{senior_id}}/trends", include_in_schema=False)

PERIODS = (7, 30)
_TYPES = (
    EventType.ACTIVITY,
    EventType.MOOD,
    EventType.CONVERSATION,
    EventType.REMINDER,
    EventType.SCREENING,
)

Day = tuple[date, float | None]


@dataclass(frozen=True)
class Screening:
    """One screening the robot asked: when, which instrument, its score."""

    day: date
    instrument: str
    score: float
    complete: bool


@dataclass(frozen=True)
class Trends:
    """Daily series in the senior's time zone, oldest first (None: nothing that day)."""

    days: int
    activity: list[Day]  # minutes of movement
    mood: list[Day]  # mean valence as 0 (low) .. 100 (good)
    talk: list[Day]  # minutes of conversation
    adherence: list[Day]  # % of reminders confirmed among those settled
    screenings: list[Screening]


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def daily_trends(session: Session, senior_id: str, tz: str, now: datetime, days: int) -> Trends:
    """One query over the period's events of five types, bucketed by local day."""
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    rows = session.execute(
        select(Event.type, Event.ts, Event.payload)
        .where(
            senior_events(session, senior_id),
            Event.type.in_([t.value for t in _TYPES]),
            Event.ts >= start,
        )
        .order_by(Event.ts)
    )
    moving: dict[date, float] = defaultdict(float)
    valence: dict[date, list[float]] = defaultdict(list)
    talk: dict[date, float] = defaultdict(float)
    settled: dict[date, list[bool]] = defaultdict(list)
    screenings: list[Screening] = []
    for kind, ts, payload in rows:
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=ZoneInfo("UTC"))
        day = ts.astimezone(zone).date()
        if not first <= day <= today:
            continue
        p: dict[str, Any] = payload
        if kind == EventType.ACTIVITY.value:
            minutes = p.get("minutes") or {}
            moving[day] += sum(float(minutes.get(k, 0.0)) for k in MOVING)
        elif kind == EventType.MOOD.value and p.get("utterances", 1):
            valence[day].append(float(p.get("valence", 0.0)))
        elif kind == EventType.CONVERSATION.value:
            talk[day] += float(p.get("talk_minutes", 0.0))
        elif kind == EventType.REMINDER.value and p.get("status") in ("confirmed", "missed"):
            settled[day].append(p.get("status") == "confirmed")
        elif kind == EventType.SCREENING.value:
            screenings.append(
                Screening(
                    day,
                    str(p.get("instrument", "")),
                    float(p.get("score", 0.0)),
                    bool(p.get("complete", False)),
                )
            )
    span = [first + timedelta(days=i) for i in range(days)]
    return Trends(
        days=days,
        activity=[(d, moving.get(d, 0.0)) for d in span],
        mood=[
            (d, round((sum(valence[d]) / len(valence[d]) + 1.0) * 50.0) if valence.get(d) else None)
            for d in span
        ],
        talk=[(d, talk.get(d, 0.0)) for d in span],
        adherence=[
            (d, 100.0 * sum(settled[d]) / len(settled[d]) if settled.get(d) else None) for d in span
        ],
        screenings=screenings,
    )


def day_chart(values: Sequence[Day], title: str, peak: float | None = None) -> Markup:
    """An accessible SVG bar chart of daily values; a day without data has no bar and a dash.
    Seven days show every value; thirty days label every fifth day."""
    width, height, top, bottom = 320, 150, 18, 22
    bar_w = width / max(1, len(values))
    known = [v for _, v in values if v is not None]
    scale = peak or max(known, default=0.0) or 1.0
    every = 1 if len(values) <= 7 else 5
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    last = len(values) - 1
    for i, (day, value) in enumerate(values):
        cx = i * bar_w + bar_w / 2
        y: float = height - bottom
        if value is not None:
            h = max(1.5, (height - top - bottom) * min(value, scale) / scale)  # 0 is not "none"
            y = height - bottom - h
            parts.append(
                f'<rect x="{i * bar_w + bar_w * 0.15:.1f}" y="{y:.1f}"'
                f' width="{bar_w * 0.7:.1f}" height="{h:.1f}" fill="#0b3d91"/>'
            )
        if every == 1:
            shown = "–" if value is None else f"{value:.0f}"
            parts.append(
                f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11"'
                f' fill="#111">{shown}</text>'
            )
        if (i % every == 0 and last - i >= every) or i == last:
            # the first and last dates are anchored inside the chart, not cut at its edges
            anchor, x = "middle", cx
            if every > 1 and i == 0:
                anchor, x = "start", 0.0
            elif every > 1 and i == last:
                anchor, x = "end", float(width)
            parts.append(
                f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="11"'
                f' fill="#111">{escape(day.strftime("%m-%d"))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every interpolated text is escaped above)


@router.get("")
def trends_page(
    request: Request,
    senior_id: str,
    days: Annotated[int, Query()] = 7,
) -> Response:
    """Charts of the last 7 or 30 days (any other number shows 7)."""
    days = days if days in PERIODS else PERIODS[0]
    try:
        principal = _caller(request)
        if principal is None:
            return _login_redirect(request)
        ctx = context(request)
        now = ctx.clock()
        with ctx.sessions() as session, session.begin():
            try:
                senior = get_senior(session, principal, senior_id[:64])
            except NotFoundError:
                raise _Denied(404, "not_found") from None
            trends = daily_trends(session, senior.id, senior.timezone, now, days)
            audit(
                session,
                principal,
                "read",
                "senior",
                now,
                resource_id=senior.id,
                senior_id=senior.id,
                detail=f"app: trends {days} days",
            )
            session.expunge(senior)
    except _Denied as denied:
        return _deny(request, getattr(request.state, "principal", None), denied)
    return render(
        request,
        "trends.html.j2",
        {"senior": senior, "tr": trends, "periods": PERIODS, "chart": day_chart},
        principal=principal,
    )
