"""`ingest_message` on SQLite and PostgreSQL: idempotent storage, dead letters, alerts, status."""

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.ingest import IngestOutcome, Outcome, ingest_message
from cloud.store import (
    Alert,
    AlertStatus,
    AlertTransition,
    DeadLetter,
    Delivery,
    DeliveryStatus,
    Device,
    Event,
)
from protocol import commands_topic, events_topic, status_topic
from tests.cloud.helpers import NOW, as_dict, emergency, fall, heartbeat, new_device_id


def ingest(
    sessions: sessionmaker[Session], topic: str, raw: bytes, engine: AlertEngine | None = None
) -> IngestOutcome:
    with sessions() as s, s.begin():
        return ingest_message(s, topic, raw, NOW, alerts=engine)


def count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_event_is_stored_and_device_seen(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    outcome = ingest(sessions, events_topic(dev), heartbeat(dev, 1))
    assert outcome.outcome is Outcome.STORED
    with sessions() as s:
        event = s.scalars(select(Event)).one()
        assert (event.device_id, event.seq, event.type) == (dev, 1, "heartbeat")
        assert event.ts == NOW
        device = s.get_one(Device, dev)
        assert device.online
        assert device.last_seen == NOW
        assert device.last_heartbeat is not None
        assert device.last_heartbeat["failed_self_tests"] == ["imu"]


def test_same_event_twice_is_one_row_and_one_alert(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    first = ingest(sessions, events_topic(dev), emergency(dev, 7))
    second = ingest(sessions, events_topic(dev), emergency(dev, 7))
    assert first.outcome is Outcome.STORED
    assert first.alert is not None
    assert first.alert.created
    assert second.outcome is Outcome.DUPLICATE
    assert count(sessions, Event) == 1
    assert count(sessions, Alert) == 1
    with sessions() as s:
        assert s.scalars(select(Alert.repeat_count)).one() == 1


def test_emergency_opens_a_critical_alert_with_a_transition(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    ingest(sessions, events_topic(dev), emergency(dev, 1))
    with sessions() as s:
        alert = s.scalars(select(Alert)).one()
        assert (alert.device_id, alert.kind, alert.severity) == (dev, "emergency", "critical")
        assert alert.status is AlertStatus.OPEN
        assert alert.event_seq == 1
        transition = s.scalars(select(AlertTransition)).one()
        assert transition.from_status is None
        assert transition.to_status is AlertStatus.OPEN


def test_repeat_emergency_while_open_counts_up(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    ingest(sessions, events_topic(dev), emergency(dev, 1))
    outcome = ingest(sessions, events_topic(dev), emergency(dev, 2))
    assert outcome.alert is not None
    assert not outcome.alert.created
    with sessions() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.repeat_count == 2
        assert alert.revision == 2
    assert count(sessions, AlertTransition) == 2


def test_emergency_after_acknowledgement_opens_a_new_alert(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    first = ingest(sessions, events_topic(dev), emergency(dev, 1))
    assert first.alert is not None
    with sessions() as s, s.begin():
        AlertEngine().acknowledge(s, first.alert.alert_id, "daughter", NOW)
    second = ingest(sessions, events_topic(dev), emergency(dev, 2))
    assert second.alert is not None
    assert second.alert.created
    assert count(sessions, Alert) == 2


def test_fall_and_emergency_are_separate_alerts(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    ingest(sessions, events_topic(dev), emergency(dev, 1))
    ingest(sessions, events_topic(dev), fall(dev, 2))
    assert count(sessions, Alert) == 2


def test_cancelled_countdown_is_stored_without_alert(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    outcome = ingest(sessions, events_topic(dev), fall(dev, 1, countdown="cancelled"))
    assert outcome.outcome is Outcome.STORED
    assert outcome.alert is None
    assert count(sessions, Alert) == 0


def test_new_alert_queues_one_delivery_per_webhook(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    engine = AlertEngine(["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"])
    ingest(sessions, events_topic(dev), emergency(dev, 1), engine)
    with sessions() as s:
        rows = s.scalars(select(Delivery).order_by(Delivery.target)).all()
        assert [d.target for d in rows] == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
        assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in rows)
    ingest(sessions, events_topic(dev), emergency(dev, 2), engine)  # a repeat notifies again
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 4


def _bad_messages(dev: str) -> list[tuple[str, str, bytes, str]]:
    good = as_dict(emergency(dev, 1))
    missing = {k: v for k, v in good.items() if k != "seq"}
    oversized = dict(good, payload=dict(good["payload"], intent="x" * 70_000))
    other = new_device_id()
    return [
        ("malformed_json", events_topic(dev), b'{"v": 1, "device_id"', "not JSON"),
        ("not_utf8", events_topic(dev), b"\xff\xfe", "not UTF-8"),
        ("wrong_version", events_topic(dev), json.dumps(dict(good, v=2)).encode(), "version 2"),
        ("device_mismatch", events_topic(other), json.dumps(good).encode(), "differs"),
        ("missing_field", events_topic(dev), json.dumps(missing).encode(), "seq"),
        ("wrong_type", events_topic(dev), json.dumps(dict(good, seq="one")).encode(), "seq"),
        ("oversized", events_topic(dev), json.dumps(oversized).encode(), "limit"),
        ("wrong_topic", "dolbom/v1/devices/x", json.dumps(good).encode(), "topic"),
        ("unknown_kind", f"dolbom/v1/devices/{dev}/gossip", json.dumps(good).encode(), "kind"),
        ("commands_topic", commands_topic(dev), json.dumps(good).encode(), "does not handle"),
        ("bad_status", status_topic(dev), b"sleepy", "online"),
    ]


@pytest.mark.parametrize(
    "case",
    [
        "malformed_json",
        "not_utf8",
        "wrong_version",
        "device_mismatch",
        "missing_field",
        "wrong_type",
        "oversized",
        "wrong_topic",
        "unknown_kind",
        "commands_topic",
        "bad_status",
    ],
)
def test_bad_message_is_dead_lettered_and_the_next_one_stored(
    sessions: sessionmaker[Session], case: str
) -> None:
    dev = new_device_id()
    _, topic, raw, reason = next(c for c in _bad_messages(dev) if c[0] == case)
    outcome = ingest(sessions, topic, raw)
    assert outcome.outcome is Outcome.DEAD_LETTERED
    assert outcome.reason is not None
    assert reason in outcome.reason
    with sessions() as s:
        letter = s.scalars(select(DeadLetter)).one()
        assert letter.topic == topic
        assert reason in letter.reason
        assert letter.raw == raw[: 64 * 1024]
        assert letter.raw_size == len(raw)
    assert count(sessions, Event) == 0
    assert ingest(sessions, events_topic(dev), emergency(dev, 1)).outcome is Outcome.STORED
    assert count(sessions, Event) == 1


def test_status_updates_online(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    assert ingest(sessions, status_topic(dev), b"online").outcome is Outcome.STATUS
    with sessions() as s:
        assert s.get_one(Device, dev).online
    ingest(sessions, status_topic(dev), b"offline")
    with sessions() as s:
        device = s.get_one(Device, dev)
        assert not device.online
        assert device.last_status_at == NOW


def test_cleared_retained_status_is_ignored(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    assert ingest(sessions, status_topic(dev), b"").outcome is Outcome.IGNORED
    assert count(sessions, DeadLetter) == 0


def test_a_payload_number_that_is_not_finite_is_dead_lettered_alike_on_both_stores(
    sessions: sessionmaker[Session],
) -> None:
    """`impact_g: Infinity` passed validation (a float >= 0): SQLite stored it and opened the
    alert, PostgreSQL's jsonb refused the transaction (DataError; in the worker the fall was
    then dead-lettered as "store refused it", and a routine batch holding such a heartbeat went
    one message at a time). Now the parser refuses it, the same on both stores."""
    dev = new_device_id()
    for seq, number in enumerate((float("inf"), float("nan")), start=1):
        data = as_dict(fall(dev, seq))
        data["payload"]["impact_g"] = number
        outcome = ingest(sessions, events_topic(dev), json.dumps(data).encode())
        assert outcome.outcome is Outcome.DEAD_LETTERED
        assert outcome.reason is not None
        assert "not finite" in outcome.reason
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.device_id == dev)) == 0
        assert s.scalar(select(func.count()).select_from(Event).where(Event.device_id == dev)) == 0
