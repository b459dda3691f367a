"""Acknowledgements go out in the order the broker sent the messages (MQTT-4.6.0-2), even when
the worker stores an emergency ahead of the routine messages received before it: a broker that
takes acks in order only (rumqttd, test_broker_contract.py) would otherwise settle the wrong
message. On SQLite and PostgreSQL for the worker's part."""

from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertChange
from cloud.ingest import IngestWorker, Received, parse_message
from cloud.ingest.ackorder import AckOrder
from cloud.ingest.batch import ROUTINE_CHUNK
from cloud.settings import CloudSettings
from protocol import events_topic
from tests.cloud.helpers import NOW, emergency, heartbeat, new_device_id
from tests.cloud.ingest.test_bulk_scale import _ArrivesMidBatch, _count


def test_a_settled_message_waits_for_every_message_received_before_it() -> None:
    order = AckOrder()
    for mid in (1, 2, 3, 4):
        order.received(0, mid, 1)
    assert order.settle(0, [3]) == []  # 1 and 2 are still being stored
    assert order.settle(0, [1]) == [(1, 1)]
    assert order.settle(0, [4, 2]) == [(2, 1), (3, 1), (4, 1)]
    assert order.waiting() == 0


def test_qos_0_needs_no_ack_and_qos_2_keeps_its_place() -> None:
    order = AckOrder()
    order.received(0, 0, 0)  # QoS 0: no packet id, nothing to acknowledge
    order.received(0, 7, 2)
    order.received(0, 8, 1)
    assert order.waiting() == 2
    assert order.settle(0, [8]) == []
    assert order.settle(0, [7]) == [(7, 2), (8, 1)]


def test_a_new_connection_starts_a_new_order_and_the_old_ones_are_never_acked() -> None:
    order = AckOrder()
    order.received(1, 5, 1)
    order.received(1, 6, 1)
    order.received(2, 5, 1)  # reconnected: the broker resends 5 (and later 6) on the new link
    assert order.settle(1, [5, 6]) == []  # settled for a connection that is gone
    assert order.settle(2, [5]) == [(5, 1)]
    assert order.waiting() == 0


def test_a_packet_id_used_again_after_its_ack_is_a_new_message() -> None:
    order = AckOrder()
    order.received(0, 9, 1)
    assert order.settle(0, [9]) == [(9, 1)]
    order.received(0, 10, 1)
    order.received(0, 9, 1)  # the broker reuses 9 for a later message
    assert order.settle(0, [9]) == []  # not acked ahead of 10
    assert order.settle(0, [10]) == [(10, 1), (9, 1)]


class _Acks:
    """The worker's MQTT client, as far as acknowledging goes: records every ack it sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []

    def ack_many(self, mids: list[int]) -> int:
        self.sent.extend((mid, 1) for mid in mids)
        return 0

    def ack(self, mid: int, qos: int) -> int:
        self.sent.append((mid, qos))
        return 0


def test_the_emergency_is_stored_first_but_acknowledged_in_arrival_order(
    sessions: sessionmaker[Session],
) -> None:
    routine = [new_device_id() for _ in range(300)]
    sos = new_device_id()
    batch = [
        Received(parse_message(events_topic(d), heartbeat(d, 1)), mid=i, qos=2 if i == 7 else 1)
        for i, d in enumerate(routine, start=1)
    ]
    call = Received(parse_message(events_topic(sos), emergency(sos, 1)), mid=301, qos=1)
    alerts = _ArrivesMidBatch(call)
    acks = _Acks()
    stored_when_alerted: list[int] = []

    def on_alert(change: AlertChange) -> None:  # runs after the emergency's commit
        stored_when_alerted.append(_count(sessions)[0])
        acked_when_alerted.append(len(acks.sent))

    acked_when_alerted: list[int] = []
    worker = IngestWorker(
        CloudSettings(),
        sessions,
        alerts=alerts,
        on_alert=on_alert,
        clock=lambda: NOW,
        urgent_lane=False,  # the one-thread path (SQLite's); the lane: test_urgent_lane.py
    )
    worker._client = acks  # type: ignore[assignment]
    for r in [*batch, call]:  # as paho queued them: the routine ones, then the call
        worker._ack_order.received(r.generation, r.mid, r.qos)
    alerts.worker = worker
    worker._process(batch)
    # One step of routine rows was stored (and acked), then the emergency jumped the rest ...
    assert stored_when_alerted == [ROUTINE_CHUNK + 1]
    assert acked_when_alerted == [ROUTINE_CHUNK]
    # ... but its ack waited for the routine messages received before it.
    assert acks.sent == [(r.mid, r.qos) for r in [*batch, call]]  # each once, in arrival order
    assert worker._ack_order.waiting() == 0
    assert _count(sessions) == (301, 300)
