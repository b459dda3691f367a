"""Instrument scoring against hand-computed examples of the published keys."""

import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.errors import ConflictError, InvalidInputError
from cloud.research.instruments import record_assessment, score_answers
from cloud.research.studies import get_participant
from cloud.store.models import Assessment, AssessmentSource
from protocol import ProtocolError
from protocol.instruments import INSTRUMENTS, InstrumentId, get_instrument, score
from tests.cloud.research.conftest import STUDY, T0, StudyWorld

HANGUL = re.compile(r"[가-힣]")
REVERSE = {1, 5, 7, 11, 13}


def _gds(yes_items: set[int]) -> list[int | None]:
    return [1 if i in yes_items else 0 for i in range(1, 16)]


def test_gds15_reverse_items_are_the_published_ones() -> None:
    assert {i.number for i in get_instrument("gds15").items if i.reverse} == REVERSE
    assert {i.number for i in get_instrument("sgds_k").items if i.reverse} == REVERSE


def test_gds15_not_depressed_answers_score_zero() -> None:
    # "yes" to satisfied, good spirits, happy, wonderful to be alive, full of energy; "no" else.
    result = score("gds15", _gds(REVERSE))
    assert (result.total, result.band, result.positive) == (0, "normal", False)


def test_gds15_every_answer_yes_scores_the_ten_forward_items() -> None:
    result = score("gds15", _gds(set(range(1, 16))))
    assert (result.total, result.band, result.positive) == (10, "moderate", True)


def test_gds15_every_answer_no_scores_the_five_reverse_items() -> None:
    result = score("gds15", _gds(set()))
    assert (result.total, result.band, result.positive) == (5, "mild", True)


def test_gds15_worst_answers_score_fifteen() -> None:
    result = score("gds15", _gds(set(range(1, 16)) - REVERSE))
    assert (result.total, result.band) == (15, "severe")


@pytest.mark.parametrize(
    ("total", "band"),
    [(4, "normal"), (5, "mild"), (8, "mild"), (9, "moderate"), (11, "moderate"), (12, "severe")],
)
def test_gds15_band_boundaries(total: int, band: str) -> None:
    forward = [i for i in range(1, 16) if i not in REVERSE]
    yes = (
        set(forward[:total]) | REVERSE
        if total <= 10
        else set(forward) | set(sorted(REVERSE)[: 15 - total])
    )
    result = score("gds15", _gds(yes))
    assert (result.total, result.band) == (total, band)


def test_sgds_k_uses_its_korean_cut_off_of_eight() -> None:
    forward = [i for i in range(1, 16) if i not in REVERSE]
    seven = score("sgds_k", _gds(set(forward[:7]) | REVERSE))
    eight = score("sgds_k", _gds(set(forward[:8]) | REVERSE))
    assert (seven.total, seven.positive, seven.band) == (7, False, "below_cutoff")
    assert (eight.total, eight.positive, eight.band) == (8, True, "depression_likely")
    assert score("gds15", _gds(set(forward[:7]) | REVERSE)).positive  # GDS-15 cut-off is 5


def test_gds_with_a_missing_item_is_not_scored() -> None:
    answers = _gds(REVERSE)
    answers[3] = None
    result = score("sgds_k", answers)
    assert (result.total, result.complete, result.answered) == (None, False, 14)


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([1, 1, 1], 3, "not_lonely"),
        ([2, 2, 1], 5, "not_lonely"),
        ([2, 2, 2], 6, "lonely"),
        ([3, 3, 3], 9, "lonely"),
    ],
)
def test_ucla3_sums_one_to_three_per_item(answers: list[int | None], total: int, band: str) -> None:
    result = score("ucla3", answers)
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_severity_bands(total: int, band: str) -> None:
    answers: list[int | None] = [min(3, max(0, total - 3 * i)) for i in range(9)]
    assert sum(a or 0 for a in answers) == total
    result = score("phq9", answers)
    assert (result.total, result.band, result.positive) == (total, band, total >= 10)


def test_phq9_prorates_up_to_two_missing_items() -> None:
    one = score("phq9", [3, 3, 3, 3, 3, 3, 3, 3, None])  # 24 / 8 * 9 = 27
    two = score("phq9", [1, 1, 1, 1, 1, 1, 1, None, None])  # 7 / 7 * 9 = 9
    half = score("phq9", [1, 1, 1, 1, 0, 0, 0, 0, None])  # 4 / 8 * 9 = 4.5 -> 5 (half up)
    three = score("phq9", [1, 1, 1, 1, 1, 1, None, None, None])
    assert (one.total, one.prorated, one.complete) == (27, True, False)
    assert two.total == 9
    assert (half.total, half.band) == (5, "mild")
    assert (three.total, three.band, three.positive) == (None, None, None)


def test_phq9_item_nine_is_flagged_whatever_the_total() -> None:
    assert score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1]).flags == ("self_harm_thoughts",)
    assert score("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0]).flags == ()


@pytest.mark.parametrize(
    ("instrument", "answers", "message"),
    [
        ("ucla3", [1, 2], "ucla3 has 3 items; got 2 answers"),
        ("ucla3", [0, 1, 1], "ucla3 item 1: answer 0 is not one of 1, 2, 3"),
        ("gds15", [2] + [0] * 14, "gds15 item 1: answer 2 is not one of 0, 1"),
        ("phq9", [True] + [0] * 8, "phq9 item 1: answer True is not one of 0, 1, 2, 3"),
        ("moca", [1], "unknown instrument 'moca'"),
    ],
)
def test_bad_answers_are_refused_naming_the_item(
    instrument: str, answers: list[int | None], message: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        score(instrument, answers)
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        score_answers(instrument, answers)


@pytest.mark.parametrize("instrument", list(InstrumentId))
def test_every_item_and_option_is_in_korean_and_english(instrument: InstrumentId) -> None:
    inst = INSTRUMENTS[instrument]
    assert [i.number for i in inst.items] == list(range(1, len(inst.items) + 1))
    for text in [inst.preamble_ko, *(i.ko for i in inst.items), *(o.ko for o in inst.options)]:
        assert HANGUL.search(text), text
    for text in [inst.preamble_en, *(i.en for i in inst.items), *(o.en for o in inst.options)]:
        assert text, inst.id
        assert not HANGUL.search(text), text
    covered = sorted(x for b in inst.bands for x in range(b.low, b.high + 1))
    assert covered == list(range(inst.min_score, inst.max_score + 1))


def _staff_score(
    sessions: sessionmaker[Session], code: str, answers: list[int], time_point: str | None, day: int
) -> None:
    with sessions() as s, s.begin():
        record_assessment(
            s,
            get_participant(s, STUDY, code),
            instrument="ucla3",
            answers=answers,
            time_point=time_point,
            administered_at=T0 + timedelta(days=day),
            now=T0 + timedelta(days=day),
            source=AssessmentSource.API,
        )


def test_a_second_baseline_entered_by_staff_is_refused_and_nothing_is_stored(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol()
    _staff_score(sessions, code, [1, 1, 1], "baseline", 0)
    _staff_score(sessions, code, [2, 2, 2], "week4", 28)  # a later time point is fine
    for time_point in ("baseline", None):  # named, or placed on the schedule by its date
        with pytest.raises(ConflictError) as e:
            _staff_score(sessions, code, [3, 3, 3], time_point, 1)
        assert f"participant {code} already has a ucla3 baseline" in str(e.value)
        assert "기준선" in str(e.value)
    with sessions() as s:
        scores = sorted(
            (a.time_point, a.score) for a in s.query(Assessment).filter_by(instrument="ucla3")
        )
    assert scores == [("baseline", 3.0), ("week4", 6.0)]
