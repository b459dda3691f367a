"""The status line and the triage order, computed from the store."""

from datetime import datetime, timedelta
from typing import Any

import pytest
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


def _reminder(s: Session, sid: str, seq: int, at: datetime, status: str, kind: str) -> None:
    _event(
        s, sid, seq, EventType.REMINDER, at, {"reminder_id": "r1", "kind": kind, "status": status}
    )


def _mood(
    s: Session, sid: str, seq: int, at: datetime, valence: float, utterances: int = 3
) -> None:
    payload = {
        "period_start": (at - timedelta(hours=1)).isoformat(),
        "period_end": at.isoformat(),
        "shares": {"neutral": 1.0},
        "valence": valence,
        "arousal": 0.0,
        "utterances": utterances,
    }
    _event(s, sid, seq, EventType.MOOD, at, payload)


def _screening(s: Session, sid: str, seq: int, at: datetime, name: str, score: float) -> None:
    payload = {"instrument": name, "score": score, "complete": True, "answers": [1, 1]}
    _event(s, sid, seq, EventType.SCREENING, at, payload)


def test_triage_raises_missed_medication_mood_decline_and_screening_each_on_its_own(
    sessions: sessionmaker[Session],
) -> None:
    """Otherwise fine seniors (a life sign an hour ago, robot online, no alert): each care
    criterion moves its senior above the fine ones, in the order medication, mood, screening;
    a near miss of each stays with the fine ones (ordered by id)."""
    day = timedelta(days=1)
    with sessions() as s, s.begin():
        for sid in ("a-fine", "b-screen", "c-mood", "d-meds", "e-meds-1", "f-mood-small", "g-low"):
            _senior(s, sid)
            _event(s, sid, 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
        # two medication reminders missed in a row (a walk reminder between does not count)
        _reminder(s, "d-meds", 2, NOW - 3 * day, "confirmed", "medication")
        _reminder(s, "d-meds", 3, NOW - 2 * day, "missed", "medication")
        _reminder(s, "d-meds", 4, NOW - 2 * day + timedelta(hours=2), "confirmed", "walk")
        _reminder(s, "d-meds", 5, NOW - day, "given", "medication")
        _reminder(s, "d-meds", 6, NOW - day + timedelta(minutes=30), "missed", "medication")
        # one missed, the newest: not a streak
        _reminder(s, "e-meds-1", 2, NOW - 2 * day, "confirmed", "medicine")
        _reminder(s, "e-meds-1", 3, NOW - day, "missed", "medicine")
        # mood: the 30 days before the week at 0.5, this week at 0.1 (drop 0.4 >= 0.3) ...
        for i in range(6):
            _mood(s, "c-mood", 10 + i, NOW - (10 + 3 * i) * day, 0.5)
            _mood(s, "f-mood-small", 10 + i, NOW - (10 + 3 * i) * day, 0.5)
        for i in range(3):
            _mood(s, "c-mood", 20 + i, NOW - (1 + 2 * i) * day, 0.1)
            _mood(s, "f-mood-small", 20 + i, NOW - (1 + 2 * i) * day, 0.3)  # ... drop 0.2 only
        _mood(s, "f-mood-small", 30, NOW - day, -1.0, utterances=0)  # no speech: not counted
        # the latest PHQ-9 at the cut-off (10); g-low's latest is under it (an older one over)
        _screening(s, "b-screen", 2, NOW - 5 * day, "phq9", 10.0)
        _screening(s, "g-low", 2, NOW - 40 * day, "phq9", 15.0)
        _screening(s, "g-low", 3, NOW - 5 * day, "phq9", 4.0)
    got = _status(sessions)
    order = [r.senior_id for r in triage(got.values())]
    assert order == [
        "d-meds",
        "c-mood",
        "b-screen",
        "a-fine",
        "e-meds-1",
        "f-mood-small",
        "g-low",
    ]
    assert (got["d-meds"].missed_streak, got["d-meds"].missed_medication) == (2, True)
    assert (got["e-meds-1"].missed_streak, got["e-meds-1"].missed_medication) == (1, False)
    assert got["c-mood"].mood_declined
    assert got["c-mood"].mood_drop == pytest.approx(0.4)
    assert got["f-mood-small"].mood_drop == pytest.approx(0.2)
    assert not got["f-mood-small"].mood_declined
    assert got["b-screen"].screenings_over == (("phq9", 10.0),)
    assert got["g-low"].screenings_over == ()
    assert got["a-fine"].mood_drop is None  # no mood summaries: no verdict
    flagged = {"d-meds", "c-mood", "b-screen"}
    assert {sid for sid, r in got.items() if r.level is Level.ATTENTION} == flagged


def test_a_seniors_own_screening_cut_off_is_read(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        _senior(s, "own")
        senior = s.get_one(Senior, "own")
        senior.settings = {"rules": {"screening_thresholds": {"phq9": 15}}}
        _event(s, "own", 1, EventType.TOUCH, NOW - timedelta(hours=1), _touch(1))
        _screening(s, "own", 2, NOW - timedelta(days=2), "phq9", 12.0)
        _screening(s, "own", 3, NOW - timedelta(days=3), "gds15", 7.0)  # default cut-off 6
    assert _status(sessions)["own"].screenings_over == (("gds15", 7.0),)
