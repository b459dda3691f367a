"""Daily wellbeing metrics per participant and local day, recomputed idempotently from events.

A day's row is always rebuilt from every event of that day (so a late event, or one delivered
twice, just recomputes its day and converges on the same row). Only consented streams count:
a stream without consent (as of the end of that day) leaves its columns NULL, distinct from a
consented stream with no events (zeros, or NULL means where no value exists).

Completeness tells an absent senior from a broken robot: `device_up_hours` counts the local
hours with a heartbeat (the robot was on), `hours_with_data` the hours with any consented
event (someone was there to hear, touch or talk to it).

Period events (mood, activity, conversation, touch) belong to the day their period *starts*;
the others to the day of their timestamp.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    any_,
    bindparam,
    delete,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from cloud.accounts.errors import NotFoundError
from cloud.errors import both
from cloud.research.studies import consent_state, devices_of
from cloud.store.models import (
    DailyMetric,
    Event,
    HeartbeatHour,
    Participant,
    ParticipantStatus,
    Retention,
    Study,
)
from protocol import EventType
from protocol.consent import STREAM_OF_EVENT, DataStream

log = logging.getLogger(__name__)
T = TypeVar("T")

# Activity classes that mean "nobody at home"; every other class counts as presence.
ABSENT_CLASSES = frozenset({"away", "absent", "out", "not_present"})
ALERT_TYPES = (EventType.EMERGENCY, EventType.FALL, EventType.NO_RESPONSE, EventType.INACTIVITY)
PERIOD_TYPES = frozenset(
    {EventType.MOOD, EventType.ACTIVITY, EventType.CONVERSATION, EventType.TOUCH}
)
RESEARCH_TYPES = tuple(sorted(t.value for t in STREAM_OF_EVENT))
# A period event is sent when its period ends: look this far past the day for late periods.
PERIOD_SLACK = timedelta(hours=6)


@dataclass
class _Acc:
    """One participant-day being summed up."""

    talk_minutes: float = 0.0
    turns: int = 0
    robot_turns: int = 0
    touch: dict[str, int] = field(default_factory=lambda: {"hug": 0, "pat": 0, "squeeze": 0})
    mood_weight: float = 0.0
    mood_n: int = 0
    valence_sum: float = 0.0
    arousal_sum: float = 0.0
    share_sums: dict[str, float] = field(default_factory=dict)
    utterances: int = 0
    activity: dict[str, float] = field(default_factory=dict)
    reminders: dict[str, int] = field(
        default_factory=lambda: {"given": 0, "confirmed": 0, "missed": 0}
    )
    alerts: dict[str, int] = field(default_factory=dict)
    hours: set[int] = field(default_factory=set)
    events: int = 0
    models: dict[str, set[str]] = field(default_factory=dict)


def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a local day, in UTC (23 or 25 hours long on DST days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def event_day(event_type: str, ts: datetime, payload: dict[str, Any], tz: str) -> date:
    """The local day an event counts for (period start for period events)."""
    when = ts
    if EventType(event_type) in PERIOD_TYPES and "period_start" in payload:
        when = _parse_ts(payload["period_start"])
    return when.astimezone(ZoneInfo(tz)).date()


def _parse_ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _one_of(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`; PostgreSQL gets one array parameter instead of a placeholder per
    value (profiled: building and parsing statements with thousands of placeholders cost the
    job about a third of its time)."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(list(values))  # type: ignore[no-any-return]
    element = Integer() if values and isinstance(values[0], int) else String()
    return column == any_(bindparam(None, list(values), type_=ARRAY(element)))  # type: ignore[no-any-return]


def _local_hours(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The window's local hours as [lo, hi) in UTC: 23-25 of them (DST days)."""
    out = []
    lo = start
    while lo < end:
        hi = min(lo + timedelta(hours=1), end)
        out.append((lo, hi))
        lo = hi
    return out


class UptimeWindows:
    """The local hours of a day and the UTC hours each overlaps, built once per day and zone."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.windows = _local_hours(start, end)
        self.by_hour: dict[datetime, list[int]] = defaultdict(list)
        for h, (lo, hi) in enumerate(self.windows):
            hour = lo.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            while hour < hi:
                self.by_hour[hour].append(h)
                hour += timedelta(hours=1)

    def up(self, rows: Iterable[tuple[datetime, datetime, datetime]]) -> set[int]:
        """The local hours holding a heartbeat, from a robot's heartbeat_hours rows (UTC hour,
        first_ts, last_ts).

        At most two UTC hours overlap a local hour, and one of a row's first_ts / last_ts lies
        inside a one-hour window whenever any of its heartbeats does, so the answer is exact
        whatever the heartbeat rate or the zone's offset.
        """
        up: set[int] = set()
        for hour, first, last in rows:
            for h in self.by_hour.get(hour, ()):  # aware datetimes: equal instants, equal keys
                lo, hi = self.windows[h]
                if last >= lo and first < hi:
                    up.add(h)
        return up


def up_hours_of(
    rows: Iterable[tuple[datetime, datetime, datetime]], start: datetime, end: datetime
) -> set[int]:
    """The local hours of [start, end) holding a heartbeat, from heartbeat_hours rows (pure)."""
    return UptimeWindows(start, end).up(rows)


def _participants(
    session: Session, study_id: str, day: date, codes: Sequence[str] | None
) -> list[Participant]:
    """Participants collecting on `day`: enrolled by its end, not withdrawn before it began."""
    q = select(Participant).where(Participant.study_id == study_id)
    if codes is not None:
        q = q.where(Participant.code.in_(list(codes)))
    out = []
    for p in session.scalars(q.order_by(Participant.id)):
        start, end = day_window(day, p.timezone)
        if p.enrolled_at >= end:
            continue
        if p.status is ParticipantStatus.WITHDRAWN:
            if p.retention is Retention.DELETE:
                continue
            if p.withdrawn_at is not None and p.withdrawn_at <= start:
                continue
        out.append(p)
    return out


def compute_day(
    session: Session,
    study_id: str,
    day: date,
    now: datetime,
    *,
    codes: Sequence[str] | None = None,
) -> int:
    """Rebuild `day`'s rows for the study's participants (or `codes`); returns rows written."""
    participants = _participants(session, study_id, day, codes)
    if not participants:
        return 0
    by_tz: dict[str, list[Participant]] = defaultdict(list)
    for p in participants:
        by_tz[p.timezone].append(p)
    rows: list[dict[str, Any]] = []
    with _no_jit(session):
        for tz, group in by_tz.items():
            rows.extend(_compute_group(session, group, day, tz, now))
    ids = [p.id for p in participants]
    for chunk in _chunks(ids, 5000):
        session.execute(
            delete(DailyMetric).where(
                _one_of(session, DailyMetric.participant_id, chunk), DailyMetric.day == day
            )
        )
    if rows:
        session.execute(insert(DailyMetric), rows)
    return len(rows)


@contextmanager
def _no_jit(session: Session) -> Iterator[None]:
    """PostgreSQL: no JIT compilation for the job's reads, then the setting as it was.

    The per-type reads are estimated at 20x the rows they return once a day holds 60-s
    heartbeats; the estimate crosses `jit_above_cost` and PostgreSQL spent 2.3-5 s compiling
    (EXPLAIN ANALYZE: "JIT ... Total 5065 ms") for a read that takes 0.2 s.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    was = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('jit', :was, true)"), {"was": was})


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _compute_group(
    session: Session, group: list[Participant], day: date, tz: str, now: datetime
) -> list[dict[str, Any]]:
    start, end = day_window(day, tz)
    ids = [p.id for p in group]
    devices = devices_of(session, ids)
    owner: dict[str, int] = {}
    for pid, devs in devices.items():
        for d in devs:
            owner[d] = pid
    consent = consent_state(session, ids, at=end)
    for p in group:  # a withdrawal day counts up to the withdrawal, under the consent before it
        if p.withdrawn_at is not None and p.withdrawn_at < end:
            consent[p.id] = consent_state(session, [p.id], at=p.withdrawn_at)[p.id]
    cut = {p.id: p.withdrawn_at for p in group if p.withdrawn_at is not None}
    acc = {pid: _Acc() for pid in ids}
    up_hours: dict[int, set[int]] = defaultdict(set)
    device_ids = sorted(owner)
    conn = session.connection()  # Core rows: no ORM loading for thousands of events
    model_name = Event.model["name"].as_string()
    model_version = Event.model["version"].as_string()
    fields = _payload_fields()
    first_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    windows = UptimeWindows(start, end)
    for chunk in _chunks(device_ids, 2000):
        # Uptime from the heartbeats rolled up per UTC hour at ingest (cloud/ingest/rollup.py):
        # the robots' rows of the day by primary key (at most 26 each), the local hours in
        # Python. (A probe per robot × local hour in SQL was planned as a hash join over the
        # whole table: 2 s of the job's 3 on 60 days of 1,000 robots.)
        beats: dict[str, list[tuple[datetime, datetime, datetime]]] = defaultdict(list)
        for device_id, hour, first, last in session.execute(
            select(
                HeartbeatHour.device_id,
                HeartbeatHour.hour,
                HeartbeatHour.first_ts,
                HeartbeatHour.last_ts,
            ).where(
                _one_of(session, HeartbeatHour.device_id, chunk),
                HeartbeatHour.hour >= first_hour,
                HeartbeatHour.hour < end,
            )
        ).all():
            beats[device_id].append((hour, first, last))
        for device_id, rows in beats.items():
            up_hours[owner[device_id]] |= windows.up(rows)
        # One branch per type: an equality on type lets the database walk (device, type, ts)
        # and never wade through the day's heartbeats, whatever their rate.
        branches = [
            select(Event.device_id, Event.type, Event.ts, model_name, model_version, *fields).where(
                _one_of(session, Event.device_id, chunk),
                Event.type == event_type,
                Event.ts >= start,
                Event.ts < end + PERIOD_SLACK,
            )
            for event_type in RESEARCH_TYPES
        ]
        for device_id, etype, ts, name, version, *values in conn.execute(
            union_all(*branches)
        ).all():
            payload = {k: v for k, v in zip(_FIELD_NAMES, values, strict=True) if v is not None}
            pid = owner[device_id]
            event_type = EventType(etype)
            stream = STREAM_OF_EVENT[event_type]
            if not consent[pid].get(stream, False):
                continue
            withdrawn = cut.get(pid)
            if withdrawn is not None and ts >= withdrawn:
                continue
            when = _parse_ts(payload.get("period_start", ts)) if event_type in PERIOD_TYPES else ts
            if not start <= when < end:
                continue
            _add(acc[pid], event_type, payload, ts, name, version)
    return [_row(pid, day, acc[pid], consent[pid], len(up_hours[pid]), now) for pid in ids]


# The payload fields the metrics read, extracted by the database (no whole-payload JSON).
_FIELDS: tuple[tuple[str, str], ...] = (
    ("period_start", "str"),
    ("talk_minutes", "float"),
    ("turns", "int"),
    ("robot_turns", "int"),
    ("hug", "int"),
    ("pat", "int"),
    ("squeeze", "int"),
    ("utterances", "int"),
    ("valence", "float"),
    ("arousal", "float"),
    ("status", "str"),
    ("shares", "json"),
    ("minutes", "json"),
)
_FIELD_NAMES = tuple(name for name, _ in _FIELDS)


def _payload_fields() -> list[Any]:
    out: list[Any] = []
    for name, kind in _FIELDS:
        element = Event.payload[name]
        if kind == "str":
            out.append(element.as_string())
        elif kind == "float":
            out.append(element.as_float())
        elif kind == "int":
            out.append(element.as_integer())
        else:
            out.append(element)
    return out


def _add(
    a: _Acc, t: EventType, p: dict[str, Any], ts: datetime, model: str | None, version: str | None
) -> None:
    a.events += 1
    a.hours.add(int(ts.timestamp()) // 3600)
    if model:
        a.models.setdefault(model, set()).add(str(version))
    if t is EventType.CONVERSATION:
        a.talk_minutes += float(p.get("talk_minutes", 0.0))
        a.turns += int(p.get("turns", 0))
        a.robot_turns += int(p.get("robot_turns", 0))
    elif t is EventType.TOUCH:
        for k in a.touch:
            a.touch[k] += int(p.get(k, 0))
    elif t is EventType.MOOD:
        n = int(p.get("utterances", 0))
        w = float(n) if n > 0 else 1.0
        a.mood_weight += w
        a.mood_n += 1
        a.utterances += n
        a.valence_sum += w * float(p.get("valence", 0.0))
        a.arousal_sum += w * float(p.get("arousal", 0.0))
        for label, share in dict(p.get("shares", {})).items():
            a.share_sums[label] = a.share_sums.get(label, 0.0) + w * float(share)
    elif t is EventType.ACTIVITY:
        for label, minutes in dict(p.get("minutes", {})).items():
            a.activity[label] = a.activity.get(label, 0.0) + float(minutes)
    elif t is EventType.REMINDER:
        status = str(p.get("status"))
        if status in a.reminders:
            a.reminders[status] += 1
    elif t in ALERT_TYPES:
        a.alerts[t.value] = a.alerts.get(t.value, 0) + 1


def _row(
    pid: int,
    day: date,
    a: _Acc,
    consent: dict[DataStream, bool],
    up_hours: int,
    now: datetime,
) -> dict[str, Any]:
    conv = consent.get(DataStream.CONVERSATION, False)
    mood = consent.get(DataStream.MOOD, False)
    act = consent.get(DataStream.ACTIVITY, False)
    alerts = consent.get(DataStream.ALERTS, False)
    decided = a.reminders["confirmed"] + a.reminders["missed"]
    return {
        "participant_id": pid,
        "day": day,
        "talk_minutes": round(a.talk_minutes, 4) if conv else None,
        "turns": a.turns if conv else None,
        "robot_turns": a.robot_turns if conv else None,
        "touches": sum(a.touch.values()) if act else None,
        "touch_counts": dict(a.touch) if act else None,
        "mood_shares": (
            {k: round(v / a.mood_weight, 6) for k, v in sorted(a.share_sums.items())}
            if mood and a.mood_n
            else None
        ),
        "mood_valence": a.valence_sum / a.mood_weight if mood and a.mood_n else None,
        "mood_arousal": a.arousal_sum / a.mood_weight if mood and a.mood_n else None,
        "mood_utterances": a.utterances if mood else None,
        "activity_minutes": {k: round(v, 4) for k, v in sorted(a.activity.items())}
        if act
        else None,
        "present_minutes": (
            round(sum(v for k, v in a.activity.items() if k not in ABSENT_CLASSES), 4)
            if act
            else None
        ),
        "reminders_given": a.reminders["given"] if act else None,
        "reminders_confirmed": a.reminders["confirmed"] if act else None,
        "reminders_missed": a.reminders["missed"] if act else None,
        "reminder_adherence": (a.reminders["confirmed"] / decided) if act and decided else None,
        "alerts": dict(sorted(a.alerts.items())) if alerts else None,
        "device_up_hours": up_hours,
        "hours_with_data": len(a.hours),
        "events": a.events,
        "model_versions": {k: sorted(v) for k, v in sorted(a.models.items())},
        "computed_at": now,
    }


def compute_range(
    session: Session,
    study_id: str,
    first: date,
    last: date,
    now: datetime,
    *,
    progress: Callable[[date, int], None] | None = None,
) -> int:
    """Rebuild every day from `first` to `last` inclusive; `progress(day, rows)` after each."""
    total = 0
    day = first
    while day <= last:
        n = compute_day(session, study_id, day, now)
        total += n
        if progress is not None:
            progress(day, n)
        day += timedelta(days=1)
    return total


def days_touched(
    session: Session, study_id: str, received_after: datetime | None, received_until: datetime
) -> dict[date, set[str]]:
    """Local days (and participant codes) that events received in the window belong to."""
    participants = list(
        session.scalars(
            select(Participant).where(
                Participant.study_id == study_id,
                Participant.status != ParticipantStatus.WITHDRAWN,
            )
        )
    )
    if not participants:
        return {}
    by_id = {p.id: p for p in participants}
    owner: dict[str, int] = {}
    for pid, devs in devices_of(session, list(by_id)).items():
        for d in devs:
            owner[d] = pid
    out: dict[date, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(owner), 2000):
        period_start = Event.payload["period_start"].as_string()
        q = select(Event.device_id, Event.type, Event.ts, period_start).where(
            Event.device_id.in_(chunk),
            Event.type.in_((*RESEARCH_TYPES, EventType.HEARTBEAT.value)),
            Event.received_at <= received_until,
        )
        if received_after is not None:
            q = q.where(Event.received_at > received_after)
        for device_id, etype, ts, start in session.execute(q):
            p = by_id[owner[device_id]]
            payload = {} if start is None else {"period_start": start}
            out[event_day(etype, ts, payload, p.timezone)].add(p.code)
    return dict(out)


def update_study(
    session: Session,
    study_id: str,
    now: datetime,
    *,
    progress: Callable[[date, int], None] | None = None,
) -> int:
    """Incremental run: recompute exactly the days touched by events received since the last
    run (late events included), then move the study's watermark to `now`."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFoundError(
            both(f"id가 {study_id!r}인 연구가 없습니다", f"no study with id {study_id!r}")
        )
    touched = days_touched(session, study_id, study.metrics_watermark, now)
    total = 0
    for day in sorted(touched):
        n = compute_day(session, study_id, day, now, codes=sorted(touched[day]))
        total += n
        if progress is not None:
            progress(day, n)
    session.execute(update(Study).where(Study.id == study_id).values(metrics_watermark=now))
    return total
