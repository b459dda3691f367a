"""The stored report's arithmetic (pure) and its bounds."""

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest import ingest_message
from cloud.ingest.stored import StoredPublisher, advance
from protocol import EventType, ProtocolError, encode, events_topic, make_envelope
from protocol.delivery import SEQS_DROPPED_CODE, StoredReport, decode_stored, encode_stored
from protocol.events import DeviceFaultPayload, HeartbeatPayload
from protocol.topics import stored_topic
from tests.cloud.helpers import NOW, new_device_id


def test_a_contiguous_run_raises_the_watermark() -> None:
    p = advance(7, 0, [1, 2, 3, 4])
    assert p.base == 4
    assert p.report == StoredReport(epoch=7, stored_up_to=4)


def test_holes_above_the_watermark_are_reported_missing() -> None:
    p = advance(7, 2, [3, 6, 7, 10])
    assert p.base == 3
    assert p.report.stored_up_to == 10
    assert p.report.missing == ((4, 5), (8, 9))
    assert [s for s in range(1, 12) if p.report.covers(s)] == [1, 2, 3, 6, 7, 10]


def test_seqs_the_robot_declared_dropped_do_not_hold_the_watermark() -> None:
    p = advance(7, 0, [1, 2, 5, 6], dropped=[(3, 4)])
    assert p.base == 6
    assert p.report.missing == ()


def test_a_report_stops_short_rather_than_list_too_many_holes() -> None:
    seqs = list(range(2, 200, 2))  # a hole before every stored seq
    p = advance(1, 0, seqs, max_ranges=3)
    assert len(p.report.missing) == 3
    assert p.report.stored_up_to == 6
    assert len(encode_stored(advance(1, 0, seqs).report)) < 1024


def test_reports_round_trip_and_bad_ones_are_refused() -> None:
    report = StoredReport(epoch=2**62, stored_up_to=9, missing=((2, 3),))
    assert decode_stored(encode_stored(report)) == report
    for bad in (b"[]", b"{", b'{"v":1,"epoch":1,"stored_up_to":2,"missing":[[3,4]]}', b"x" * 5000):
        with pytest.raises(ProtocolError):
            decode_stored(bad)


def _store(sessions: sessionmaker[Session], device: str, epoch: int, seqs: list[int]) -> None:
    with sessions() as s, s.begin():
        for seq in seqs:
            payload = HeartbeatPayload(uptime_s=seq, agent_version="t", outbox_pending=0)
            env = make_envelope(
                device, seq, payload, event_type=EventType.HEARTBEAT, ts=NOW, epoch=epoch
            )
            ingest_message(s, events_topic(device), encode(env), NOW)


def _declare_dropped(sessions: sessionmaker[Session], device: str, epoch: int, seq: int) -> None:
    fault = DeviceFaultPayload(component="outbox", code=SEQS_DROPPED_CODE, detail="4")
    env = make_envelope(device, seq, fault, event_type=EventType.DEVICE_FAULT, ts=NOW, epoch=epoch)
    with sessions() as s, s.begin():
        ingest_message(s, events_topic(device), encode(env), NOW)


def test_reports_from_the_store_skip_declared_drops_and_list_real_holes(
    sessions: sessionmaker[Session],
) -> None:
    device = new_device_id()
    _store(sessions, device, 5, [1, 2, 3, 5, 6, 8, 9, 10])
    _declare_dropped(sessions, device, 5, 11)  # the robot pruned #4; #7 is really missing
    _store(sessions, device, 6, [1, 2])  # another epoch of the same robot
    published: list[tuple[str, bytes]] = []
    publisher = StoredPublisher(sessions, lambda t, p: published.append((t, p)), window=2)
    publisher.flush([(device, 5), (device, 6)])
    reports = [decode_stored(p) for _, p in published]
    assert {t for t, _ in published} == {stored_topic(device)}
    assert reports[0] == StoredReport(epoch=5, stored_up_to=11, missing=((7, 7),))
    assert reports[1] == StoredReport(epoch=6, stored_up_to=2)
    _store(sessions, device, 5, [7])  # re-sent: the watermark moves from its cached base
    publisher.flush([(device, 5)])
    assert decode_stored(published[-1][1]) == StoredReport(epoch=5, stored_up_to=11)


def test_many_devices_in_one_statement_give_the_reports_of_one_by_one(
    sessions: sessionmaker[Session],
) -> None:
    whole, holed, empty_above = new_device_id(), new_device_id(), new_device_id()
    _store(sessions, whole, 0, [1, 2, 3])
    _store(sessions, holed, 0, [1, 2, 4])
    _store(sessions, empty_above, 0, [1])
    keys = [(whole, 0), (holed, 0), (empty_above, 0), (new_device_id(), 0)]
    published: list[tuple[str, bytes]] = []
    publisher = StoredPublisher(sessions, lambda t, p: published.append((t, p)))
    publisher.flush(keys)
    one_by_one = StoredPublisher(sessions, lambda t, p: None)
    with sessions() as s:
        expected = [one_by_one.report(s, *key).report for key in keys]
        quick = StoredPublisher(sessions, lambda t, p: None).contiguous(s, keys)
    assert [decode_stored(p) for _, p in published] == expected
    dialect = sessions.kw["bind"].dialect.name
    # PostgreSQL answers every key without a hole at once; the hole goes one by one.
    assert set(quick) == (set() if dialect == "sqlite" else set(keys) - {(holed, 0)})
    _store(sessions, whole, 0, [4, 5])  # warm: counted above the cached watermark
    _store(sessions, holed, 0, [3])
    publisher.flush(keys[:2])
    assert [decode_stored(p) for _, p in published[-2:]] == [
        StoredReport(epoch=0, stored_up_to=5),
        StoredReport(epoch=0, stored_up_to=4),
    ]
