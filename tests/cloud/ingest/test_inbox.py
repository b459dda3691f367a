"""The ingest inbox: bounded, and critical messages overtake what is queued."""

import threading
from datetime import timedelta

from cloud.ingest import Inbox, Received, parse_message
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import InactivityPayload
from tests.cloud.helpers import NOW, emergency, heartbeat, new_device_id, wait_until


def _received(raw: bytes, device_id: str, mid: int) -> Received:
    return Received(parse_message(events_topic(device_id), raw), mid=mid, qos=1, received_s=mid)


def test_a_critical_message_overtakes_the_queued_ones() -> None:
    dev, sos = new_device_id(), new_device_id()
    inbox = Inbox(capacity=10)
    for seq in (1, 2, 3):
        assert inbox.put(_received(heartbeat(dev, seq), dev, seq), timeout_s=0)
    assert inbox.put(_received(emergency(sos, 1), sos, 4), timeout_s=0)
    assert inbox.urgent_waiting()
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [4]
    assert not inbox.urgent_waiting()
    assert [r.mid for r in inbox.take(2, wait_s=0, fill_s=0)] == [1, 2]
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [3]
    assert inbox.take(10, wait_s=0, fill_s=0) == []


def test_a_full_inbox_refuses_more() -> None:
    dev = new_device_id()
    inbox = Inbox(capacity=2)
    assert inbox.put(_received(heartbeat(dev, 1), dev, 1), timeout_s=0)
    assert inbox.put(_received(emergency(dev, 2), dev, 2), timeout_s=0)
    assert not inbox.put(_received(heartbeat(dev, 3), dev, 3), timeout_s=0)
    assert len(inbox) == 2


def test_a_critical_message_brings_its_devices_earlier_messages_along() -> None:
    dev, sos = new_device_id(), new_device_id()
    inbox = Inbox(capacity=10)
    inbox.put(_received(heartbeat(dev, 1), dev, 1), timeout_s=0)
    inbox.put(_received(b"not json", sos, 2), timeout_s=0)  # sent before its emergency
    inbox.put(_received(heartbeat(dev, 2), dev, 3), timeout_s=0)
    inbox.put(_received(emergency(sos, 1), sos, 4), timeout_s=0)
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [2, 4]
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [1, 3]


def test_messages_of_an_older_connection_are_dropped_on_reconnect() -> None:
    dev = new_device_id()
    inbox = Inbox(capacity=10)
    for mid, generation in ((1, 1), (2, 1), (3, 2)):
        item = Received(
            parse_message(events_topic(dev), heartbeat(dev, mid)), mid, 1, generation, mid
        )
        assert inbox.put(item, timeout_s=0)
    sos = Received(parse_message(events_topic(dev), emergency(dev, 9)), 9, 1, 1, 9)
    assert inbox.put(sos, timeout_s=0)
    assert inbox.drop_before(2) == 3
    assert not inbox.urgent_waiting()
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [3]


def test_a_redelivery_is_queued_even_when_the_inbox_is_full() -> None:
    dev = new_device_id()
    inbox = Inbox(capacity=1)
    assert inbox.put(_received(heartbeat(dev, 1), dev, 1), timeout_s=0)
    assert not inbox.put(_received(heartbeat(dev, 2), dev, 2), timeout_s=0)
    assert inbox.put(_received(heartbeat(dev, 2), dev, 2), timeout_s=0, force=True)
    assert len(inbox) == 2


def test_a_safety_event_overtakes_the_queue_whatever_its_priority() -> None:
    dev, quiet = new_device_id(), new_device_id()
    inbox = Inbox(capacity=10)
    assert inbox.put(_received(heartbeat(dev, 1), dev, 1), timeout_s=0)
    inactivity = encode(
        make_envelope(
            quiet,
            1,
            InactivityPayload(last_activity=NOW - timedelta(hours=8), hours=8.0),
            event_type=EventType.INACTIVITY,
            ts=NOW,
        )
    )
    assert inbox.put(_received(inactivity, quiet, 2), timeout_s=0)
    assert inbox.urgent_waiting()
    assert [r.mid for r in inbox.take(10, wait_s=0, fill_s=0)] == [2]


class _CountingCondition(threading.Condition):
    """A condition that counts its notifications (the wake-ups of the ingest thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.notified = 0

    def notify_all(self) -> None:
        self.notified += 1
        super().notify_all()


def _filling_take(inbox: Inbox, max_items: int) -> tuple[threading.Thread, list[list[int]]]:
    got: list[list[int]] = []
    taker = threading.Thread(
        target=lambda: got.append([r.mid for r in inbox.take(max_items, 30.0, 30.0)])
    )
    taker.start()
    return taker, got


def test_a_filling_take_is_woken_by_a_full_batch_or_an_urgent_message_not_by_each_put() -> None:
    dev, sos = new_device_id(), new_device_id()
    inbox = Inbox(capacity=100)
    counting = _CountingCondition()
    inbox._changed = counting
    inbox.put(_received(heartbeat(dev, 1), dev, 1), timeout_s=0)  # the first: wakes a waiter
    taker, got = _filling_take(inbox, 10)
    wait_until(lambda: inbox._want == 10, what="the take filling")
    before = counting.notified
    for seq in range(2, 10):  # 9 queued: the batch of 10 is not full, nobody is woken
        inbox.put(_received(heartbeat(dev, seq), dev, seq), timeout_s=0)
    assert counting.notified == before
    inbox.put(_received(heartbeat(dev, 10), dev, 10), timeout_s=0)  # full: the take returns
    taker.join(20)
    assert got == [list(range(1, 11))]
    assert counting.notified == before + 2  # the tenth put, and the take leaving room
    inbox.put(_received(heartbeat(dev, 11), dev, 11), timeout_s=0)
    taker, got = _filling_take(inbox, 10)
    wait_until(lambda: inbox._want == 10, what="the take filling")
    inbox.put(_received(emergency(sos, 1), sos, 12), timeout_s=0)  # urgent: at once
    taker.join(20)
    assert got == [[12]]
    assert inbox._want == 1
