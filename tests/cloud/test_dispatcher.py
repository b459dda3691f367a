"""Webhook delivery to a real local HTTP receiver: signed, retried, dead-lettered, resumed."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine, DispatchPolicy, WebhookDispatcher, verify
from cloud.ingest import ingest_message
from cloud.store import Alert, AlertStatus, AlertTransition, Delivery, DeliveryStatus
from protocol import events_topic
from tests.cloud.helpers import WebhookReceiver, emergency, new_device_id, wait_until

SECRET = "test-secret"
FAST = DispatchPolicy(max_attempts=4, backoff_s=0.001, backoff_max_s=0.01, timeout_s=5)


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def failing_twice() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(fail_first=2)
    yield r
    r.close()


@pytest.fixture
def always_failing() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(always_fail=True)
    yield r
    r.close()


def open_alert(sessions: sessionmaker[Session], url: str, now: datetime) -> tuple[str, int]:
    dev = new_device_id()
    with sessions() as s, s.begin():
        outcome = ingest_message(
            s, events_topic(dev), emergency(dev, 1), now, alerts=AlertEngine([url])
        )
    assert outcome.alert is not None
    return dev, outcome.alert.alert_id


def delivery(sessions: sessionmaker[Session]) -> Delivery:
    with sessions() as s:
        return s.scalars(select(Delivery)).one()


def drain(dispatcher: WebhookDispatcher, clock: Clock, rounds: int = 10) -> None:
    """Run passes, moving the clock past every backoff."""
    for _ in range(rounds):
        dispatcher.run_once()
        clock.now += timedelta(seconds=1)


def test_signed_alert_reaches_the_receiver(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    clock = Clock()
    dev, alert_id = open_alert(sessions, receiver.url, clock.now)
    dispatcher = WebhookDispatcher(sessions, secret=SECRET, policy=FAST, clock=clock)
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    [got] = receiver.received
    assert verify(
        SECRET,
        got.headers["X-Dolbom-Timestamp"],
        got.body,
        got.headers["X-Dolbom-Signature"],
        datetime.now(UTC),
    )
    body = json.loads(got.body)
    assert body["alert_id"] == alert_id
    assert body["device_id"] == dev
    assert (body["kind"], body["severity"], body["event_seq"]) == ("emergency", "critical", 1)
    assert body["message"]["ko"] == "긴급: 어르신이 도움을 요청했습니다"
    assert body["message"]["en"] == "Emergency: the senior called for help"
    assert body["created_at"].endswith("Z")
    d = delivery(sessions)
    assert (d.status, d.attempts, d.last_error) == (DeliveryStatus.DELIVERED, 1, None)
    with sessions() as s:
        alert = s.get_one(Alert, alert_id)
        assert alert.status is AlertStatus.NOTIFIED
        last = s.scalars(select(AlertTransition).order_by(AlertTransition.id.desc())).first()
        assert last is not None
        assert (last.to_status, last.channel) == (AlertStatus.NOTIFIED, "webhook")


def test_receiver_failing_twice_gets_it_on_the_third_attempt(
    sessions: sessionmaker[Session], failing_twice: WebhookReceiver
) -> None:
    clock = Clock()
    open_alert(sessions, failing_twice.url, clock.now)
    dispatcher = WebhookDispatcher(sessions, secret=SECRET, policy=FAST, clock=clock)
    try:
        drain(dispatcher, clock)
    finally:
        dispatcher.stop()
    assert failing_twice.attempts == 3
    assert len(failing_twice.received) == 1
    d = delivery(sessions)
    assert (d.status, d.attempts) == (DeliveryStatus.DELIVERED, 3)


def test_always_failing_receiver_ends_dead_with_the_error(
    sessions: sessionmaker[Session], always_failing: WebhookReceiver
) -> None:
    clock = Clock()
    _, alert_id = open_alert(sessions, always_failing.url, clock.now)
    dispatcher = WebhookDispatcher(sessions, secret=SECRET, policy=FAST, clock=clock)
    try:
        drain(dispatcher, clock)
    finally:
        dispatcher.stop()
    assert always_failing.attempts == FAST.max_attempts
    d = delivery(sessions)
    assert (d.status, d.attempts) == (DeliveryStatus.DEAD, FAST.max_attempts)
    assert d.last_error is not None
    assert "HTTP 500" in d.last_error
    with sessions() as s:
        assert s.get_one(Alert, alert_id).status is AlertStatus.OPEN


def test_unreachable_receiver_records_the_connection_error(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    dead = WebhookReceiver()
    url = dead.url
    dead.close()  # nothing listens there any more
    open_alert(sessions, url, clock.now)
    dispatcher = WebhookDispatcher(sessions, secret=SECRET, policy=FAST, clock=clock)
    try:
        dispatcher.run_once()
    finally:
        dispatcher.stop()
    d = delivery(sessions)
    assert d.status is DeliveryStatus.PENDING
    assert d.last_error is not None
    assert "ConnectError" in d.last_error


def test_restarted_dispatcher_resumes_a_stored_retry(
    sessions: sessionmaker[Session], failing_twice: WebhookReceiver
) -> None:
    clock = Clock()
    open_alert(sessions, failing_twice.url, clock.now)
    slow = DispatchPolicy(max_attempts=5, backoff_s=60, backoff_max_s=60)
    first = WebhookDispatcher(sessions, secret=SECRET, policy=slow, clock=clock)
    try:
        first.run_once()
        assert first.run_once() == 0  # the retry waits for its stored time
    finally:
        first.stop()
    d = delivery(sessions)
    assert (d.status, d.attempts) == (DeliveryStatus.PENDING, 1)
    assert d.next_attempt_at > clock.now

    clock.now = d.next_attempt_at + timedelta(seconds=1)
    second = WebhookDispatcher(sessions, secret=SECRET, policy=FAST, clock=clock)
    try:
        drain(second, clock)
    finally:
        second.stop()
    d = delivery(sessions)
    assert (d.status, d.attempts) == (DeliveryStatus.DELIVERED, 3)


def test_dispatcher_thread_delivers_when_woken(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    dispatcher = WebhookDispatcher(sessions, secret=SECRET, policy=FAST, poll_s=0.05)
    dispatcher.start()
    try:
        open_alert(sessions, receiver.url, datetime.now(UTC))
        dispatcher.wake()
        wait_until(lambda: receiver.received, what="the webhook")
    finally:
        dispatcher.stop()
    assert delivery(sessions).status is DeliveryStatus.DELIVERED
