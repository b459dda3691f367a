"""Opening an alert inside a batch (`store_batch`, SQLite and PostgreSQL): the batch's one look-up
(robots, seniors, unresolved alert kinds) and `INSERT ... ON CONFLICT DO NOTHING RETURNING`
must open exactly one alert per robot and kind, count repeats, and give each its senior,
whether the robot is new, unlinked, linked, or already has alerts of other kinds or statuses."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.alerts.rules import SEVERITY_OF, AlertDecision
from cloud.ingest import ParsedMessage, parse_message, store_batch
from cloud.store import Alert, AlertKind, AlertStatus, Device
from cloud.store.models import Senior
from protocol import EventType, events_topic, make_envelope
from protocol.envelope import encode
from protocol.events import InactivityPayload
from tests.cloud.helpers import NOW, emergency, fall, new_device_id


def _msg(device_id: str, raw: bytes) -> ParsedMessage:
    return parse_message(events_topic(device_id), raw)


def _inactivity(device_id: str, seq: int) -> bytes:
    payload = InactivityPayload(last_activity=NOW - timedelta(hours=30), hours=30.0)
    env = make_envelope(device_id, seq, payload, event_type=EventType.INACTIVITY, ts=NOW)
    return encode(env)


def _store(sessions: sessionmaker[Session], *messages: ParsedMessage) -> None:
    with sessions() as s, s.begin():
        store_batch(s, list(messages), NOW, alerts=AlertEngine())


def _alerts(sessions: sessionmaker[Session], device_id: str) -> list[tuple[str, str, int, str]]:
    with sessions() as s:
        rows = s.execute(
            select(Alert.kind, Alert.status, Alert.repeat_count, Alert.senior_id)
            .where(Alert.device_id == device_id)
            .order_by(Alert.id)
        ).all()
    return [(str(k), str(st), n, str(sen)) for k, st, n, sen in rows]


def _robot(sessions: sessionmaker[Session], senior_id: str | None) -> str:
    device_id = new_device_id()
    with sessions() as s, s.begin():
        if senior_id is not None and s.get(Senior, senior_id) is None:
            s.add(Senior(id=senior_id, display_name="김순자", created_at=NOW))
            s.flush()
        s.add(Device(id=device_id, first_seen=NOW, last_seen=NOW, online=True, senior_id=senior_id))
    return device_id


def _open(
    sessions: sessionmaker[Session], device_id: str, kind: AlertKind, status: AlertStatus
) -> None:
    with sessions() as s, s.begin():
        change = AlertEngine().raise_alert(
            s, device_id, AlertDecision(kind, SEVERITY_OF[kind]), 1, NOW
        )
        assert change.created
        if status is not AlertStatus.OPEN:
            alert = s.get(Alert, change.alert_id)
            assert alert is not None
            alert.status = status


def test_a_new_robots_two_emergencies_in_one_batch_open_one_alert_and_count_a_repeat(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    _store(sessions, _msg(dev, emergency(dev, 1)), _msg(dev, emergency(dev, 2)))
    assert _alerts(sessions, dev) == [("emergency", "open", 2, "None")]


def test_an_acknowledged_emergency_does_not_absorb_a_new_one_but_an_open_fall_stays_apart(
    sessions: sessionmaker[Session],
) -> None:
    """Two unresolved alerts of the robot (two rows of the batch's look-up): the acknowledged
    emergency is not active, so a new call opens a new alert for the robot's senior."""
    senior = f"s-{new_device_id()}"
    dev = _robot(sessions, senior)
    _open(sessions, dev, AlertKind.EMERGENCY, AlertStatus.ACKNOWLEDGED)
    _open(sessions, dev, AlertKind.FALL, AlertStatus.OPEN)
    _store(sessions, _msg(dev, emergency(dev, 5)))
    _store(sessions, _msg(dev, emergency(dev, 6)), _msg(dev, fall(dev, 7)))
    assert _alerts(sessions, dev) == [
        ("emergency", "acknowledged", 1, senior),
        ("fall", "open", 2, senior),
        ("emergency", "open", 2, senior),
    ]


def test_an_acknowledged_condition_absorbs_the_next_report_of_it(
    sessions: sessionmaker[Session],
) -> None:
    dev = _robot(sessions, None)
    _store(sessions, _msg(dev, _inactivity(dev, 1)))
    with sessions() as s, s.begin():
        alert = s.scalars(select(Alert).where(Alert.device_id == dev)).one()
        alert.status = AlertStatus.ACKNOWLEDGED
    _store(sessions, _msg(dev, _inactivity(dev, 2)))
    assert _alerts(sessions, dev) == [("inactivity", "acknowledged", 2, "None")]


def test_each_robot_of_a_batch_gets_its_own_senior_new_unlinked_or_linked(
    sessions: sessionmaker[Session],
) -> None:
    """On PostgreSQL a batch of two or more robots locks them first and reads their seniors in
    the look-up; a robot the store has never seen is not in it and is asked after its insert."""
    senior = f"s-{new_device_id()}"
    linked, unlinked, new = _robot(sessions, senior), _robot(sessions, None), new_device_id()
    _store(sessions, *(_msg(d, emergency(d, 1)) for d in (new, unlinked, linked)))
    assert _alerts(sessions, linked) == [("emergency", "open", 1, senior)]
    assert _alerts(sessions, unlinked) == [("emergency", "open", 1, "None")]
    assert _alerts(sessions, new) == [("emergency", "open", 1, "None")]


def test_an_insert_that_meets_an_open_alert_counts_a_repeat_on_both_stores(
    sessions: sessionmaker[Session],
) -> None:
    """The batch's look-up saw no alert, one was opened since (here by another engine in the
    same transaction, the only way on SQLite's one writer): `ON CONFLICT DO NOTHING RETURNING`
    returns nothing and the open alert counts the repeat; the partial index lets an
    acknowledged one stand beside it."""
    dev = _robot(sessions, None)
    _open(sessions, dev, AlertKind.EMERGENCY, AlertStatus.ACKNOWLEDGED)
    engine = AlertEngine()
    decision = AlertDecision(AlertKind.FALL, SEVERITY_OF[AlertKind.FALL])
    with sessions() as s, s.begin(), engine.prefetched(s, [dev]):
        first = AlertEngine().raise_alert(s, dev, decision, 1, NOW)
        second = engine.raise_alert(s, dev, decision, 2, NOW)
    assert first.created
    assert not second.created
    assert second.alert_id == first.alert_id
    assert second.repeat_count == 2
    assert _alerts(sessions, dev) == [
        ("emergency", "acknowledged", 1, "None"),
        ("fall", "open", 2, "None"),
    ]
