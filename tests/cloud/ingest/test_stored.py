"""The stored report's arithmetic (pure) and its bounds."""

import pytest

from cloud.ingest.stored import advance
from protocol import ProtocolError
from protocol.delivery import StoredReport, decode_stored, encode_stored


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
