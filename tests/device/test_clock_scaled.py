"""The simulation clock: scaled, continuous across speed changes, able to hold still."""

from datetime import UTC, datetime, timedelta

import pytest

from device.clock import ScaledClock


class FakeReal:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_time_runs_speed_times_faster_from_the_start_instant() -> None:
    real = FakeReal()
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clock = ScaledClock(60.0, start=start, real=real)
    real.t += 2.0
    assert clock.monotonic() == pytest.approx(120.0)
    assert clock.now() == start + timedelta(minutes=2)


def test_a_speed_change_keeps_time_continuous() -> None:
    real = FakeReal()
    clock = ScaledClock(100.0, real=real)
    real.t += 1.0
    clock.set_speed(1.0)
    assert clock.monotonic() == pytest.approx(100.0)
    real.t += 1.0
    assert clock.monotonic() == pytest.approx(101.0)
    assert clock.real_seconds_until(111.0) == pytest.approx(10.0)


def test_speed_zero_holds_the_clock_still() -> None:
    real = FakeReal()
    clock = ScaledClock(10.0, real=real)
    clock.set_speed(0.0)
    real.t += 50.0
    assert clock.monotonic() == 0.0
    assert clock.real_seconds_until(1.0) == float("inf")
    assert clock.real_seconds_until(0.0) == 0.0


def test_a_negative_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0.0)
    with pytest.raises(ValueError, match="negative"):
        ScaledClock(1.0).set_speed(-1.0)


def test_a_gate_holds_time_still_until_it_moves_on() -> None:
    real = FakeReal()
    clock = ScaledClock(10.0, real=real)
    barrier = [5.0]
    clock.set_gate(lambda: barrier[0])
    real.t += 2.0  # 20 s would have passed; the gate allows 5
    assert clock.monotonic() == 5.0
    assert clock.held_real_s() == 0.0  # held from this reading on
    real.t += 3.0
    assert clock.monotonic() == 5.0
    assert clock.held_real_s() == pytest.approx(3.0)
    barrier[0] = 100.0  # the code under test caught up: time continues from 5, no jump
    real.t += 1.0
    assert clock.monotonic() == pytest.approx(15.0)
    assert clock.held_real_s() == 0.0


def test_a_gate_never_sends_time_back_and_can_be_removed() -> None:
    real = FakeReal()
    clock = ScaledClock(10.0, real=real)
    real.t += 1.0
    assert clock.monotonic() == pytest.approx(10.0)
    clock.set_gate(lambda: 4.0)  # behind the clock already
    real.t += 1.0
    assert clock.monotonic() == pytest.approx(10.0)
    clock.set_gate(None)
    real.t += 1.0
    assert clock.monotonic() == pytest.approx(20.0)
