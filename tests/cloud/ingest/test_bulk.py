"""Bulk ingest (issue 16): routine events in multi-row statements, same truth as one by one.

Run on SQLite and PostgreSQL. Each test compares with what the one-message-at-a-time path
stores, or with the rule the one-by-one path follows (idempotent key, conflicts dead-lettered,
condition alerts cleared, emergencies first).
"""

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.alerts.rules import SEVERITY_OF, AlertDecision
from cloud.ingest import Outcome, ParsedMessage, parse_message, store_batch
from cloud.ingest.batch import ROUTINE_CHUNK, bulk_devices
from cloud.store import Alert, DeadLetter, Device, Event
from cloud.store.models import AlertKind, AlertStatus
from protocol import EventType, encode, events_topic, make_envelope, status_topic
from protocol.events import BatteryPayload, InactivityPayload, MoodPayload, TouchPayload
from tests.cloud.helpers import NOW, as_dict, emergency, heartbeat, new_device_id


def touch(device_id: str, seq: int, hugs: int = 1) -> bytes:
    payload = TouchPayload(period_start=NOW - timedelta(minutes=5), period_end=NOW, hug=hugs)
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.TOUCH, ts=NOW))


def parsed(device_id: str, raw: bytes) -> ParsedMessage:
    return parse_message(events_topic(device_id), raw)


def store(
    sessions: sessionmaker[Session], messages: list[ParsedMessage], *, bulk: bool = True
) -> list[tuple[int, Any]]:
    with sessions() as s, s.begin():
        return store_batch(s, messages, NOW, alerts=AlertEngine(), bulk=bulk)


def snapshot(sessions: sessionmaker[Session], devices: list[str]) -> list[tuple[Any, ...]]:
    """Every stored event and device row of these devices, without ids."""
    with sessions() as s:
        events = s.execute(
            select(Event.device_id, Event.epoch, Event.seq, Event.type, Event.payload)
            .where(Event.device_id.in_(devices))
            .order_by(Event.device_id, Event.seq)
        ).all()
        rows = s.execute(
            select(Device.id, Device.online, Device.last_heartbeat, Device.last_heartbeat_at)
            .where(Device.id.in_(devices))
            .order_by(Device.id)
        ).all()
    return [tuple(r) for r in events] + [tuple(r) for r in rows]


def statements(sessions: sessionmaker[Session]) -> list[str]:
    seen: list[str] = []
    engine: Engine = sessions.kw["bind"]

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    return seen


def test_routine_events_take_a_few_statements_not_a_few_per_message(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(60)]
    messages = [parsed(d, heartbeat(d, seq)) for seq in (1, 2) for d in devices]
    seen = statements(sessions)
    results = store(sessions, messages)
    assert sorted(i for i, _ in results) == list(range(120))
    assert {o.outcome for _, o in results} == {Outcome.STORED}
    inserts = [q for q in seen if q.lstrip().upper().startswith("INSERT INTO EVENTS")]
    # 120 rows: one statement on PostgreSQL, two chunks of 100 on SQLite
    assert 1 <= len(inserts) <= 2
    assert len(seen) <= 10  # prefetch (2), device upsert, event insert(s), commit bookkeeping
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 120


def test_bulk_stores_exactly_what_one_by_one_stores(sessions: sessionmaker[Session]) -> None:
    a, b = [new_device_id() for _ in range(5)], [new_device_id() for _ in range(5)]

    def mixed(devices: list[str]) -> list[ParsedMessage]:
        out = []
        for d in devices:
            out += [parsed(d, heartbeat(d, 1)), parsed(d, touch(d, 2)), parsed(d, heartbeat(d, 3))]
        out.append(parsed(devices[0], emergency(devices[0], 4)))
        out.append(parse_message(status_topic(devices[1]), b"offline"))
        return out

    bulk = store(sessions, mixed(a))
    one = store(sessions, mixed(b), bulk=False)
    assert [o.outcome for _, o in sorted(bulk)] == [o.outcome for _, o in sorted(one)]
    rename = dict(zip(b, a, strict=True))
    ours = snapshot(sessions, a)
    theirs = [(rename.get(r[0], r[0]), *r[1:]) for r in snapshot(sessions, b)]
    assert sorted(ours, key=repr) == sorted(theirs, key=repr)


def test_redelivered_batch_is_all_duplicates_and_a_changed_key_is_a_fault(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(20)]
    first = [parsed(d, heartbeat(d, 1)) for d in devices]
    store(sessions, first)
    again = store(sessions, first)
    assert {o.outcome for _, o in again} == {Outcome.DUPLICATE}
    changed = as_dict(heartbeat(devices[3], 1))
    changed["payload"]["uptime_s"] = 99.0
    hostile = parsed(devices[3], encode_dict(changed))
    results = store(sessions, [parsed(devices[0], heartbeat(devices[0], 2)), hostile])
    assert sorted(o.outcome for _, o in results) == [Outcome.DEAD_LETTERED, Outcome.STORED]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 21
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1
        fault = s.scalars(select(Alert)).one()
        assert (fault.device_id, fault.kind) == (devices[3], AlertKind.DEVICE_FAULT)


def encode_dict(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_the_same_key_twice_in_one_batch_leaves_the_bulk_path(
    sessions: sessionmaker[Session],
) -> None:
    dev, other = new_device_id(), new_device_id()
    changed = as_dict(heartbeat(dev, 1))
    changed["payload"]["uptime_s"] = 1.0
    messages = [
        parsed(dev, heartbeat(dev, 1)),
        parsed(dev, encode_dict(changed)),
        parsed(dev, heartbeat(dev, 1)),
        parsed(other, heartbeat(other, 1)),
    ]
    assert bulk_devices(messages) == {other}
    results = dict(store(sessions, messages))
    assert [results[i].outcome for i in range(4)] == [
        Outcome.STORED,
        Outcome.DEAD_LETTERED,
        Outcome.DUPLICATE,
        Outcome.STORED,
    ]


def test_a_bulk_heartbeat_clears_an_open_offline_alert_and_a_touch_inactivity(
    sessions: sessionmaker[Session],
) -> None:
    dev, quiet = new_device_id(), new_device_id()
    store(sessions, [parsed(dev, heartbeat(dev, 1)), parsed(quiet, heartbeat(quiet, 1))])
    engine = AlertEngine()
    with sessions() as s, s.begin():
        for kind in (AlertKind.DEVICE_OFFLINE, AlertKind.INACTIVITY):
            engine.raise_alert(s, dev, AlertDecision(kind, SEVERITY_OF[kind]), 1, NOW)
    results = store(
        sessions,
        [
            parsed(quiet, heartbeat(quiet, 2)),
            parsed(dev, heartbeat(dev, 2)),
            parsed(dev, touch(dev, 3)),
        ],
    )
    assert all(o.outcome is Outcome.STORED for _, o in results)
    with sessions() as s:
        statuses = {a.kind: a.status for a in s.scalars(select(Alert))}
    assert statuses == {
        AlertKind.DEVICE_OFFLINE: AlertStatus.EXPIRED,
        AlertKind.INACTIVITY: AlertStatus.EXPIRED,
    }


def test_an_emergency_is_stored_before_the_routine_rows_of_its_batch(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(150)]
    sos = new_device_id()
    messages = [parsed(d, heartbeat(d, 1)) for d in devices]
    messages.insert(97, parsed(sos, emergency(sos, 1)))
    results = store(sessions, messages)
    first_index, first = results[0]
    assert first_index == 97
    assert first.outcome is Outcome.STORED
    assert first.alert is not None
    assert first.alert.created
    assert len(results) == 151


def test_a_bulk_batch_yields_to_a_waiting_critical_message_between_messages(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(10)]
    asked: list[int] = []

    def critical_waits() -> bool:
        asked.append(1)
        return len(asked) > 4

    with sessions() as s, s.begin():
        results = store_batch(
            s, [parsed(d, heartbeat(d, 1)) for d in devices], NOW, yield_to=critical_waits
        )
    assert sorted(i for i, _ in results) == [0, 1, 2, 3]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 4


def test_a_low_battery_stored_in_bulk_still_opens_its_alert(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    low = encode(
        make_envelope(
            dev,
            2,
            BatteryPayload(level_pct=5.0, charging=False),
            event_type=EventType.BATTERY,
            ts=NOW,
        )
    )
    messages = [parsed(dev, heartbeat(dev, 1)), parsed(dev, low)]
    assert bulk_devices(messages) == {dev}
    results = dict(store(sessions, messages))
    assert results[1].alert is not None
    assert results[1].alert.created
    with sessions() as s:
        assert s.scalars(select(Alert.kind)).one() == AlertKind.LOW_BATTERY


def test_mood_and_reminders_are_stored_one_by_one_with_their_device(
    sessions: sessionmaker[Session],
) -> None:
    dev, other = new_device_id(), new_device_id()
    mood = encode(
        make_envelope(
            dev,
            2,
            MoodPayload(
                period_start=NOW - timedelta(hours=1),
                period_end=NOW,
                shares={"calm": 1.0},
                valence=0.2,
                arousal=0.0,
                utterances=3,
            ),
            event_type=EventType.MOOD,
            ts=NOW,
        )
    )
    messages = [parsed(dev, heartbeat(dev, 1)), parsed(dev, mood), parsed(other, touch(other, 1))]
    assert bulk_devices(messages) == {other}
    assert {o.outcome for _, o in store(sessions, messages)} == {Outcome.STORED}


def test_a_malformed_message_beside_routine_ones_is_dead_lettered_in_the_same_batch(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    messages = [
        parsed(dev, heartbeat(dev, 1)),
        parse_message(events_topic(dev), b'{"v": 1'),
        parsed(dev, heartbeat(dev, 2)),
    ]
    results = dict(store(sessions, messages))  # no exception: not the one-by-one fallback
    assert [results[i].outcome for i in range(3)] == [
        Outcome.STORED,
        Outcome.DEAD_LETTERED,
        Outcome.STORED,
    ]


def test_a_critical_message_waits_for_one_step_of_routine_rows_not_the_batch(
    sessions: sessionmaker[Session],
) -> None:
    devices = [new_device_id() for _ in range(2 * ROUTINE_CHUNK + 50)]
    messages = [parsed(d, heartbeat(d, 1)) for d in devices]
    asked: list[int] = []

    def critical_arrives_during_the_first_step() -> bool:
        asked.append(1)
        return len(asked) > len(messages)  # after sorting every message, before the 2nd step

    with sessions() as s, s.begin():
        results = store_batch(s, messages, NOW, yield_to=critical_arrives_during_the_first_step)
    assert len(results) == ROUTINE_CHUNK
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == ROUTINE_CHUNK


def test_safety_events_are_never_stored_in_bulk(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    quiet = encode(
        make_envelope(
            dev,
            2,
            InactivityPayload(last_activity=NOW - timedelta(hours=8), hours=8.0),
            event_type=EventType.INACTIVITY,
            ts=NOW,
        )
    )
    messages = [parsed(dev, heartbeat(dev, 1)), parsed(dev, quiet)]
    assert bulk_devices(messages) == set()
    results = dict(store(sessions, messages))
    assert results[1].alert is not None
