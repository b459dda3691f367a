"""Reconnect backoff: bounded, growing, jittered over the whole window, capped; no sleeping."""

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.link.backoff import delay_window, next_delay


class FixedRandom:
    """An rng that always returns the same draw."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


LOWEST, HIGHEST = FixedRandom(0.0), FixedRandom(1.0 - 1e-12)


def test_first_attempt_waits_between_min_and_twice_min() -> None:
    assert next_delay(0, 0.5, 30.0, LOWEST) == 0.5
    assert next_delay(0, 0.5, 30.0, HIGHEST) == pytest.approx(1.0)


@pytest.mark.parametrize("attempt", range(200))
def test_delay_is_never_below_min_nor_above_max(attempt: int) -> None:
    for draw in (0.0, 0.25, 0.5, 0.75, 1.0 - 1e-12):
        delay = next_delay(attempt, 0.5, 30.0, FixedRandom(draw))
        assert 0.5 <= delay <= 30.0


def test_window_doubles_until_the_cap() -> None:
    highs = [delay_window(a, 0.5, 30.0)[1] for a in range(12)]
    assert highs[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert all(h == 30.0 for h in highs[5:])
    assert all(b >= a for a, b in itertools.pairwise(highs))


def test_jitter_spreads_over_the_whole_window() -> None:
    rng = random.Random(7)
    delays = [next_delay(8, 0.5, 30.0, rng) for _ in range(2000)]
    assert min(delays) < 0.5 + 0.05 * 29.5
    assert max(delays) > 30.0 - 0.05 * 29.5
    assert len(set(delays)) > 1900


def test_huge_attempt_numbers_stay_capped() -> None:
    assert next_delay(10**6, 0.5, 30.0, HIGHEST) == pytest.approx(30.0)


def test_min_equal_max_is_a_fixed_delay() -> None:
    assert next_delay(5, 2.0, 2.0, HIGHEST) == 2.0


@pytest.mark.parametrize(
    ("attempt", "min_s", "max_s"), [(-1, 0.5, 30.0), (0, 0.0, 30.0), (0, 5.0, 1.0)]
)
def test_invalid_arguments_are_refused(attempt: int, min_s: float, max_s: float) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        next_delay(attempt, min_s, max_s, LOWEST)


@given(
    attempt=st.integers(min_value=0, max_value=5000),
    min_s=st.floats(min_value=0.001, max_value=100.0),
    span=st.floats(min_value=0.0, max_value=1000.0),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_delay_always_within_its_window(
    attempt: int, min_s: float, span: float, draw: float
) -> None:
    max_s = min_s + span
    low, high = delay_window(attempt, min_s, max_s)
    delay = next_delay(attempt, min_s, max_s, FixedRandom(draw))
    assert low == min_s
    assert min_s <= high <= max_s
    assert low <= delay <= high
