"""Bulk import of assessments from CSV: real visit dates, totals with reasons, all or nothing."""

from datetime import timedelta
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.research.bulk_import import (
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    ImportRefused,
    import_assessments_csv,
)
from cloud.research.dataset import assessments_long
from cloud.research.export import build_export, write_export
from cloud.store.models import Assessment, AssessmentSource
from tests.cloud.research.conftest import STUDY, T0, StudyWorld

NOW = T0 + timedelta(days=70)
HEADER = "participant,instrument,visit_date,time_point,item_1,item_2,item_3,total,total_reason\n"


def _import(sessions: sessionmaker[Session], text: str | bytes) -> list[int]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with sessions() as s, s.begin():
        return import_assessments_csv(s, STUDY, data, now=NOW).assessment_ids


def _stored(sessions: sessionmaker[Session]) -> list[Assessment]:
    with sessions() as s:
        return list(s.scalars(select(Assessment).order_by(Assessment.id)))


def _refused(sessions: sessionmaker[Session], text: str | bytes) -> ImportRefused:
    with pytest.raises(ImportRefused) as e:
        _import(sessions, text)
    assert _stored(sessions) == []  # nothing half-imported
    return e.value


def test_rows_are_stored_with_their_visit_dates_and_time_points(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    a, b = study.enrol(arm="control"), study.enrol()
    text = HEADER + (
        f"{a},ucla3,2026-03-02,,1,1,1,,\n"
        f"{a},ucla3,2026-04-03,,2,2,2,,\n"  # day 32: inside week4's window (28 ± 7)
        f"{b},ucla3,2026-03-03,baseline,3,3,3,,\n"
        f"{b},ucla3,2026-05-04,week8,,,,5,paper form; items not transcribed\n"
    )
    ids = _import(sessions, text)
    assert len(ids) == 4
    rows = _stored(sessions)
    assert [(r.time_point, r.score, r.source) for r in rows] == [
        ("baseline", 3.0, AssessmentSource.IMPORT),
        ("week4", 6.0, AssessmentSource.IMPORT),
        ("baseline", 9.0, AssessmentSource.IMPORT),
        ("week8", 5.0, AssessmentSource.IMPORT),
    ]
    total_only = rows[3]
    assert total_only.answers == []
    assert total_only.complete is False
    assert total_only.flags == ["total_only: paper form; items not transcribed"]
    with sessions() as s:
        long = assessments_long(s, STUDY, "ucla3")
    days = {(r.participant, r.time): r.day for r in long.itertuples()}
    # The study day follows from the visit date (Seoul calendar days since enrolment).
    assert days == {(a, "baseline"): 0, (a, "week4"): 32, (b, "baseline"): 1, (b, "week8"): 63}


def test_a_bad_row_refuses_the_whole_file_naming_line_and_column(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    a = study.enrol()
    text = HEADER + f"{a},ucla3,2026-03-02,,1,1,1,,\n{a},ucla3,2026-04-03,,2,9,2,,\n"
    err = _refused(sessions, text)
    assert "line 3" in str(err)
    assert "ucla3 item 2: answer 9 is not one of 1, 2, 3" in str(err)
    assert "3행" in str(err)
    assert "nothing imported" in str(err)
    assert "저장된 것 없음" in str(err)


@pytest.mark.parametrize(
    ("row", "column", "english"),
    [
        ("{a},ucla3,2026-13-02,,1,1,1,,", "visit_date", "valid date"),
        ("{a},ucla3,2026-02-27,,1,1,1,,", "visit_date", "before the enrolment date"),
        ("{a},ucla3,2026-06-01,,1,1,1,,", "visit_date", "in the future"),
        ("{a},ucla3,2026-03-20,,1,1,1,,", "visit_date", "fill in time_point"),
        ("{a},ucla3,2026-03-02,week9,1,1,1,,", "time_point", "not a time point of ucla3"),
        ("{a},ucla3,2026-03-02,,1,x,1,,", "item_2", "not a whole number"),
        ("{a},ucla3,2026-03-02,,1,1,1,4,", "total", "does not match the items' score (3)"),
        ("{a},ucla3,2026-03-02,,,,,4,", "total_reason", "needs a reason"),
        ("{a},ucla3,2026-03-02,,,,,10,lost items", "total", "outside 3-9"),
        ("{a},ucla3,2026-03-02,,,,,,", "total", "no item answers and no total"),
        ("{a},phq9,2026-03-02,,,,,4,lost items", "total", "item 9 is a safety check"),
        ("P-ZZZZZZ,ucla3,2026-03-02,,1,1,1,,", "participant", "no such participant"),
        ("{a},bdi,2026-03-02,,1,1,1,,", "instrument", "Input should be"),
        ("{a},ucla3,2026-03-02,,1,1,1,,,", None, "10 cells; the header has 9"),
    ],
)
def test_each_kind_of_bad_value_names_its_column(
    study: StudyWorld, sessions: sessionmaker[Session], row: str, column: str | None, english: str
) -> None:
    a = study.enrol()
    err = _refused(sessions, HEADER + row.format(a=a) + "\n")
    (problem,) = err.errors
    assert problem.line == 2
    assert problem.column == column
    assert english in problem.message
    assert " / " in problem.message  # Korean / English


def test_duplicated_rows_and_already_stored_visits_are_refused(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    a = study.enrol()
    row = f"{a},ucla3,2026-03-02,,1,1,1,,\n"
    err = _refused(sessions, HEADER + row + row)
    assert [(e.line, e.column) for e in err.errors] == [(3, "visit_date")]
    assert "repeats line 2" in err.errors[0].message
    same_time_point = f"{a},ucla3,2026-03-31,week4,1,1,1,,\n{a},ucla3,2026-04-01,week4,2,2,2,,\n"
    err = _refused(sessions, HEADER + same_time_point)
    assert [(e.line, e.column) for e in err.errors] == [(3, "time_point")]
    _import(sessions, HEADER + row)
    with pytest.raises(ImportRefused) as e:  # the same file again: not counted twice
        _import(sessions, HEADER + row)
    assert "already stored for that date" in str(e.value)
    with pytest.raises(ImportRefused) as e:  # another baseline on another date
        _import(sessions, HEADER + f"{a},ucla3,2026-03-03,baseline,2,2,2,,\n")
    assert "a baseline is already stored" in str(e.value)
    assert len(_stored(sessions)) == 1


def test_the_file_is_refused_when_too_large_not_utf8_or_malformed(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    a = study.enrol()
    err = _refused(sessions, b"x" * (MAX_BYTES + 1))
    assert "too large" in str(err)
    err = _refused(sessions, (HEADER + f"{a},ucla3,2026-03-02,,1,1,1,2,메모\n").encode("cp949"))
    assert "not UTF-8 text (CP949/EUC-KR?)" in str(err)
    assert "CSV UTF-8" in str(err)
    err = _refused(sessions, b"")
    assert "the file is empty" in str(err)
    err = _refused(sessions, "participant,instrument,when\n")
    assert {(e.column, e.message.split(" / ")[1]) for e in err.errors} >= {
        ("visit_date", "required column missing")
    }
    assert "when" in {e.column for e in err.errors}
    err = _refused(sessions, HEADER)
    assert "no data rows" in str(err)
    err = _refused(sessions, HEADER + f'{a},ucla3,"2026-03-02,,1,1,1,,\n')
    assert "malformed CSV" in str(err) or "cells" in str(err)
    too_many = HEADER + "".join(f"{a},ucla3,2026-03-02,,1,1,1,,\n" for _ in range(MAX_ROWS + 1))
    err = _refused(sessions, too_many)
    assert f"too many rows (at most {MAX_ROWS})" in str(err)


def test_a_utf8_bom_and_korean_reasons_are_fine(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    a = study.enrol()
    text = HEADER + f"{a},ucla3,2026-03-02,,,,,4,종이 설문지: 문항 기록 없음\n"
    _import(sessions, "\ufeff" + text)
    assert _stored(sessions)[0].flags == ["total_only: 종이 설문지: 문항 기록 없음"]


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "@SUM(1)"])
def test_cells_a_spreadsheet_would_run_are_refused_and_never_exported(
    study: StudyWorld, sessions: sessionmaker[Session], tmp_path: Path, value: str
) -> None:
    a = study.enrol()
    quoted = '"' + value.replace('"', '""') + '"'
    err = _refused(sessions, HEADER + f"{a},ucla3,2026-03-02,,,,,4,{quoted}\n")
    assert [(e.line, e.column) for e in err.errors] == [(2, "total_reason")]
    assert "formula" in err.errors[0].message
    err = _refused(sessions, HEADER + f"{a},ucla3,2026-03-02,{quoted},1,1,1,,\n")
    assert err.errors[0].column == "time_point"
    # A valid import exported as CSV has no cell a spreadsheet would evaluate.
    codes = [a] + [study.enrol() for _ in range(5)]
    _import(sessions, HEADER + "".join(f"{c},ucla3,2026-03-02,,,,,4,paper form\n" for c in codes))
    with sessions() as s:
        bundle = build_export(s, STUDY, NOW)
    out = write_export(bundle, tmp_path / "export")
    for csv_file in out.glob("*.csv"):
        frame = pd.read_csv(csv_file, dtype=str, keep_default_na=False)
        for column in frame.columns:
            texts = frame[column].tolist()
            assert not any(t.startswith(("=", "+", "@")) for t in texts), (csv_file, column)


def test_errors_are_listed_up_to_a_limit_with_a_count(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    a = study.enrol()
    bad = "".join(f"{a},ucla3,2026-03-0{d},,1,1,7,,\n" for d in range(2, 10))
    bad += "".join(f"{a},ucla3,2026-03-{d},,1,1,7,,\n" for d in range(10, 30))
    err = _refused(sessions, HEADER + bad)
    assert len(err.errors) == 20
    assert "and 8 more" in str(err)


def test_the_column_list_is_documented() -> None:
    doc = Path(__file__).parents[3] / "docs" / "research.md"
    text = doc.read_text("utf-8")
    for column in ("participant", "instrument", "visit_date", "time_point", "total_reason"):
        assert f"`{column}`" in text
    assert "item_15" in COLUMNS
