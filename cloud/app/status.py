"""A senior's one-second status and the triage order, read from the store (no FastAPI here)."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from cloud.accounts.access import alert_senior_column
from cloud.alerts.rules import (
    DEFAULT_RULES,
    DEFAULT_SCREENING_THRESHOLDS,
    LIFE_SIGN_TYPES,
    is_life_sign,
)
from cloud.alerts.service import MEDICATION_REMINDER_KINDS
from cloud.store.models import (
    Alert,
    AlertStatus,
    Device,
    Event,
    OrganisationRegion,
    OrganisationSenior,
    Senior,
    Severity,
)
from protocol import EventType

OPEN_STATUSES = (AlertStatus.OPEN, AlertStatus.NOTIFIED, AlertStatus.ACKNOWLEDGED)
LOW_BATTERY_PCT = 20.0
_LIFE_SIGN_SCAN = 200  # newest life-sign-type events read per robot (as the inactivity sweep)
_LIFE_SIGN_BATCH = 5  # per robot in the board's one query; none passing: _LIFE_SIGN_SCAN
# The board reads each kind in one query over this recent window; a robot with nothing there
# is looked up on its own (further back): most robots report within the window.
RECENT_LIFE_SIGN = timedelta(hours=26)
RECENT_BATTERY = timedelta(days=2)
# The board's care criteria, each its own step of the risk order (docs/app.md "risk criteria").
MISSED_STREAK = 2  # this many medication reminders missed in a row, newest first
RECENT_REMINDERS = timedelta(days=14)  # a streak is read among these
_CARE_SCAN = 12  # newest reminder (given, confirmed, missed) and screening events per robot
MOOD_WEEK = timedelta(days=7)  # the last 7 days' mean valence ...
MOOD_BASELINE = timedelta(days=30)  # ... against the 30 days before them
MOOD_MARGIN = DEFAULT_RULES.mood_drop  # valence (-1..1) this far below the baseline: a decline
MOOD_MIN_SAMPLES = DEFAULT_RULES.mood_min_samples  # in each window, or no verdict
RECENT_SCREENING = timedelta(days=180)  # the latest screening per instrument among these

SEVERITY_RANK: dict[Severity, int] = {
    Severity.CRITICAL: 0,
    Severity.HIGH: 1,
    Severity.MAJOR: 1,
    Severity.MINOR: 2,
    Severity.WARNING: 3,
    Severity.NORMAL: 3,
    Severity.INFO: 4,
}
_NO_ALERT_RANK = len(SEVERITY_RANK)


class Level(StrEnum):
    """What the status line says first."""

    OK = "ok"
    ATTENTION = "attention"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert not yet closed."""

    id: int
    kind: str
    severity: Severity
    status: AlertStatus
    created_at: datetime


class Why(StrEnum):
    """A reason the status line is not OK, one per care criterion (docs/app.md)."""

    ALERT = "alert"  # an alert nobody has acknowledged: its kind, since when
    ACKNOWLEDGED = "acknowledged"  # an acknowledged alert still open: its kind
    NO_LIFE_SIGN = "no_life_sign"  # none within the inactivity window: since when (or never)
    NO_ROBOT = "no_robot"
    OFFLINE = "offline"  # a robot offline: since when, if the store knows
    MISSED_MEDICATION = "missed_medication"  # the streak
    MOOD = "mood"  # the drop in valence
    SCREENING = "screening"  # instrument and score
    BATTERY = "battery"  # the lowest robot's charge
    FAULTS = "faults"  # the failed self-tests


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason, with what its words need: a time, a number, a name."""

    why: Why
    since: datetime | None = None
    value: float | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class SeniorStatus:
    """Everything the status line and the triage board show for one senior."""

    senior_id: str
    display_name: str
    timezone: str
    region: str | None
    level: Level
    last_life_sign: datetime | None
    no_life_sign: bool  # none within the senior's inactivity window
    robots: int
    robots_online: int
    battery_pct: float | None
    charging: bool | None
    faults: tuple[str, ...]
    open_alerts: tuple[OpenAlert, ...]
    organisation: str | None = None  # the id of the organisation caring for them
    missed_streak: int = 0  # medication reminders missed in a row, newest first
    mood_drop: float | None = None  # 30-day baseline minus last 7 days' mean valence
    screenings_over: tuple[tuple[str, float], ...] = ()  # (instrument, latest score) at cut-off+
    offline_since: datetime | None = None  # the earliest status change of an offline robot

    @property
    def active_alerts(self) -> tuple[OpenAlert, ...]:
        """Alerts nobody has acknowledged yet."""
        return tuple(a for a in self.open_alerts if a.status is not AlertStatus.ACKNOWLEDGED)

    @property
    def worst_alert(self) -> OpenAlert | None:
        """The most severe unacknowledged alert (the newest of equals)."""
        active = self.active_alerts
        return min(active, key=lambda a: SEVERITY_RANK.get(a.severity, 4)) if active else None

    @property
    def offline(self) -> bool:
        """No robot, or a robot that is not online."""
        return self.robots == 0 or self.robots_online < self.robots

    @property
    def missed_medication(self) -> bool:
        """At least MISSED_STREAK medication reminders missed in a row."""
        return self.missed_streak >= MISSED_STREAK

    @property
    def mood_declined(self) -> bool:
        """The last 7 days' mood at least MOOD_MARGIN below the 30 days before."""
        return self.mood_drop is not None and self.mood_drop >= MOOD_MARGIN

    @property
    def low_battery(self) -> bool:
        return (
            self.battery_pct is not None
            and not self.charging
            and (self.battery_pct < LOW_BATTERY_PCT)
        )

    def reasons(self) -> tuple[Reason, ...]:
        """Why the line is not OK, in the board's risk order (empty: OK). The level and the
        board's order read the same criteria: one set of rules."""
        out: list[Reason] = []
        for acked in (False, True):
            seen: set[str] = set()
            for a in sorted(self.open_alerts, key=lambda a: SEVERITY_RANK.get(a.severity, 4)):
                if (a.status is AlertStatus.ACKNOWLEDGED) is acked and a.kind not in seen:
                    seen.add(a.kind)
                    why = Why.ACKNOWLEDGED if acked else Why.ALERT
                    out.append(Reason(why, since=a.created_at, name=a.kind))
            if not acked:
                if self.no_life_sign:
                    out.append(Reason(Why.NO_LIFE_SIGN, since=self.last_life_sign))
                if self.robots == 0:
                    out.append(Reason(Why.NO_ROBOT))
                elif self.offline:
                    out.append(Reason(Why.OFFLINE, since=self.offline_since))
                if self.missed_medication:
                    out.append(Reason(Why.MISSED_MEDICATION, value=self.missed_streak))
                if self.mood_declined:
                    out.append(Reason(Why.MOOD, value=self.mood_drop))
                for instrument, score in self.screenings_over:
                    out.append(Reason(Why.SCREENING, value=score, name=instrument))
        if self.low_battery:
            out.append(Reason(Why.BATTERY, value=self.battery_pct))
        if self.faults:
            out.append(Reason(Why.FAULTS, name=", ".join(self.faults)))
        return tuple(out)

    def risk_key(self) -> tuple[int, int, int, int, int, int, int, int, int, int, float, str]:
        """Sort key, most at risk first: unacknowledged alerts by severity and count, no sign
        of life, robot offline, a missed-medication streak, mood decline, a screening over its
        cut-off, acknowledged alerts open, low battery, faults, longest silence."""
        active = self.active_alerts
        worst = min((SEVERITY_RANK.get(a.severity, 4) for a in active), default=_NO_ALERT_RANK)
        last = self.last_life_sign.timestamp() if self.last_life_sign else float("-inf")
        return (
            worst,
            -len(active),
            0 if self.no_life_sign else 1,
            0 if self.offline else 1,
            0 if self.missed_medication else 1,
            0 if self.mood_declined else 1,
            0 if self.screenings_over else 1,
            -len(self.open_alerts),
            0 if self.low_battery else 1,
            -len(self.faults),
            last,
            self.senior_id,
        )


def _level(active: int, attention: bool) -> Level:
    if active:
        return Level.ALERT
    return Level.ATTENTION if attention else Level.OK


def _last_life_sign(session: Session, device_id: str) -> datetime | None:
    rows = session.execute(
        select(Event.type, Event.ts, Event.payload)
        .where(Event.device_id == device_id, Event.type.in_(LIFE_SIGN_TYPES))
        .order_by(Event.ts.desc())
        .limit(_LIFE_SIGN_SCAN)
    )
    for event_type, ts, payload in rows:
        if is_life_sign(event_type, payload):
            found: datetime = ts
            return found
    return None


def _battery(session: Session, device_id: str) -> tuple[float, bool] | None:
    row = session.execute(
        select(Event.payload)
        .where(Event.device_id == device_id, Event.type == EventType.BATTERY.value)
        .order_by(Event.ts.desc(), Event.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    payload = row[0]
    return float(payload.get("level_pct", 0.0)), bool(payload.get("charging", False))


def _newest(
    session: Session,
    device_ids: Sequence[str],
    types: Sequence[str],
    since: datetime,
    k: int,
    raw: bool = False,
    by_type: bool = False,
    until: datetime | None = None,
) -> dict[str, list[tuple[str, datetime, Any]]]:
    """Up to `k` newest events of `types` per robot since `since`, newest first, in one query
    for a whole board. PostgreSQL: per robot a LATERAL top-k that walks its (device_id, ts)
    index backwards and stops after k rows, the ids as one array parameter; SQLite (no
    LATERAL): a window function over the robots' rows in the window. `raw`: each payload as
    its JSON text, for the caller to decode only the ones it reads. `by_type`: k of each type
    (per robot and type, through the (device_id, type, ts) index), newest first per type.
    `until`: only events before it (a past day's report)."""
    if not device_ids:
        return {}
    payload = (cast(Event.payload, Text) if raw else Event.payload).label("payload")
    before = true() if until is None else Event.ts < until
    if session.get_bind().dialect.name == "postgresql":
        robots = (
            func.unnest(bindparam("robots", list(device_ids), type_=ARRAY(String)))
            .table_valued("id")
            .render_derived(name="robot")
        )
        kinds = (
            func.unnest(bindparam("kinds", list(types), type_=ARRAY(String)))
            .table_valued("type")
            .render_derived(name="kind")
        )
        of_type = Event.type == kinds.c.type if by_type else Event.type.in_(types)
        newest = (
            select(Event.type, Event.ts, payload)
            .where(Event.device_id == robots.c.id, of_type, Event.ts >= since, before)
            .order_by(Event.ts.desc(), Event.id.desc())
            .limit(k)
            .lateral("newest")
        )
        query = select(robots.c.id, newest.c.type, newest.c.ts, newest.c.payload)
        if by_type:
            query = query.select_from(robots).join(kinds, true()).join(newest, true())
        else:
            query = query.join_from(robots, newest, true())
    else:
        ranked = (
            select(
                Event.device_id,
                Event.type,
                Event.ts,
                payload,
                func.row_number()
                .over(
                    partition_by=(Event.device_id, Event.type) if by_type else Event.device_id,
                    order_by=(Event.ts.desc(), Event.id.desc()),
                )
                .label("rank"),
            )
            .where(
                Event.device_id.in_(device_ids), Event.type.in_(types), Event.ts >= since, before
            )
            .subquery()
        )
        query = (
            select(ranked.c.device_id, ranked.c.type, ranked.c.ts, ranked.c.payload)
            .where(ranked.c.rank <= k)
            .order_by(ranked.c.device_id, ranked.c.rank)
        )
    out: dict[str, list[tuple[str, datetime, Any]]] = {}
    for device_id, event_type, ts, body in session.execute(query):
        out.setdefault(device_id, []).append((event_type, ts, body))
    return out


def _mood_windows(
    session: Session, device_ids: Sequence[str], now: datetime
) -> dict[str, tuple[float, int, float, int]]:
    """Per robot, in one grouped query for the whole board: the sum and count of mood valences
    in the last MOOD_WEEK and in the MOOD_BASELINE before it (summaries with speech only)."""
    if not device_ids:
        return {}
    week = now - MOOD_WEEK
    valence = Event.payload["valence"].as_float()
    recent = Event.ts > week

    def part(inside: ColumnElement[bool]) -> tuple[Any, Any]:
        value = case((inside, valence))
        return func.coalesce(func.sum(value), 0.0), func.count(value)

    query = (
        select(Event.device_id, *part(recent), *part(~recent))
        .where(
            among(session, Event.device_id, device_ids),
            Event.type == EventType.MOOD.value,
            Event.ts > week - MOOD_BASELINE,
            Event.ts <= now,
            Event.payload["utterances"].as_integer() > 0,
        )
        .group_by(Event.device_id)
    )
    return {
        device_id: (float(w_sum), int(w_n), float(b_sum), int(b_n))
        for device_id, w_sum, w_n, b_sum, b_n in session.execute(query)
    }


def _mood_drop(windows: Iterable[tuple[float, int, float, int]]) -> float | None:
    """Baseline mean minus last week's mean over a senior's robots; None without enough of each."""
    w_sum = w_n = b_sum = b_n = 0.0
    for ws, wn, bs, bn in windows:
        w_sum, w_n, b_sum, b_n = w_sum + ws, w_n + wn, b_sum + bs, b_n + bn
    if w_n < MOOD_MIN_SAMPLES or b_n < MOOD_MIN_SAMPLES:
        return None
    return b_sum / b_n - w_sum / w_n


def _missed_streak(reminders: Iterable[tuple[datetime, dict[str, Any]]]) -> int:
    """Medication reminders missed in a row, newest first, over all of a senior's robots."""
    streak = 0
    for _, p in sorted(reminders, key=lambda r: r[0], reverse=True):
        if p.get("kind") not in MEDICATION_REMINDER_KINDS:
            continue
        status = p.get("status")
        if status == "missed":
            streak += 1
        elif status == "confirmed":
            break
    return streak


def _cut_offs(senior: Senior) -> dict[str, float]:
    """The instruments' cut-offs, with the senior's own overrides (as the alert rule reads them)."""
    rules = (senior.settings or {}).get("rules") or {}
    own = rules.get("screening_thresholds") if isinstance(rules, dict) else None
    cut = dict(DEFAULT_SCREENING_THRESHOLDS)
    if isinstance(own, dict):
        for name, value in own.items():
            if isinstance(value, int | float):
                cut[str(name)] = float(value)
    return cut


def _screenings_over(
    screenings: Iterable[tuple[datetime, dict[str, Any]]], cut: dict[str, float]
) -> tuple[tuple[str, float], ...]:
    """Instruments whose latest complete score is at or over the cut-off, with that score."""
    latest: dict[str, tuple[datetime, float]] = {}
    for ts, p in screenings:
        name = str(p.get("instrument", ""))
        if not p.get("complete") or name not in cut:
            continue
        if name not in latest or ts > latest[name][0]:
            latest[name] = (ts, float(p.get("score", 0.0)))
    return tuple(sorted((n, s) for n, (_, s) in latest.items() if s >= cut[n]))


def among(session: Session, column: Any, ids: Sequence[str]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL as `= ANY(array)`: one parameter instead of one per id,
    so a board of hundreds of seniors is not hundreds of placeholders that SQLAlchemy renders
    and psycopg parses again on every request (its query cache skips long statements)."""
    if session.get_bind().dialect.name == "postgresql":
        found: ColumnElement[bool] = column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
        return found
    found = column.in_(ids)
    return found


def _aware(ts: datetime | None, like: datetime) -> datetime | None:
    """SQLite returns naive datetimes (stored as UTC): give them `like`'s zone."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=like.tzinfo)


def statuses(session: Session, seniors: Sequence[Senior], now: datetime) -> list[SeniorStatus]:
    """The status of each senior (in the given order)."""
    ids = [s.id for s in seniors]
    if not ids:
        return []
    # Plain rows, not ORM objects: only the columns the status needs.
    devices: dict[str, list[tuple[str, bool, dict[str, Any] | None, datetime | None]]] = {
        i: [] for i in ids
    }
    for device_id, senior_id, online, heartbeat, status_at in session.execute(
        select(
            Device.id, Device.senior_id, Device.online, Device.last_heartbeat, Device.last_status_at
        ).where(among(session, Device.senior_id, ids))
    ):
        if senior_id is not None:
            devices[senior_id].append((device_id, bool(online), heartbeat, status_at))
    alerts: dict[str, list[OpenAlert]] = {i: [] for i in ids}
    senior_col = alert_senior_column()
    rows = session.execute(
        select(Alert.id, Alert.kind, Alert.severity, Alert.status, Alert.created_at, senior_col)
        .outerjoin(Device, Device.id == Alert.device_id)
        .where(Alert.status.in_(OPEN_STATUSES), among(session, senior_col, ids))
        .order_by(Alert.created_at.desc(), Alert.id.desc())
    )
    for alert_id, kind, severity, alert_status, created_at, senior_id in rows:
        if senior_id in alerts:
            alerts[senior_id].append(
                OpenAlert(
                    alert_id, kind.value, severity, alert_status, _aware(created_at, now) or now
                )
            )
    # The senior's organisation and its region for them; else the older `settings["region"]`.
    placed: dict[str, tuple[str | None, str | None]] = {
        senior_id: (organisation_id, region)
        for senior_id, organisation_id, region in session.execute(
            select(
                OrganisationSenior.senior_id,
                OrganisationSenior.organisation_id,
                OrganisationRegion.name,
            )
            .outerjoin(OrganisationRegion, OrganisationRegion.id == OrganisationSenior.region_id)
            .where(among(session, OrganisationSenior.senior_id, ids))
        )
    }
    all_ids = [d[0] for own in devices.values() for d in own]
    # The payloads as JSON text: the newest is most often a life sign, so about one decoded
    # per robot instead of all _LIFE_SIGN_BATCH.
    recent_signs = _newest(
        session, all_ids, LIFE_SIGN_TYPES, now - RECENT_LIFE_SIGN, _LIFE_SIGN_BATCH, raw=True
    )
    recent_battery = _newest(session, all_ids, (EventType.BATTERY.value,), now - RECENT_BATTERY, 1)
    # The care criteria: medication reminders and screenings, k of each per robot in one query
    # (reminders come daily, screenings rarely), and the mood windows in one grouped query.
    care = _newest(
        session,
        all_ids,
        (EventType.REMINDER.value, EventType.SCREENING.value),
        now - RECENT_SCREENING,
        _CARE_SCAN,
        by_type=True,
    )
    moods = _mood_windows(session, all_ids, now)
    reminder_since = now - RECENT_REMINDERS

    def care_of(device_ids: Iterable[str], kind: EventType) -> list[tuple[datetime, Any]]:
        return [
            (_aware(ts, now) or now, p)
            for d in device_ids
            for t, ts, p in care.get(d, [])
            if t == kind
        ]

    def life_sign(device_id: str) -> datetime | None:
        for event_type, ts, body in recent_signs.get(device_id, []):
            if is_life_sign(event_type, json.loads(body) if body else {}):
                return ts
        return _last_life_sign(session, device_id)  # none lately: look further back

    def battery(device_id: str) -> tuple[float, bool] | None:
        for _, _, payload in recent_battery.get(device_id, []):
            return float(payload.get("level_pct", 0.0)), bool(payload.get("charging", False))
        return _battery(session, device_id)  # none lately: the last one ever

    out = []
    for senior in seniors:
        own = devices[senior.id]
        signs = [_aware(life_sign(d[0]), now) for d in own]
        last = max((s for s in signs if s is not None), default=None)
        window = timedelta(hours=senior.inactivity_hours)
        no_life_sign = last is None or now - last > window
        batteries = [b for b in (battery(d[0]) for d in own) if b is not None]
        low = min(batteries, default=None)
        faults = tuple(
            sorted(
                {
                    name
                    for d in own
                    for name in (d[2] or {}).get("failed_self_tests") or []
                    if isinstance(name, str)
                }
            )
        )
        online = sum(1 for d in own if d[1])
        offline_since = min(
            (s for s in (_aware(d[3], now) for d in own if not d[1]) if s is not None),
            default=None,
        )
        open_alerts = tuple(alerts[senior.id])
        robot_ids = [d[0] for d in own]
        reminders = [r for r in care_of(robot_ids, EventType.REMINDER) if r[0] >= reminder_since]
        organisation, region = placed.get(senior.id, (None, None))
        out.append(
            SeniorStatus(
                senior_id=senior.id,
                display_name=senior.display_name,
                timezone=senior.timezone,
                region=region or _region(senior),
                level=Level.OK,  # set below from the reasons
                last_life_sign=last,
                no_life_sign=no_life_sign,
                robots=len(own),
                robots_online=online,
                battery_pct=low[0] if low else None,
                charging=low[1] if low else None,
                faults=faults,
                open_alerts=open_alerts,
                organisation=organisation,
                missed_streak=_missed_streak(reminders),
                mood_drop=_mood_drop(moods[d] for d in robot_ids if d in moods),
                screenings_over=_screenings_over(
                    care_of(robot_ids, EventType.SCREENING), _cut_offs(senior)
                ),
                offline_since=offline_since,
            )
        )
    return [_with_level(s) for s in out]


def _with_level(status: SeniorStatus) -> SeniorStatus:
    """The status with the level its reasons give (built as OK; most seniors are)."""
    level = _level(len(status.active_alerts), bool(status.reasons()))
    return status if level is status.level else replace(status, level=level)


def _region(senior: Senior) -> str | None:
    value = (senior.settings or {}).get("region")
    return value if isinstance(value, str) and value else None


def triage(rows: Iterable[SeniorStatus], region: str | None = None) -> list[SeniorStatus]:
    """The board: seniors most at risk first, optionally only one region."""
    kept = [r for r in rows if region is None or r.region == region]
    return sorted(kept, key=SeniorStatus.risk_key)
