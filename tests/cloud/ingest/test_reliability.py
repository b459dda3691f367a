"""Issue 14 items 1, 3, 4 at the store (SQLite and PostgreSQL): poison messages, a reused seq
with other content, and a robot whose outbox starts over under a new epoch."""

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.ingest import IngestOutcome, Outcome, ingest_message
from cloud.store import Alert, AlertKind, DeadLetter, Event
from protocol import events_topic
from tests.cloud.helpers import NOW, as_dict, emergency, fall, heartbeat, new_device_id


def ingest(sessions: sessionmaker[Session], topic: str, raw: bytes) -> IngestOutcome:
    with sessions() as s, s.begin():
        return ingest_message(s, topic, raw, NOW, alerts=AlertEngine())


def with_epoch(raw: bytes, epoch: int) -> bytes:
    return json.dumps({**as_dict(raw), "epoch": epoch}).encode()


def kinds(sessions: sessionmaker[Session], dev: str) -> list[str]:
    with sessions() as s:
        return sorted(s.scalars(select(Alert.kind).where(Alert.device_id == dev)))


def poison(dev: str) -> list[bytes]:
    good = as_dict(heartbeat(dev, 1))
    big_int = json.dumps(good).replace('"seq": 1', '"seq": 1' + "0" * 5000).encode()
    assert len(big_int) > 5000
    return [
        big_int,
        b"[" * 30_000 + b"]" * 30_000,
        b'{"v":1,"device_id":"' + dev.encode() + b'","seq":\xff\xfe}',
        b"[1, 2, 3]",
        b"null",
        b'"a string"',
        b"x" * (256 * 1024),
        b"{" * 20 + b"}",
    ]


def test_poison_messages_are_dead_lettered_with_a_reason(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    messages = poison(dev)
    for raw in messages:
        outcome = ingest(sessions, events_topic(dev), raw)
        assert outcome.outcome is Outcome.DEAD_LETTERED, raw[:40]
        assert outcome.reason
    with sessions() as s:
        reasons = list(s.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)))
    assert len(reasons) == len(messages)
    assert "number has 5001 characters" in reasons[0]
    assert "nests deeper" in reasons[1]
    assert "not UTF-8" in reasons[2]
    assert all("JSON object" in r for r in reasons[3:6])
    assert "limit is 65536" in reasons[6]


def test_same_key_same_content_is_a_duplicate(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    assert ingest(sessions, events_topic(dev), heartbeat(dev, 3)).outcome is Outcome.STORED
    again = ingest(sessions, events_topic(dev), heartbeat(dev, 3))
    assert again.outcome is Outcome.DUPLICATE
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
    assert kinds(sessions, dev) == []


def test_same_key_other_content_is_a_dead_letter_and_a_device_fault(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    ingest(sessions, events_topic(dev), heartbeat(dev, 5))
    changed = as_dict(heartbeat(dev, 5))
    changed["payload"]["uptime_s"] += 1
    outcome = ingest(sessions, events_topic(dev), json.dumps(changed).encode())
    assert outcome.outcome is Outcome.DEAD_LETTERED
    assert outcome.reason is not None
    assert "conflict" in outcome.reason
    assert "payload" in outcome.reason
    with sessions() as s:
        [letter] = s.scalars(select(DeadLetter)).all()
        assert "epoch 0 seq 5" in letter.reason
        assert s.scalar(select(func.count()).select_from(Event)) == 1
    assert kinds(sessions, dev) == [AlertKind.DEVICE_FAULT]


@pytest.mark.parametrize("safety", [emergency, fall])
def test_a_safety_event_reusing_a_seq_still_opens_its_alert(
    sessions: sessionmaker[Session], safety: object
) -> None:
    dev = new_device_id()
    ingest(sessions, events_topic(dev), heartbeat(dev, 9))
    raw = safety(dev, 9)  # type: ignore[operator]
    outcome = ingest(sessions, events_topic(dev), raw)
    assert outcome.outcome is Outcome.DEAD_LETTERED
    assert outcome.alert is not None
    assert outcome.alert.created
    expected = AlertKind.EMERGENCY if safety is emergency else AlertKind.FALL
    assert kinds(sessions, dev) == sorted([AlertKind.DEVICE_FAULT, expected])


def test_a_new_epoch_is_heard_after_the_outbox_starts_over(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    for seq in range(1, 34):
        assert ingest(sessions, events_topic(dev), heartbeat(dev, seq)).outcome is Outcome.STORED
    # The outbox was moved aside: a new epoch, seq from 1 again; 33 of 33 are stored.
    epoch = 2**62 + 12345
    for seq in range(1, 34):
        raw = with_epoch(heartbeat(dev, seq), epoch)
        assert ingest(sessions, events_topic(dev), raw).outcome is Outcome.STORED
    alarm = ingest(sessions, events_topic(dev), with_epoch(emergency(dev, 34), epoch))
    assert alarm.outcome is Outcome.STORED
    # Redelivery inside the new epoch is still a duplicate.
    again = ingest(sessions, events_topic(dev), with_epoch(heartbeat(dev, 1), epoch))
    assert again.outcome is Outcome.DUPLICATE
    with sessions() as s:
        rows = s.execute(select(Event.epoch, func.count()).group_by(Event.epoch)).all()
    assert dict(rows) == {0: 33, epoch: 34}
    assert kinds(sessions, dev) == [AlertKind.EMERGENCY]


def test_a_message_the_store_refuses_is_dead_lettered_not_retried_forever(
    sessions: sessionmaker[Session],
) -> None:
    from cloud.ingest import IngestWorker
    from cloud.settings import CloudSettings

    dev = new_device_id()
    fault = {
        "v": 1,
        "device_id": dev,
        "seq": 1,
        "ts": "2026-11-27T02:13:38.123Z",
        "type": "device_fault",
        "priority": "high",
        "payload": {"component": "mic", "code": "e1", "detail": "nul \u0000 byte"},
    }
    raw = json.dumps(fault).encode()  # valid JSON; PostgreSQL's JSONB refuses \u0000
    worker = IngestWorker(CloudSettings(), sessions)
    outcome = worker.handle(events_topic(dev), raw)
    assert outcome is not None  # acknowledged either way: stored, or dead-lettered
    assert outcome.outcome in (Outcome.STORED, Outcome.DEAD_LETTERED)
    good = worker.handle(events_topic(dev), heartbeat(dev, 2))
    assert good is not None
    assert good.outcome is Outcome.STORED


def test_a_redelivered_poison_message_is_not_dead_lettered_twice(
    sessions: sessionmaker[Session],
) -> None:
    from dataclasses import replace

    from cloud.ingest import parse_message, store_message

    dev = new_device_id()
    first = parse_message(events_topic(dev), b"[1, 2]")
    again = replace(first, redelivered=True)  # the broker's DUP: the ack never reached it
    for message in (first, again, again):
        with sessions() as s, s.begin():
            outcome = store_message(s, message, NOW)
        assert outcome.outcome is Outcome.DEAD_LETTERED
    with sessions() as s, s.begin():
        store_message(s, first, NOW)  # a new message that happens to be the same garbage
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 2
