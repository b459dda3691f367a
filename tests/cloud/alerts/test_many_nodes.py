"""Issue 16: the escalation scheduler, the webhook dispatcher and the sweep run on every node.

Three of each on one store (SQLite and PostgreSQL), webhooks to a real receiver on loopback,
simulated time for escalation: every due step runs once, every delivery reaches the receiver
once, none is skipped, and two nodes sweeping at once open one offline alert, not an alert and
a repeat. The kill -9 of a node mid-escalation is in test_node_kill.py.
"""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine, EscalationWorker
from cloud.alerts.dispatcher import WebhookDispatcher
from cloud.alerts.escalation import DEFAULT_RENOTIFY_S
from cloud.alerts.webhook import DELIVERY_HEADER
from cloud.store.models import (
    Alert,
    AlertKind,
    Channel,
    Delivery,
    DeliveryStatus,
    Device,
    EscalationStep,
    StepStatus,
)
from protocol import EventType
from protocol.events import EmergencyPayload, TriggerSource
from tests.cloud.alerts.care import FakeClock, make_care, send
from tests.cloud.helpers import WebhookReceiver

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 12:00 in Seoul: no quiet hours
NODES = 3
SENIORS = 6
ROUNDS = 3


def all_at_once(jobs: list[Callable[[], int]]) -> list[int]:
    """Run the jobs in threads released together; their results."""
    start = threading.Barrier(len(jobs))
    results = [0] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def pending(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING)
            )
            or 0
        )


def drain(sessions: sessionmaker[Session], dispatcher: WebhookDispatcher) -> Callable[[], int]:
    """A node's dispatcher passes until no delivery is pending anywhere; attempts it made."""

    def job() -> int:
        made = 0
        while pending(sessions):
            made += dispatcher.run_once(limit=5)
        return made

    return job


def test_three_schedulers_and_three_dispatchers_send_each_notification_once(
    sessions: sessionmaker[Session],
) -> None:
    receiver = WebhookReceiver()
    try:
        engine = AlertEngine()
        alerts = []
        for i in range(SENIORS):
            care = make_care(
                sessions, T0, contacts={"daughter": (Channel.WEBHOOK, f"{receiver.url}/{i}")}
            )
            outcome = send(
                sessions,
                care,
                EventType.EMERGENCY,
                EmergencyPayload(trigger=TriggerSource.BUTTON),
                T0,
                engine,
            )
            assert outcome.alert is not None
            alerts.append(outcome.alert.alert_id)
        clock = FakeClock(T0)
        schedulers = [
            EscalationWorker(sessions, engine, sweep_s=None, clock=clock) for _ in range(NODES)
        ]
        dispatchers = [
            WebhookDispatcher(sessions, secret=None, engine=engine) for _ in range(NODES)
        ]
        try:
            assert sum(all_at_once([drain(sessions, d) for d in dispatchers])) == SENIORS
            for _ in range(ROUNDS):
                clock.advance(DEFAULT_RENOTIFY_S)
                created = all_at_once([w.run_once for w in schedulers])
                assert sum(created) == SENIORS  # one re-notification per alert, not one per node
                assert sum(all_at_once([drain(sessions, d) for d in dispatchers])) == SENIORS
        finally:
            for d in dispatchers:
                d.stop()
        with sessions() as s:
            deliveries = list(s.scalars(select(Delivery).where(Delivery.alert_id.in_(alerts))))
            steps = Counter(
                (a, t, n, st)
                for a, t, n, st in s.execute(
                    select(
                        EscalationStep.alert_id,
                        EscalationStep.tier,
                        EscalationStep.attempt,
                        EscalationStep.status,
                    ).where(EscalationStep.alert_id.in_(alerts))
                )
            )
        assert len(deliveries) == SENIORS * (1 + ROUNDS)
        assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
        got = Counter(int(r.headers[DELIVERY_HEADER]) for r in receiver.received)
        assert got == Counter({d.id: 1 for d in deliveries})  # each once, none missing
        assert all(n == 1 for n in steps.values())  # no (alert, tier, attempt) ran twice
        per_alert = Counter(a for a, _, _, st in steps if st == StepStatus.DONE)
        assert per_alert == Counter(dict.fromkeys(alerts, 1 + ROUNDS))  # the first ran at raise
    finally:
        receiver.close()


def test_nodes_sweeping_at_once_open_one_offline_alert(sessions: sessionmaker[Session]) -> None:
    receiver = WebhookReceiver()
    try:
        care = make_care(sessions, T0, contacts={"son": (Channel.WEBHOOK, receiver.url)})
        with sessions() as s, s.begin():
            device = s.get_one(Device, care.device_id)
            device.online = False
            device.last_seen = device.first_seen = T0 - timedelta(days=2)
            device.last_status_at = T0 - timedelta(days=2)
        engine = AlertEngine()
        clock = FakeClock(T0)
        nodes = [EscalationWorker(sessions, engine, sweep_s=60.0, clock=clock) for _ in range(5)]
        for _ in range(3):
            all_at_once([w.run_once for w in nodes])
            clock.advance(61)
        with sessions() as s:
            offline = list(
                s.scalars(
                    select(Alert).where(
                        Alert.device_id == care.device_id, Alert.kind == AlertKind.DEVICE_OFFLINE
                    )
                )
            )
            told = s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.alert_id.in_([a.id for a in offline]))
            )
        assert len(offline) == 1
        assert offline[0].repeat_count == 1  # no node counted another's alert as a repeat
        assert told == 1
    finally:
        receiver.close()
