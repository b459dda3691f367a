"""Daily metrics: sums per local day, consent respected, idempotent, late events recompute."""

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.research.metrics import compute_day, update_study
from cloud.store.models import DailyMetric, Participant
from protocol import EventType
from protocol.events import ConversationPayload, ReminderStatus
from tests.cloud.research.conftest import STUDY, T0, StudyWorld

DAY = date(2026, 3, 2)  # T0 is 09:00 on this day in Seoul


def _row(sessions: sessionmaker[Session], code: str, day: date = DAY) -> DailyMetric | None:
    with sessions() as s:
        return s.scalars(
            select(DailyMetric)
            .join(Participant, Participant.id == DailyMetric.participant_id)
            .where(Participant.code == code, DailyMetric.day == day)
        ).one_or_none()


def _compute(sessions: sessionmaker[Session], day: date = DAY) -> int:
    with sessions() as s, s.begin():
        return compute_day(s, STUDY, day, T0 + timedelta(days=3))


def test_day_sums_every_stream(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    code = study.enrol()
    robot = study.robots[code]
    robot.conversation(T0, minutes=10.0, turns=8)
    robot.conversation(T0 + timedelta(hours=2), minutes=5.5, turns=3)
    robot.mood(T0, valence=0.6, utterances=3)
    robot.mood(T0 + timedelta(hours=1), valence=-0.2, utterances=1)
    robot.activity(T0, {"walking": 20.0, "still": 30.0, "away": 10.0})
    robot.touch(T0, hug=2, pat=3)
    robot.reminder(T0 + timedelta(hours=1), ReminderStatus.GIVEN)
    robot.reminder(T0 + timedelta(hours=1, minutes=5), ReminderStatus.CONFIRMED)
    robot.reminder(T0 + timedelta(hours=9), ReminderStatus.MISSED)
    for h in range(3):
        robot.heartbeat(T0 + timedelta(hours=h, minutes=1))
        robot.heartbeat(T0 + timedelta(hours=h, minutes=31))
    assert _compute(sessions) == 1
    row = _row(sessions, code)
    assert row is not None
    assert row.talk_minutes == 15.5
    assert row.turns == 11
    assert row.mood_valence is not None
    assert abs(row.mood_valence - (0.6 * 3 - 0.2 * 1) / 4) < 1e-12
    assert row.activity_minutes == {"away": 10.0, "still": 30.0, "walking": 20.0}
    assert row.present_minutes == 50.0
    assert row.touches == 5
    assert row.touch_counts == {"hug": 2, "pat": 3, "squeeze": 0}
    assert (row.reminders_given, row.reminders_confirmed, row.reminders_missed) == (1, 1, 1)
    assert row.reminder_adherence == 0.5
    assert row.device_up_hours == 3
    assert row.model_versions == {"activity": ["2.1"], "emotion-ko": ["1.0.0"]}
    assert row.alerts == {}


def test_events_count_on_the_local_day(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    code = study.enrol()
    # 23:30 Seoul on 2 March is 14:30 UTC; 00:30 Seoul on 3 March is 15:30 UTC on 2 March.
    study.robots[code].conversation(T0 + timedelta(hours=14, minutes=30), minutes=1.0)
    study.robots[code].conversation(T0 + timedelta(hours=15, minutes=30), minutes=2.0)
    _compute(sessions, DAY)
    _compute(sessions, DAY + timedelta(days=1))
    first, second = _row(sessions, code), _row(sessions, code, DAY + timedelta(days=1))
    assert first is not None
    assert second is not None
    assert (first.talk_minutes, second.talk_minutes) == (1.0, 2.0)


def test_unconsented_stream_stays_null(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    code = study.enrol(
        streams={
            "mood": False,
            "conversation": True,
            "activity": True,
            "alerts": True,
            "screening": True,
        }
    )
    study.robots[code].mood(T0, valence=0.9)
    study.robots[code].conversation(T0, minutes=3.0)
    _compute(sessions)
    row = _row(sessions, code)
    assert row is not None
    assert row.mood_valence is None
    assert row.mood_shares is None
    assert row.mood_utterances is None
    assert row.talk_minutes == 3.0
    assert row.model_versions == {}  # the mood model's numbers were not used


def test_absent_senior_differs_from_broken_robot(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    absent, broken = study.enrol(), study.enrol()
    for h in range(24):  # the robot is on all day, and nobody talks to it
        study.robots[absent].heartbeat(T0 - timedelta(hours=9) + timedelta(hours=h))
    _compute(sessions)
    a, b = _row(sessions, absent), _row(sessions, broken)
    assert a is not None
    assert b is not None
    assert (a.device_up_hours, a.hours_with_data) == (24, 0)
    assert (b.device_up_hours, b.hours_with_data) == (0, 0)


def test_recompute_is_idempotent(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    code = study.enrol()
    study.robots[code].conversation(T0, minutes=4.0)
    _compute(sessions)
    first = _row(sessions, code)
    _compute(sessions)
    second = _row(sessions, code)
    assert first is not None
    assert second is not None
    assert second.talk_minutes == first.talk_minutes == 4.0
    with sessions() as s:
        assert len(s.scalars(select(DailyMetric)).all()) == 1


def test_late_event_recomputes_its_day(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    code = study.enrol()
    robot = study.robots[code]
    robot.conversation(T0, minutes=4.0)
    with sessions() as s, s.begin():
        update_study(s, STUDY, T0 + timedelta(days=1))
    before = _row(sessions, code)
    assert before is not None
    assert before.talk_minutes == 4.0
    # The robot was offline: an event of 2 March arrives three days later.
    robot.send(*_late_conversation(T0 + timedelta(hours=3)), received=T0 + timedelta(days=3))
    with sessions() as s, s.begin():
        assert update_study(s, STUDY, T0 + timedelta(days=3, hours=1)) == 1
    after = _row(sessions, code)
    assert after is not None
    assert after.talk_minutes == 6.0
    with sessions() as s, s.begin():  # nothing new: nothing recomputed
        assert update_study(s, STUDY, T0 + timedelta(days=4)) == 0


def _late_conversation(start: datetime) -> tuple[EventType, ConversationPayload, datetime]:
    payload = ConversationPayload(
        period_start=start,
        period_end=start + timedelta(hours=1),
        turns=2,
        robot_turns=2,
        talk_minutes=2.0,
    )
    return EventType.CONVERSATION, payload, start + timedelta(hours=1)


def test_alerts_are_counted_by_type(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    from protocol import EventType
    from protocol.events import CountdownOutcome, FallPayload

    code = study.enrol()
    fall = FallPayload(confidence=0.9, countdown=CountdownOutcome.CANCELLED)
    study.robots[code].send(EventType.FALL, fall, T0 + timedelta(hours=1))
    study.robots[code].send(EventType.FALL, fall, T0 + timedelta(hours=2))
    _compute(sessions)
    row = _row(sessions, code)
    assert row is not None
    assert row.alerts == {"fall": 2}
