"""Issue 14 item 5 on the real store (SQLite and PostgreSQL), on simulated time: a senior
without an escalation policy is chased by the built-in default until someone acknowledges,
and an alert that repeats while open notifies again."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine, EscalationWorker
from cloud.alerts.escalation import DEFAULT_RENOTIFY_S
from cloud.ingest import ingest_message
from cloud.store.models import AlertKind, Channel
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import BatteryPayload, EmergencyPayload, InactivityPayload, TriggerSource
from tests.cloud.alerts.care import Care, FakeClock, alerts_of, deliveries_of, make_care, send

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
HOOK = "http://127.0.0.1:9/operator"
CONTACTS = {
    "daughter": (Channel.WEBHOOK, "http://127.0.0.1:9/daughter"),
    "son": (Channel.EMAIL, "son@example.org"),
    "dashboard": (Channel.SSE, "dashboard"),
}
EVERYONE = [
    ("webhook", "http://127.0.0.1:9/daughter"),
    ("email", "son@example.org"),
    ("webhook", HOOK),
]


def _no_policy(sessions: sessionmaker[Session]) -> Care:
    return make_care(sessions, T0, contacts=CONTACTS)


def _sos(sessions: sessionmaker[Session], care: Care, now: datetime, engine: AlertEngine) -> int:
    outcome = send(
        sessions,
        care,
        EventType.EMERGENCY,
        EmergencyPayload(trigger=TriggerSource.BUTTON),
        now,
        engine,
    )
    assert outcome.alert is not None
    return outcome.alert.alert_id


def _worker(
    sessions: sessionmaker[Session], engine: AlertEngine, clock: FakeClock
) -> EscalationWorker:
    return EscalationWorker(sessions, engine, sweep_s=None, clock=clock)


def test_without_a_policy_a_critical_alert_renotifies_everyone_until_acknowledged(
    sessions: sessionmaker[Session],
) -> None:
    care = _no_policy(sessions)
    engine = AlertEngine([HOOK])
    clock = FakeClock(T0)
    alert_id = _sos(sessions, care, T0, engine)
    assert deliveries_of(sessions, alert_id) == EVERYONE  # every contact (SSE: the dashboard)
    worker = _worker(sessions, engine, clock)
    for round_ in (2, 3, 4):
        clock.advance(DEFAULT_RENOTIFY_S - 1)
        assert worker.run_once() == 0  # not yet
        clock.advance(1)
        assert worker.run_once() == 3
        assert deliveries_of(sessions, alert_id) == EVERYONE * round_
    with sessions() as s, s.begin():
        engine.acknowledge(s, alert_id, "daughter", clock.now)
    for _ in range(5):
        clock.advance(DEFAULT_RENOTIFY_S)
        assert worker.run_once() == 0
    assert len(deliveries_of(sessions, alert_id)) == 3 * 4


def test_an_unassigned_robot_chases_the_configured_webhooks(
    sessions: sessionmaker[Session],
) -> None:
    engine = AlertEngine([HOOK])
    clock = FakeClock(T0)
    dev = "t-unassigned-" + T0.strftime("%H%M")
    env = make_envelope(
        dev, 1, EmergencyPayload(trigger=TriggerSource.VOICE), event_type=EventType.EMERGENCY, ts=T0
    )
    with sessions() as s, s.begin():
        outcome = ingest_message(s, events_topic(dev), encode(env), T0, alerts=engine)
    assert outcome.alert is not None
    worker = _worker(sessions, engine, clock)
    for _ in range(3):  # four minutes used to bring one webhook, ever
        clock.advance(DEFAULT_RENOTIFY_S)
        worker.run_once()
    assert deliveries_of(sessions, outcome.alert.alert_id) == [("webhook", HOOK)] * 4


def test_a_major_alert_is_chased_and_a_warning_is_told_once(
    sessions: sessionmaker[Session],
) -> None:
    care = _no_policy(sessions)
    engine = AlertEngine([HOOK])
    clock = FakeClock(T0)
    idle = send(
        sessions,
        care,
        EventType.INACTIVITY,
        InactivityPayload(last_activity=T0 - timedelta(hours=13), hours=13),
        T0,
        engine,
    )
    low = send(
        sessions, care, EventType.BATTERY, BatteryPayload(level_pct=3, charging=False), T0, engine
    )
    assert idle.alert is not None
    assert low.alert is not None
    worker = _worker(sessions, engine, clock)
    for _ in range(2):
        clock.advance(DEFAULT_RENOTIFY_S)
        worker.run_once()
    assert len(deliveries_of(sessions, idle.alert.alert_id)) == 3 * 3
    assert len(deliveries_of(sessions, low.alert.alert_id)) == 3


def test_a_second_emergency_while_the_first_is_open_notifies_again(
    sessions: sessionmaker[Session],
) -> None:
    care = _no_policy(sessions)
    engine = AlertEngine([HOOK])
    first = _sos(sessions, care, T0, engine)
    second = _sos(sessions, care, T0 + timedelta(seconds=20), engine)
    assert second == first
    [alert] = alerts_of(sessions, care)
    assert alert.kind is AlertKind.EMERGENCY
    assert alert.repeat_count == 2
    assert deliveries_of(sessions, first) == EVERYONE * 2
