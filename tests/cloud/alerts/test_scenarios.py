"""Escalation and lifecycle on the real store (SQLite and PostgreSQL) with a fake clock."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine, EscalationWorker, acknowledge, cancel, expire, resolve
from cloud.errors import AlertStateError
from cloud.store.models import (
    Alert,
    AlertKind,
    AlertStatus,
    AlertTransition,
    Channel,
    Device,
    EscalationStep,
    Severity,
    StepStatus,
)
from protocol import EventType
from protocol.events import (
    CountdownOutcome,
    EmergencyPayload,
    FallPayload,
    MoodPayload,
    ReminderPayload,
    ReminderStatus,
    TriggerSource,
)
from tests.cloud.alerts.care import (
    Care,
    FakeClock,
    alerts_of,
    deliveries_of,
    make_care,
    pending_steps,
    send,
)

DAY = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
TIERS = [
    {"contacts": ["daughter"], "timeout_s": 600, "renotify_s": 300},
    {"contacts": ["son"], "timeout_s": 600},
    {"contacts": ["control"], "renotify_s": 300},
]
CONTACTS = {
    "daughter": (Channel.WEBHOOK, "http://127.0.0.1:9/daughter"),
    "son": (Channel.EMAIL, "son@example.org"),
    "control": (Channel.WEBHOOK, "http://127.0.0.1:9/control"),
    "dashboard": (Channel.SSE, "dashboard"),
}


def setup(sessions: sessionmaker[Session], **kw: object) -> Care:
    return make_care(sessions, DAY, contacts=CONTACTS, tiers=TIERS, **kw)  # type: ignore[arg-type]


def fall(
    sessions: sessionmaker[Session], care: Care, now: datetime, countdown: str = "silence"
) -> int:
    outcome = send(
        sessions,
        care,
        EventType.FALL,
        FallPayload(confidence=0.9, countdown=CountdownOutcome(countdown)),
        now,
    )
    assert outcome.alert is not None
    return outcome.alert.alert_id


def targets(sessions: sessionmaker[Session], alert_id: int) -> list[str]:
    return [t.rsplit("/", 1)[-1].split("@")[0] for _, t in deliveries_of(sessions, alert_id)]


def test_nobody_acknowledges_tiers_advance_and_the_last_keeps_ringing(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions)
    clock = FakeClock(DAY)
    alert_id = fall(sessions, care, clock.now)
    assert targets(sessions, alert_id) == ["daughter"]  # tier 0 at once, in the ingest transaction
    worker = EscalationWorker(sessions, AlertEngine(), clock=clock, sweep_s=None)
    for _ in range(12):  # an hour, polled every five minutes
        clock.advance(300)
        worker.run_once()
    # tier 0 at 0 and 5 min, tier 1 at 10 min, then the last tier every 5 min from 20 min on
    assert targets(sessions, alert_id) == ["daughter", "daughter", "son"] + ["control"] * 9
    with sessions() as s:
        alert = s.get_one(Alert, alert_id)
        assert alert.tier == 2
    assert len(pending_steps(sessions, alert_id)) == 1


def test_second_tier_acknowledges_and_escalation_stops(sessions: sessionmaker[Session]) -> None:
    care = setup(sessions)
    clock = FakeClock(DAY)
    alert_id = fall(sessions, care, clock.now)
    worker = EscalationWorker(sessions, AlertEngine(), clock=clock, sweep_s=None)
    clock.advance(300)
    worker.run_once()
    clock.advance(300)
    worker.run_once()
    assert targets(sessions, alert_id) == ["daughter", "daughter", "son"]
    with sessions() as s, s.begin():
        acknowledge(s, s.get_one(Alert, alert_id), "son", "email", clock.advance(60))
    for _ in range(10):
        clock.advance(600)
        worker.run_once()
    assert targets(sessions, alert_id) == ["daughter", "daughter", "son"]
    assert pending_steps(sessions, alert_id) == []
    with sessions() as s:
        alert = s.get_one(Alert, alert_id)
        assert (alert.status, alert.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, "son")
        last = s.scalars(
            select(AlertTransition)
            .where(AlertTransition.alert_id == alert_id)
            .order_by(AlertTransition.id.desc())
        ).first()
        assert last is not None
        assert (last.actor, last.channel, last.to_status) == (
            "son",
            "email",
            AlertStatus.ACKNOWLEDGED,
        )


def test_senior_cancels_within_the_countdown(sessions: sessionmaker[Session]) -> None:
    care = setup(sessions)
    clock = FakeClock(DAY)
    alert_id = fall(sessions, care, clock.now)
    outcome = send(
        sessions,
        care,
        EventType.FALL,
        FallPayload(confidence=0.9, countdown=CountdownOutcome.CANCELLED),
        clock.advance(20),
    )
    assert outcome.alert is not None
    assert outcome.alert.status is AlertStatus.CANCELLED
    assert pending_steps(sessions, alert_id) == []
    worker = EscalationWorker(sessions, AlertEngine(), clock=clock, sweep_s=None)
    clock.advance(3600)
    worker.run_once()
    assert targets(sessions, alert_id) == ["daughter"]
    [alert] = alerts_of(sessions, care)
    assert alert.status is AlertStatus.CANCELLED


def test_a_cancelled_countdown_alone_raises_nothing(sessions: sessionmaker[Session]) -> None:
    care = setup(sessions)
    outcome = send(
        sessions,
        care,
        EventType.EMERGENCY,
        EmergencyPayload(trigger=TriggerSource.BUTTON, countdown=CountdownOutcome.CANCELLED),
        DAY,
    )
    assert outcome.alert is None
    assert alerts_of(sessions, care) == []


NIGHT = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 23:30 in Seoul
MORNING = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # 07:00 in Seoul


def test_quiet_hours_hold_a_minor_alert_and_release_it_in_the_morning(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions, quiet=("22:00", "07:00"), missed_medication_threshold=1)
    clock = FakeClock(NIGHT)
    payload = ReminderPayload(reminder_id="pill", kind="medicine", status=ReminderStatus.MISSED)
    outcome = send(sessions, care, EventType.REMINDER, payload, clock.now)
    assert outcome.alert is not None
    alert_id = outcome.alert.alert_id
    [alert] = alerts_of(sessions, care)
    assert (alert.kind, alert.severity) == (AlertKind.MISSED_MEDICATION, Severity.MINOR)
    assert alert.held_until == MORNING
    assert targets(sessions, alert_id) == []
    worker = EscalationWorker(sessions, AlertEngine(), clock=clock, sweep_s=None)
    for _ in range(7):
        clock.advance(3600)
        worker.run_once()
    assert targets(sessions, alert_id) == []  # 06:30: still quiet
    clock.now = MORNING
    worker.run_once()
    assert targets(sessions, alert_id) == ["daughter"]
    [alert] = alerts_of(sessions, care)
    assert alert.held_until is None
    clock.advance(300)
    worker.run_once()
    assert targets(sessions, alert_id) == ["daughter", "daughter"]  # the schedule moved too


def test_quiet_hours_do_not_hold_a_critical_alert(sessions: sessionmaker[Session]) -> None:
    care = setup(sessions, quiet=("22:00", "07:00"))
    alert_id = fall(sessions, care, NIGHT)
    assert targets(sessions, alert_id) == ["daughter"]
    [alert] = alerts_of(sessions, care)
    assert alert.held_until is None


def test_a_cloud_restart_mid_escalation_still_fires_the_pending_step(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    from cloud.store import make_engine, make_session_factory

    care = setup(sessions)
    clock = FakeClock(DAY)
    alert_id = fall(sessions, care, clock.now)
    first = EscalationWorker(sessions, AlertEngine(), clock=clock, poll_s=0.01, sweep_s=None)
    first.start()
    first.stop()
    engine = make_engine(database_url)  # a new process: its own engine and sessions
    try:
        fresh = make_session_factory(engine)
        second = EscalationWorker(fresh, AlertEngine(), clock=clock, sweep_s=None)
        clock.advance(300)
        assert second.run_once() == 1
    finally:
        engine.dispose()
    assert targets(sessions, alert_id) == ["daughter", "daughter"]


def test_a_repeat_updates_the_open_alert_and_notifies_again(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions)
    first = fall(sessions, care, DAY)
    second = fall(sessions, care, DAY + timedelta(seconds=5))
    assert first == second
    [alert] = alerts_of(sessions, care)
    assert alert.repeat_count == 2
    # Issue 14 item 5: a repeat tells again whoever was told (a count alone reaches nobody).
    assert targets(sessions, first) == ["daughter", "daughter"]
    assert len(pending_steps(sessions, first)) == 1  # the schedule itself is unchanged
    fall(sessions, care, DAY + timedelta(seconds=10))  # within REPEAT_MIN_GAP_S: counted only
    assert targets(sessions, first) == ["daughter", "daughter"]
    fall(sessions, care, DAY + timedelta(seconds=40))
    assert targets(sessions, first) == ["daughter", "daughter", "daughter"]


def test_missed_medication_fires_after_n_in_a_row_and_dedups(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions)  # threshold 3 by default
    statuses = ["missed", "missed", "confirmed", "missed", "missed"]
    for i, status in enumerate(statuses):
        p = ReminderPayload(reminder_id="pill", kind="medicine", status=ReminderStatus(status))
        assert send(sessions, care, EventType.REMINDER, p, DAY + timedelta(hours=i)).alert is None
    p = ReminderPayload(reminder_id="pill", kind="medicine", status=ReminderStatus.MISSED)
    assert send(sessions, care, EventType.REMINDER, p, DAY + timedelta(hours=6)).alert
    assert send(sessions, care, EventType.REMINDER, p, DAY + timedelta(hours=7)).alert
    [alert] = alerts_of(sessions, care)
    assert (alert.kind, alert.repeat_count) == (AlertKind.MISSED_MEDICATION, 2)
    ok = ReminderPayload(reminder_id="pill", kind="medicine", status=ReminderStatus.CONFIRMED)
    send(sessions, care, EventType.REMINDER, ok, DAY + timedelta(hours=8))
    [alert] = alerts_of(sessions, care)
    assert alert.status is AlertStatus.EXPIRED


def test_mood_decline_raises_once_and_clears_with_hysteresis(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions)
    start = DAY - timedelta(days=30)

    def day(i: int, valence: float) -> None:
        end = start + timedelta(days=i)
        p = MoodPayload(
            period_start=end - timedelta(days=1),
            period_end=end,
            shares={"calm": 1.0},
            valence=valence,
            arousal=0.0,
            utterances=5,
        )
        send(sessions, care, EventType.MOOD, p, end, ts=end)

    for i in range(20):
        day(i, 0.5)
    assert alerts_of(sessions, care) == []
    for i in range(20, 27):
        day(i, -0.1)
    [alert] = alerts_of(sessions, care)
    assert (alert.kind, alert.status) == (AlertKind.MOOD_DECLINE, AlertStatus.OPEN)
    for i in range(27, 30):
        day(i, 0.35)  # a bit better, not yet recovered: hysteresis holds the alert
    [alert] = alerts_of(sessions, care)
    assert alert.status is AlertStatus.OPEN
    for i in range(30, 40):
        day(i, 0.5)
    [alert] = alerts_of(sessions, care)
    assert alert.status is AlertStatus.EXPIRED


def test_sweep_raises_device_offline_to_the_device_audience_and_clears_it(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions, device_contacts=["control"])
    with sessions() as s, s.begin():
        d = s.get_one(Device, care.device_id)
        d.last_heartbeat_at = DAY
        d.last_heartbeat = {"failed_self_tests": []}
    engine = AlertEngine()
    with sessions() as s, s.begin():
        assert engine.sweep(s, DAY + timedelta(minutes=5)) == []
    with sessions() as s, s.begin():
        [change] = engine.sweep(s, DAY + timedelta(minutes=11))
    [alert] = alerts_of(sessions, care)
    assert (alert.kind, alert.severity) == (AlertKind.DEVICE_OFFLINE, Severity.MAJOR)
    assert targets(sessions, change.alert_id) == ["control"]
    with sessions() as s, s.begin():
        assert engine.sweep(s, DAY + timedelta(minutes=12)) == []  # no second alert
    with sessions() as s, s.begin():
        s.get_one(Device, care.device_id).last_heartbeat_at = DAY + timedelta(minutes=13)
    with sessions() as s, s.begin():
        engine.sweep(s, DAY + timedelta(minutes=14))
    [alert] = alerts_of(sessions, care)
    assert alert.status is AlertStatus.EXPIRED


def test_sweep_raises_inactivity_only_for_a_healthy_device(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions, inactivity_hours=6.0)
    later = DAY + timedelta(hours=7)
    with sessions() as s, s.begin():
        d = s.get_one(Device, care.device_id)
        d.last_heartbeat_at = later - timedelta(seconds=30)
        d.last_heartbeat = {"failed_self_tests": ["pir"]}
    with sessions() as s, s.begin():
        AlertEngine().sweep(s, later)
    assert alerts_of(sessions, care) == []
    with sessions() as s, s.begin():
        s.get_one(Device, care.device_id).last_heartbeat = {"failed_self_tests": []}
    with sessions() as s, s.begin():
        AlertEngine().sweep(s, later)
    [alert] = alerts_of(sessions, care)
    assert (alert.kind, alert.severity) == (AlertKind.INACTIVITY, Severity.MAJOR)


def test_lifecycle_resolve_after_acknowledge_records_who_and_note(
    sessions: sessionmaker[Session],
) -> None:
    care = setup(sessions)
    alert_id = fall(sessions, care, DAY)
    with sessions() as s, s.begin():
        alert = s.get_one(Alert, alert_id)
        acknowledge(s, alert, "daughter", "api", DAY + timedelta(minutes=1))
        resolve(s, alert, "daughter", "she is fine, bruised knee", DAY + timedelta(minutes=30))
    with sessions() as s:
        alert = s.get_one(Alert, alert_id)
        assert alert.status is AlertStatus.RESOLVED
        assert (alert.resolved_by, alert.note) == ("daughter", "she is fine, bruised knee")
        statuses = [t.to_status for t in alert.transitions]
        assert statuses[-2:] == [AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED]


@pytest.mark.parametrize("action", ["acknowledge", "cancel", "expire", "resolve"])
def test_lifecycle_refuses_illegal_transitions(
    sessions: sessionmaker[Session], action: str
) -> None:
    care = setup(sessions)
    alert_id = fall(sessions, care, DAY)
    with sessions() as s, s.begin():
        alert = s.get_one(Alert, alert_id)
        resolve(s, alert, "daughter", None, DAY)
    calls: dict[str, Callable[[Session, Alert], None]] = {
        "acknowledge": lambda s, a: acknowledge(s, a, "x", "api", DAY),
        "cancel": lambda s, a: cancel(s, a, "x", DAY),
        "expire": lambda s, a: expire(s, a, DAY),
        "resolve": lambda s, a: resolve(s, a, "x", None, DAY),
    }
    with sessions() as s, s.begin():
        alert = s.get_one(Alert, alert_id)
        with pytest.raises(AlertStateError, match=f"alert {alert_id} is resolved; only"):
            calls[action](s, alert)


def test_expire_and_cancel_stop_pending_steps(sessions: sessionmaker[Session]) -> None:
    care = setup(sessions)
    alert_id = fall(sessions, care, DAY)
    with sessions() as s, s.begin():
        expire(s, s.get_one(Alert, alert_id), DAY)
    with sessions() as s:
        steps = s.scalars(select(EscalationStep).where(EscalationStep.alert_id == alert_id))
        assert {st.status for st in steps} == {StepStatus.DONE, StepStatus.CANCELLED}
