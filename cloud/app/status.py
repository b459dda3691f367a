"""A senior's one-second status and the triage order, read from the store (no FastAPI here)."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, Text, any_, bindparam, cast, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from cloud.accounts.access import alert_senior_column
from cloud.alerts.rules import LIFE_SIGN_TYPES, is_life_sign
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
    def low_battery(self) -> bool:
        return (
            self.battery_pct is not None
            and not self.charging
            and (self.battery_pct < LOW_BATTERY_PCT)
        )

    def risk_key(self) -> tuple[int, int, int, int, int, int, int, float, str]:
        """Sort key, most at risk first: unacknowledged alerts by severity and count, no sign
        of life, robot offline, acknowledged alerts open, low battery, faults, longest silence."""
        active = self.active_alerts
        worst = min((SEVERITY_RANK.get(a.severity, 4) for a in active), default=_NO_ALERT_RANK)
        last = self.last_life_sign.timestamp() if self.last_life_sign else float("-inf")
        return (
            worst,
            -len(active),
            0 if self.no_life_sign else 1,
            0 if self.offline else 1,
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
) -> dict[str, list[tuple[str, datetime, Any]]]:
    """Up to `k` newest events of `types` per robot since `since`, newest first, in one query
    for a whole board. PostgreSQL: per robot a LATERAL top-k that walks its (device_id, ts)
    index backwards and stops after k rows, the ids as one array parameter; SQLite (no
    LATERAL): a window function over the robots' rows in the window. `raw`: each payload as
    its JSON text, for the caller to decode only the ones it reads."""
    if not device_ids:
        return {}
    payload = (cast(Event.payload, Text) if raw else Event.payload).label("payload")
    if session.get_bind().dialect.name == "postgresql":
        robots = (
            func.unnest(bindparam("robots", list(device_ids), type_=ARRAY(String)))
            .table_valued("id")
            .render_derived(name="robot")
        )
        newest = (
            select(Event.type, Event.ts, payload)
            .where(Event.device_id == robots.c.id, Event.type.in_(types), Event.ts >= since)
            .order_by(Event.ts.desc(), Event.id.desc())
            .limit(k)
            .lateral("newest")
        )
        query = select(robots.c.id, newest.c.type, newest.c.ts, newest.c.payload).join_from(
            robots, newest, true()
        )
    else:
        ranked = (
            select(
                Event.device_id,
                Event.type,
                Event.ts,
                payload,
                func.row_number()
                .over(partition_by=Event.device_id, order_by=(Event.ts.desc(), Event.id.desc()))
                .label("rank"),
            )
            .where(Event.device_id.in_(device_ids), Event.type.in_(types), Event.ts >= since)
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
    devices: dict[str, list[tuple[str, bool, dict[str, Any] | None]]] = {i: [] for i in ids}
    for device_id, senior_id, online, heartbeat in session.execute(
        select(Device.id, Device.senior_id, Device.online, Device.last_heartbeat).where(
            among(session, Device.senior_id, ids)
        )
    ):
        if senior_id is not None:
            devices[senior_id].append((device_id, bool(online), heartbeat))
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
        open_alerts = tuple(alerts[senior.id])
        active = sum(1 for a in open_alerts if a.status is not AlertStatus.ACKNOWLEDGED)
        battery_pct = low[0] if low else None
        charging = low[1] if low else None
        low_battery = battery_pct is not None and not charging and battery_pct < LOW_BATTERY_PCT
        attention = bool(
            open_alerts
            or no_life_sign
            or not own
            or online < len(own)  # offline, as SeniorStatus.offline
            or low_battery
            or faults
        )
        organisation, region = placed.get(senior.id, (None, None))
        out.append(
            SeniorStatus(
                senior_id=senior.id,
                display_name=senior.display_name,
                timezone=senior.timezone,
                region=region or _region(senior),
                level=_level(active, attention),
                last_life_sign=last,
                no_life_sign=no_life_sign,
                robots=len(own),
                robots_online=online,
                battery_pct=battery_pct,
                charging=charging,
                faults=faults,
                open_alerts=open_alerts,
                organisation=organisation,
            )
        )
    return out


def _region(senior: Senior) -> str | None:
    value = (senior.settings or {}).get("region")
    return value if isinstance(value, str) and value else None


def triage(rows: Iterable[SeniorStatus], region: str | None = None) -> list[SeniorStatus]:
    """The board: seniors most at risk first, optionally only one region."""
    kept = [r for r in rows if region is None or r.region == region]
    return sorted(kept, key=SeniorStatus.risk_key)
