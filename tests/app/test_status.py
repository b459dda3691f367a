"""The status line and the triage order, computed from the store."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cloud.app.status import Level, SeniorStatus, statuses, triage
from cloud.store.models import Device, Event, Senior
from protocol import EventType
from tests.cloud.helpers import NOW


def _senior(s: Session, sid: str, *, online: bool = True, heartbeat: Any = None) -> None:
    s.add(Senior(id=sid, display_name=sid, settings={}, created_at=NOW, inactivity_hours=24.0))
    s.flush()
    s.add(
        Device(
            id=f"d-{sid}",
            senior_id=sid,
            first_seen=NOW,
            last_seen=NOW,
            online=online,
            last_heartbeat=heartbeat,
        )
    )
    s.flush()


def _event(s: Session, sid: str, seq: int, kind: EventType, at: datetime, payload: Any) -> None:
    s.add(
        Event(
            device_id=f"d-{sid}",
            seq=seq,
            type=kind.value,
            priority="normal",
            ts=at,
            received_at=at,
            payload=payload,
        )
    )


def _touch(n: int) -> dict[str, Any]:
    return {
        "period_start": NOW.isoformat(),
        "period_end": NOW.isoformat(),
        "hug": n,
        "pat": 0,
        "squeeze": 0,
    }


def _status(sessions: sessionmaker[Session]) -> dict[str, SeniorStatus]:
    with sessions() as s:
        seniors = list(s.query(Senior).order_by(Senior.id))
        return {r.senior_id: r for r in statuses(s, seniors, NOW)}


def test_status_line_from_life_signs_battery_robot_and_faults(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, s.begin():
        _senior(s, "fine")
        _event(s, "fine", 1, EventType.TOUCH, NOW - timedelta(hours=2), _touch(1))
        _event(
            s,
            "fine",
            2,
            EventType.BATTERY,
            NOW - timedelta(hours=1),
            {"level_pct": 80.0, "charging": False},
        )
        _senior(s, "quiet")  # a touch with no contact is no sign of life; the real one is old
        _event(s, "quiet", 1, EventType.TOUCH, NOW - timedelta(hours=30), _touch(2))
        for i in range(8):
            _event(
                s, "quiet", 2 + i, EventType.TOUCH, NOW - timedelta(hours=1, minutes=i), _touch(0)
            )
        _senior(s, "low")
        _event(s, "low", 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
        _event(
            s,
            "low",
            2,
            EventType.BATTERY,
            NOW - timedelta(days=5),
            {"level_pct": 9.0, "charging": False},
        )
        _senior(s, "broken", online=False, heartbeat={"failed_self_tests": ["mic"]})
        _event(s, "broken", 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
    got = _status(sessions)
    assert got["fine"].level is Level.OK
    assert got["fine"].battery_pct == 80.0
    assert got["quiet"].level is Level.ATTENTION
    assert got["quiet"].no_life_sign
    assert got["quiet"].last_life_sign is not None
    assert got["quiet"].last_life_sign.replace(tzinfo=NOW.tzinfo) == NOW - timedelta(hours=30)
    assert (got["low"].level, got["low"].battery_pct, got["low"].low_battery) == (
        Level.ATTENTION,
        9.0,
        True,
    )
    assert (got["broken"].level, got["broken"].offline, got["broken"].faults) == (
        Level.ATTENTION,
        True,
        ("mic",),
    )


def test_triage_puts_silence_before_offline_before_battery_before_fine(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, s.begin():
        _senior(s, "a-fine")
        _event(s, "a-fine", 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
        _senior(s, "b-low")
        _event(s, "b-low", 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
        _event(s, "b-low", 2, EventType.BATTERY, NOW, {"level_pct": 5.0, "charging": False})
        _senior(s, "c-offline", online=False)
        _event(s, "c-offline", 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
        _senior(s, "d-silent")
    order = [r.senior_id for r in triage(_status(sessions).values())]
    assert order == ["d-silent", "c-offline", "b-low", "a-fine"]
