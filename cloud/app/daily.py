"""The organisation's daily report of one past day, read from the store (no FastAPI here): per
senior, the alerts opened that day by severity and how they ended, sign of life, the robots'
online share, medication taken and missed, mood and screenings. The day is cut in one time zone
(`report_zone`); its events, alerts and heartbeat hours are read in four queries for the whole
report, each through an index on (device, time)."""

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.accounts.access import alert_senior_column
from cloud.alerts.rules import LIFE_SIGN_TYPES, is_life_sign
from cloud.alerts.service import MEDICATION_REMINDER_KINDS
from cloud.app.status import _newest, among
from cloud.store.models import Alert, AlertStatus, Device, Event, HeartbeatHour, Severity
from protocol import EventType

DEFAULT_ZONE = "Asia/Seoul"
MAX_DAYS_BACK = 366  # a year of daily reports; older days are the research exports' job
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MAJOR, Severity.MINOR, Severity.WARNING)
_CARE_TYPES = (EventType.REMINDER.value, EventType.MOOD.value, EventType.SCREENING.value)
_LIFE_SIGN_BATCH = 5  # newest life-sign-type events read per robot in the one query


class DayError(ValueError):
    """A report day that cannot be reported; `key` is the msgid of the reason."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def report_zone(zones: Iterable[str]) -> str:
    """The zone the day is cut in: the one most of the report's seniors live in (organisations
    keep no zone of their own), else DEFAULT_ZONE."""
    counted = Counter(z for z in zones if z)
    return counted.most_common(1)[0][0] if counted else DEFAULT_ZONE


def parse_day(text: str | None, now: datetime, zone: ZoneInfo) -> date:
    """The day asked for (`YYYY-MM-DD`), default yesterday in `zone`; DayError when malformed,
    in the future, or more than MAX_DAYS_BACK days ago."""
    today = now.astimezone(zone).date()
    if text is None or text == "":
        return today - timedelta(days=1)
    if len(text) != 10:
        raise DayError("day_malformed")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DayError("day_malformed") from None
    if day > today:
        raise DayError("day_future")
    if (today - day).days > MAX_DAYS_BACK:
        raise DayError("day_too_old")
    return day


def bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) of `day` in `zone`, as UTC."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ReportSenior:
    """Who a report row is about."""

    senior_id: str
    display_name: str
    region: str | None


@dataclass
class DayRow:
    """One senior's day."""

    senior: ReportSenior
    opened: dict[str, int] = field(default_factory=dict)  # severity -> alerts opened that day
    acknowledged: int = 0  # of those, acknowledged (by now)
    resolved: int = 0  # of those, resolved (by now)
    closed_other: int = 0  # cancelled by the senior or expired
    still_open: int = 0
    slowest_ack_min: int | None = None  # the longest time from opening to acknowledgement
    last_closed_at: datetime | None = None  # when the last of them was resolved
    life_sign: bool = False
    last_life_sign: datetime | None = None
    robots: int = 0
    online_share: float | None = None  # hours with a heartbeat / (24 x robots); None: no robot
    medication_taken: int = 0
    medication_missed: int = 0
    mood_mean: float | None = None  # mean valence (-1..1) of summaries with speech
    mood_n: int = 0
    screenings: list[tuple[str, float]] = field(default_factory=list)  # (instrument, score)

    @property
    def alerts_opened(self) -> int:
        return sum(self.opened.values())


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def daily_rows(
    session: Session,
    seniors: Sequence[ReportSenior],
    start: datetime,
    end: datetime,
) -> list[DayRow]:
    """Each senior's row for [start, end) (in the given order)."""
    rows = {s.senior_id: DayRow(s) for s in seniors}
    ids = list(rows)
    if not ids:
        return []
    robot_of: dict[str, str] = {}
    for device_id, senior_id in session.execute(
        select(Device.id, Device.senior_id).where(among(session, Device.senior_id, ids))
    ):
        if senior_id is not None:
            robot_of[device_id] = senior_id
            rows[senior_id].robots += 1
    _alerts(session, rows, ids, start, end)
    robots = sorted(robot_of)
    if robots:
        _events(session, rows, robot_of, robots, start, end)
        _online(session, rows, robot_of, robots, start, end)
    return [rows[s.senior_id] for s in seniors]


def _alerts(
    session: Session, rows: dict[str, DayRow], ids: list[str], start: datetime, end: datetime
) -> None:
    senior_col = alert_senior_column()
    found = session.execute(
        select(
            senior_col,
            Alert.severity,
            Alert.status,
            Alert.created_at,
            Alert.acknowledged_at,
            Alert.resolved_at,
        )
        .outerjoin(Device, Device.id == Alert.device_id)
        .where(Alert.created_at >= start, Alert.created_at < end, among(session, senior_col, ids))
    )
    for senior_id, severity, status, created, acked, resolved in found:
        row = rows.get(senior_id) if senior_id is not None else None
        if row is None:
            continue
        row.opened[severity.value] = row.opened.get(severity.value, 0) + 1
        if acked is not None:
            row.acknowledged += 1
            minutes = int((_aware(acked) - _aware(created)).total_seconds() // 60)
            row.slowest_ack_min = max(row.slowest_ack_min or 0, minutes)
        if status is AlertStatus.RESOLVED:
            row.resolved += 1
            if resolved is not None:
                at = _aware(resolved)
                row.last_closed_at = max(row.last_closed_at or at, at)
        elif status in (AlertStatus.CANCELLED, AlertStatus.EXPIRED):
            row.closed_other += 1
        else:
            row.still_open += 1


def _events(
    session: Session,
    rows: dict[str, DayRow],
    robot_of: dict[str, str],
    robots: list[str],
    start: datetime,
    end: datetime,
) -> None:
    """Reminders, moods and screenings of the day (a few a day each), and each robot's last
    life sign of the day through the board's per-robot top-k (`status.newest`)."""
    moods: dict[str, list[float]] = {}
    found = session.execute(
        select(Event.device_id, Event.type, Event.ts, Event.payload)
        .where(
            among(session, Event.device_id, robots),
            Event.ts >= start,
            Event.ts < end,
            Event.type.in_(_CARE_TYPES),
        )
        .order_by(Event.ts)
    )
    for device_id, event_type, _ts, payload in found:
        row = rows[robot_of[device_id]]
        body: dict[str, Any] = payload or {}
        if event_type == EventType.REMINDER.value and body.get("kind") in MEDICATION_REMINDER_KINDS:
            if body.get("status") == "confirmed":
                row.medication_taken += 1
            elif body.get("status") == "missed":
                row.medication_missed += 1
        elif event_type == EventType.MOOD.value and int(body.get("utterances", 0) or 0) > 0:
            valence = body.get("valence")
            if isinstance(valence, int | float):
                moods.setdefault(row.senior.senior_id, []).append(float(valence))
        elif event_type == EventType.SCREENING.value and body.get("complete"):
            row.screenings.append((str(body.get("instrument", "")), float(body.get("score", 0))))
    for senior_id, values in moods.items():
        rows[senior_id].mood_mean = sum(values) / len(values)
        rows[senior_id].mood_n = len(values)
    newest = _newest(session, robots, LIFE_SIGN_TYPES, start, _LIFE_SIGN_BATCH, raw=True, until=end)
    for device_id in robots:
        last = _life_sign(session, device_id, newest.get(device_id, []), start, end)
        if last is not None:
            row = rows[robot_of[device_id]]
            row.life_sign = True
            row.last_life_sign = max(row.last_life_sign or last, last)


def _life_sign(
    session: Session,
    device_id: str,
    batch: list[tuple[str, datetime, Any]],
    start: datetime,
    end: datetime,
) -> datetime | None:
    """The robot's last life sign in [start, end): among its newest events of those types, else
    (all of them something else, e.g. touches with no contact) further back in the day."""
    for event_type, ts, body in batch:
        if is_life_sign(event_type, json.loads(body) if body else {}):
            return _aware(ts)
    if len(batch) < _LIFE_SIGN_BATCH:
        return None  # the day holds no more of them
    for event_type, ts, payload in session.execute(
        select(Event.type, Event.ts, Event.payload)
        .where(
            Event.device_id == device_id,
            Event.type.in_(LIFE_SIGN_TYPES),
            Event.ts >= start,
            Event.ts < end,
        )
        .order_by(Event.ts.desc())
    ):
        if is_life_sign(event_type, payload or {}):
            return _aware(ts)
    return None


def _online(
    session: Session,
    rows: dict[str, DayRow],
    robot_of: dict[str, str],
    robots: list[str],
    start: datetime,
    end: datetime,
) -> None:
    """Hours with at least one heartbeat, over 24 h per robot (heartbeat_hours, hourly in UTC:
    exact for zones a whole number of hours from UTC)."""
    hours: dict[str, int] = {}
    for device_id, n in session.execute(
        select(HeartbeatHour.device_id, func.count())
        .where(
            among(session, HeartbeatHour.device_id, robots),
            HeartbeatHour.hour >= start,
            HeartbeatHour.hour < end,
            HeartbeatHour.count > 0,
        )
        .group_by(HeartbeatHour.device_id)
    ):
        senior_id = robot_of[device_id]
        hours[senior_id] = hours.get(senior_id, 0) + int(n)
    span_h = (end - start).total_seconds() / 3600
    for row in rows.values():
        if row.robots:
            row.online_share = min(1.0, hours.get(row.senior.senior_id, 0) / (span_h * row.robots))
