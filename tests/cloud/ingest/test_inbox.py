"""The ingest inbox: bounded, and critical messages overtake what is queued."""

from datetime import timedelta

from cloud.ingest import Inbox, Received, parse_message
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import InactivityPayload
from tests.cloud.helpers import NOW, emergency, heartbeat, new_device_id


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
