"""Batched ingest on SQLite and PostgreSQL: one transaction, critical first, poison isolated."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertChange, AlertEngine
from cloud.ingest import (
    IngestOutcome,
    IngestWorker,
    Outcome,
    ParsedMessage,
    Received,
    parse_message,
    processing_order,
)
from cloud.settings import CloudSettings
from cloud.store import Alert, DeadLetter, Event, make_engine, make_session_factory
from protocol import Envelope, events_topic, status_topic
from tests.cloud.helpers import NOW, emergency, fall, heartbeat, new_device_id

MALFORMED = b'{"v": 1, "device_id"'


def batch(*messages: tuple[str, bytes]) -> list[Received]:
    """Messages as the ingest thread hands them to `handle_batch`."""
    return [Received(parse_message(topic, raw)) for topic, raw in messages]


def ev(device_id: str, raw: bytes) -> tuple[str, bytes]:
    return events_topic(device_id), raw


def worker_for(
    sessions: sessionmaker[Session],
    *,
    alerts: AlertEngine | None = None,
    on_alert: Any = None,
) -> IngestWorker:
    """A worker that is never started: `handle_batch` is all these tests use."""
    return IngestWorker(
        CloudSettings(), sessions, alerts=alerts, on_alert=on_alert, clock=lambda: NOW
    )


def count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def outcomes_of(results: Sequence[IngestOutcome | None]) -> list[Outcome | None]:
    return [r.outcome if r is not None else None for r in results]


class RecordingEngine(AlertEngine):
    """The real engine, noting the order events reach it."""

    def __init__(self, fail_for: str | None = None) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []
        self.fail_for = fail_for

    def on_event(self, session: Session, envelope: Envelope, now: datetime) -> AlertChange | None:
        if envelope.device_id == self.fail_for:
            raise RuntimeError("a bug this event triggers")
        self.seen.append((envelope.device_id, envelope.type.value))
        return super().on_event(session, envelope, now)


def _parsed(device_id: str, raw: bytes) -> ParsedMessage:
    return parse_message(events_topic(device_id), raw)


def test_critical_devices_go_first_and_each_device_keeps_its_order() -> None:
    a, b, c = new_device_id(), new_device_id(), new_device_id()
    messages = [
        _parsed(a, heartbeat(a, 1)),  # 0: low, but its device later sends an emergency
        _parsed(b, heartbeat(b, 1)),  # 1: low
        parse_message(events_topic(c), MALFORMED),  # 2: refused: counts as normal
        _parsed(a, emergency(a, 2)),  # 3: critical
        _parsed(c, fall(c, 1)),  # 4: critical, same device as the refused one
    ]
    assert processing_order(messages) == [0, 3, 2, 4, 1]


def test_batch_is_one_transaction_that_stores_the_good_and_dead_letters_the_malformed(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    engine: Engine = sessions.kw["bind"]
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)
    results = worker_for(sessions).handle_batch(
        batch(
            ev(dev, heartbeat(dev, 1)),
            ev(dev, heartbeat(dev, 2)),
            ev(dev, MALFORMED),
            ev(dev, emergency(dev, 3)),
            (status_topic(dev), b"online"),
        )
    )
    assert outcomes_of(results) == [
        Outcome.STORED,
        Outcome.STORED,
        Outcome.DEAD_LETTERED,
        Outcome.STORED,
        Outcome.STATUS,
    ]
    assert len(commits) == 1
    with sessions() as s:
        assert list(s.scalars(select(Event.seq).order_by(Event.seq))) == [1, 2, 3]
        assert s.scalars(select(DeadLetter.raw)).one() == MALFORMED
        assert s.scalars(select(Alert.device_id)).one() == dev


def test_a_message_that_breaks_the_batch_is_dead_lettered_alone(
    sessions: sessionmaker[Session],
) -> None:
    dev, poison = new_device_id(), new_device_id()
    alerts: list[AlertChange] = []
    worker = worker_for(sessions, alerts=RecordingEngine(fail_for=poison), on_alert=alerts.append)
    results = worker.handle_batch(
        batch(
            ev(dev, heartbeat(dev, 1)),
            ev(poison, emergency(poison, 1)),
            ev(dev, emergency(dev, 2)),
        )
    )
    assert outcomes_of(results) == [Outcome.STORED, Outcome.DEAD_LETTERED, Outcome.STORED]
    assert results[1] is not None
    assert results[1].reason is not None
    assert "RuntimeError" in results[1].reason
    with sessions() as s:
        assert list(s.scalars(select(Event.device_id))) == [dev, dev]
        assert s.scalars(select(DeadLetter.raw)).one() == emergency(poison, 1)
    assert len(alerts) == 1


def test_a_seq_the_store_cannot_hold_is_dead_lettered_and_the_rest_stored(
    sessions: sessionmaker[Session],
) -> None:
    dev, poison = new_device_id(), new_device_id()
    results = worker_for(sessions).handle_batch(
        batch(
            ev(dev, heartbeat(dev, 1)),
            # valid JSON, too big for a BIGINT: the contract refuses it before the store would
            ev(poison, heartbeat(poison, 1).replace(b'"seq":1,', f'"seq":{2**63},'.encode())),
            ev(dev, heartbeat(dev, 2)),
        )
    )
    assert outcomes_of(results) == [Outcome.STORED, Outcome.DEAD_LETTERED, Outcome.STORED]
    assert count(sessions, Event) == 2
    assert count(sessions, DeadLetter) == 1


def test_critical_events_in_a_batch_reach_the_alert_engine_first(
    sessions: sessionmaker[Session],
) -> None:
    quiet, sos, fallen = new_device_id(), new_device_id(), new_device_id()
    engine = RecordingEngine()
    alerts: list[AlertChange] = []
    worker_for(sessions, alerts=engine, on_alert=alerts.append).handle_batch(
        batch(
            ev(quiet, heartbeat(quiet, 1)),
            ev(quiet, heartbeat(quiet, 2)),
            ev(fallen, fall(fallen, 1)),
            ev(sos, emergency(sos, 1)),
        )
    )
    assert engine.seen == [
        (fallen, "fall"),
        (sos, "emergency"),
        (quiet, "heartbeat"),
        (quiet, "heartbeat"),
    ]
    with sessions() as s:
        kinds = {a.id: a.kind for a in s.scalars(select(Alert))}
    assert [kinds[a.alert_id] for a in alerts] == ["fall", "emergency"]


def test_duplicates_within_and_across_batches_are_one_row_each(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    alerts: list[AlertChange] = []
    worker = worker_for(sessions, on_alert=alerts.append)
    first = worker.handle_batch(batch(ev(dev, emergency(dev, 1)), ev(dev, heartbeat(dev, 2))))
    again = worker.handle_batch(
        batch(ev(dev, heartbeat(dev, 2)), ev(dev, emergency(dev, 1)), ev(dev, heartbeat(dev, 3)))
    )
    twice = worker.handle_batch(batch(ev(dev, heartbeat(dev, 4)), ev(dev, heartbeat(dev, 4))))
    assert outcomes_of(first) == [Outcome.STORED, Outcome.STORED]
    assert outcomes_of(again) == [Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.STORED]
    assert outcomes_of(twice) == [Outcome.STORED, Outcome.DUPLICATE]
    with sessions() as s:
        assert list(s.scalars(select(Event.seq).order_by(Event.seq))) == [1, 2, 3, 4]
    assert count(sessions, Alert) == 1
    assert len(alerts) == 1


def test_on_alert_runs_after_the_batch_is_committed(sessions: sessionmaker[Session]) -> None:
    dev = new_device_id()
    visible: list[bool] = []

    def on_alert(change: AlertChange) -> None:
        with sessions() as s:  # another connection: sees only what is committed
            visible.append(s.get(Alert, change.alert_id) is not None)

    worker_for(sessions, on_alert=on_alert).handle_batch(
        batch(ev(dev, heartbeat(dev, 1)), ev(dev, emergency(dev, 2)))
    )
    assert visible == [True]


def test_an_unreachable_store_leaves_the_outcome_unknown() -> None:
    engine = make_engine("postgresql://nobody:nothing@127.0.0.1:1/none")
    try:
        worker = worker_for(make_session_factory(engine))
        dev = new_device_id()
        assert worker.handle_batch(batch(ev(dev, emergency(dev, 1)))) == [None]
    finally:
        engine.dispose()


def test_a_batch_stops_early_for_a_waiting_critical_message_and_resumes(
    sessions: sessionmaker[Session],
) -> None:
    dev = new_device_id()
    worker = worker_for(sessions)
    asked: list[bool] = []

    def critical_waits() -> bool:  # true from the second message on
        asked.append(True)
        return len(asked) > 1

    pending = batch(
        ev(dev, heartbeat(dev, 1)), ev(dev, heartbeat(dev, 2)), ev(dev, heartbeat(dev, 3))
    )
    first = worker.handle_batch(pending, yield_to=critical_waits)
    assert outcomes_of(first) == [Outcome.STORED, None, None]
    assert count(sessions, Event) == 1  # committed before yielding
    rest = worker.handle_batch(pending[1:])
    assert outcomes_of(rest) == [Outcome.STORED, Outcome.STORED]
    assert count(sessions, Event) == 3
