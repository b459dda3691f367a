"""De-identification: keyed date shifts, generalisation, k-anonymity, small cells, whitelists."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.research import deid as D

SECRET = b"0123456789abcdef-test-secret"
HIERARCHIES = {
    "age": D.age_hierarchy(),
    "region": D.region_hierarchy(),
    "sex": D.suppression_hierarchy("sex"),
}
QIS = ("age", "region", "sex")
REGION_CHOICES = [*D.KOREAN_REGIONS, "서울", "Busan", "atlantis", None]


def classes(records: list[dict[str, object]], qis: tuple[str, ...], subject: str) -> Any:
    """QI combination -> set of subjects in it."""
    out: dict[tuple[object, ...], set[object]] = defaultdict(set)
    for r in records:
        out[tuple(r[q] for q in qis)].add(r[subject])
    return out


# --------------------------------------------------------------------------- date shifting


def test_date_shift_is_stable_keyed_and_never_zero() -> None:
    shifts = [D.date_shift_days(f"P{i:04d}", SECRET) for i in range(500)]
    assert shifts == [D.date_shift_days(f"P{i:04d}", SECRET) for i in range(500)]
    assert all(1 <= abs(s) <= 180 for s in shifts)
    assert min(shifts) < -90
    assert max(shifts) > 90
    other = [D.date_shift_days(f"P{i:04d}", SECRET + b"!") for i in range(500)]
    assert sum(a == b for a, b in zip(shifts, other, strict=True)) < 25


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=30), st.integers(min_value=1, max_value=400))
def test_date_shift_stays_within_its_bound(code: str, max_days: int) -> None:
    shift = D.date_shift_days(code, SECRET, max_days)
    assert 1 <= abs(shift) <= max_days


def test_date_shift_refuses_a_short_secret() -> None:
    with pytest.raises(D.DeidError, match="at least 16 bytes"):
        D.date_shift_days("P1", b"short")


def test_shift_dates_keeps_intervals_and_types() -> None:
    frame = pd.DataFrame(
        {
            "participant": ["A", "A", "B", "B"],
            "day": [date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 1), None],
            "ts": pd.to_datetime(
                ["2026-03-01T10:00Z", "2026-03-02T11:30Z", "2026-03-01T10:00Z", None]
            ),
        }
    )
    out = D.shift_dates(
        frame, participant_column="participant", date_columns=["day", "ts"], secret=SECRET
    )
    a, b = D.date_shift_days("A", SECRET), D.date_shift_days("B", SECRET)
    assert out["day"].tolist()[:3] == [
        date(2026, 3, 1) + timedelta(days=a),
        date(2026, 3, 8) + timedelta(days=a),
        date(2026, 3, 1) + timedelta(days=b),
    ]
    assert out["day"].iloc[3] is None
    assert out["ts"].iloc[1] - out["ts"].iloc[0] == frame["ts"].iloc[1] - frame["ts"].iloc[0]
    assert out["ts"].iloc[0] == frame["ts"].iloc[0] + pd.Timedelta(days=a)
    assert str(out["ts"].dt.tz) == "UTC"
    assert pd.isna(out["ts"].iloc[3])
    assert frame["day"].iloc[0] == date(2026, 3, 1)  # the input is not modified


# --------------------------------------------------------------------------- generalisation


@pytest.mark.parametrize(
    ("age", "width", "band"),
    [
        (65, 5, "65-69"),
        (69, 5, "65-69"),
        (70, 10, "70-79"),
        (89, 5, "85-89"),
        (90, 5, "90+"),
        (104, 10, "90+"),
        (87, 20, "80-89"),
        (7, 1, "7"),
    ],
)
def test_age_band(age: int, width: int, band: str) -> None:
    assert D.age_band(age, width) == band


def test_age_band_refuses_impossible_ages() -> None:
    with pytest.raises(D.DeidError, match="outside"):
        D.age_band(-1)
    with pytest.raises(D.DeidError, match="whole number"):
        D.age_band(True)


@pytest.mark.parametrize(
    ("region", "level", "expected"),
    [
        ("서울", 0, "서울특별시"),
        ("Seoul", 1, "수도권"),
        ("전라북도", 0, "전북특별자치도"),
        ("경상남도", 1, "동남권"),
        ("대구광역시", 1, "대경권"),
        ("세종", 1, "충청권"),
        ("제주도", 2, "대한민국"),
        ("경기도", 3, "*"),
        ("atlantis", 0, "*"),
        (None, 1, "*"),
    ],
)
def test_generalise_region(region: object, level: int, expected: str) -> None:
    assert D.generalise_region(region, level) == expected


def test_every_korean_province_has_a_zone() -> None:
    assert len(D.KOREAN_REGIONS) == 17
    assert set(D.KOREAN_REGIONS.values()) == {
        "수도권",
        "강원권",
        "충청권",
        "호남권",
        "대경권",
        "동남권",
        "제주권",
    }


# --------------------------------------------------------------------------- k-anonymity


def people(n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    regions = list(D.KOREAN_REGIONS)
    return [
        {
            "code": f"P{i:04d}",
            "age": int(rng.integers(62, 99)),
            "region": regions[int(rng.integers(0, len(regions)))],
            "sex": "F" if rng.random() < 0.6 else "M",
            "gds_baseline": int(rng.integers(0, 16)),
        }
        for i in range(n)
    ]


def test_k_anonymise_generalises_until_every_class_has_k() -> None:
    records = people(300, 1)
    res = D.k_anonymise(records, QIS, 5, HIERARCHIES, subject_key="code")
    sizes = [len(s) for s in classes(res.records, QIS, "code").values()]
    assert min(sizes) >= 5
    assert res.k_achieved == min(sizes)
    assert res.n_subjects_suppressed <= math.floor(0.05 * 300)
    assert res.n_subjects_out + res.n_subjects_suppressed == 300
    assert res.level_labels["age"] == HIERARCHIES["age"].levels[res.levels["age"]]
    # Non-QI fields pass through untouched.
    by_code = {r["code"]: r for r in records}
    for r in res.records:
        assert r["gds_baseline"] == by_code[r["code"]]["gds_baseline"]


def test_already_anonymous_data_is_left_at_the_finest_level() -> None:
    records = [
        {"code": f"P{i}", "age": 70 + (i % 2) * 10, "region": "서울", "sex": "F"} for i in range(20)
    ]
    res = D.k_anonymise(records, QIS, 5, HIERARCHIES)
    assert res.levels == {"age": 0, "region": 0, "sex": 0}
    assert res.n_subjects_suppressed == 0
    assert {r["age"] for r in res.records} == {"70-74", "80-84"}
    assert {r["region"] for r in res.records} == {"서울특별시"}


def test_an_outlier_is_suppressed_rather_than_generalising_everyone() -> None:
    records = [{"code": f"P{i}", "age": 72, "region": "부산", "sex": "F"} for i in range(40)]
    records.append({"code": "odd", "age": 101, "region": "제주", "sex": "M"})
    res = D.k_anonymise(records, QIS, 5, HIERARCHIES, max_suppression=0.05)
    assert res.levels == {"age": 0, "region": 0, "sex": 0}
    assert res.n_subjects_suppressed == 1
    assert all(r["code"] != "odd" for r in res.records)


def test_subject_rows_are_counted_once_and_suppressed_together() -> None:
    base = people(60, 2)
    rows = [{**p, "day": d} for p in base for d in range(3)]
    res = D.k_anonymise(rows, QIS, 5, HIERARCHIES, subject_key="code")
    assert res.n_subjects_in == 60
    assert res.n_records_in == 180
    per_subject: dict[object, int] = defaultdict(int)
    for r in res.records:
        per_subject[r["code"]] += 1
    assert set(per_subject.values()) <= {3}
    assert res.n_records_out == 3 * res.n_subjects_out
    assert min(len(s) for s in classes(res.records, QIS, "code").values()) >= 5


def test_varying_quasi_identifiers_within_a_subject_are_refused() -> None:
    rows = [
        {"code": "A", "age": 70, "region": "서울", "sex": "F"},
        {"code": "A", "age": 71, "region": "서울", "sex": "F"},
    ]
    with pytest.raises(D.DeidError, match="vary between rows"):
        D.k_anonymise(rows, QIS, 2, HIERARCHIES, subject_key="code")


def test_refuses_with_a_reason_when_k_cannot_be_met() -> None:
    records = people(40, 3)
    with pytest.raises(D.KAnonymityError) as info:
        D.k_anonymise(records, QIS, 5, HIERARCHIES, max_levels={"age": 0, "region": 0})
    err = info.value
    message = str(err)
    assert "k=5" in message
    assert "age" in message
    assert "region" in message
    assert f"best this data reaches is k={err.k_reached}" in message
    assert err.k_reached < 5
    assert err.n_would_suppress > err.max_suppressed
    assert set(err.blocking_fields) <= set(QIS)
    assert err.blocking_fields


def test_refuses_when_there_are_fewer_participants_than_k() -> None:
    with pytest.raises(D.KAnonymityError, match="only 3 participant"):
        D.k_anonymise(people(3, 4), QIS, 5, HIERARCHIES)


@pytest.mark.parametrize("k", [0, 1, -5])
def test_k_below_two_is_refused(k: int) -> None:
    with pytest.raises(D.DeidError, match="at least 2"):
        D.k_anonymise(people(10, 5), QIS, k, HIERARCHIES)


def test_export_k_can_be_raised_but_not_lowered() -> None:
    assert D.check_export_k(5) == 5
    assert D.check_export_k(11) == 11
    with pytest.raises(D.DeidError, match="only be raised"):
        D.check_export_k(4)


record_strategy = st.fixed_dictionaries(
    {
        "age": st.integers(min_value=60, max_value=105),
        "region": st.sampled_from(REGION_CHOICES),
        "sex": st.sampled_from(["F", "M", "X"]),
        "note": st.text(max_size=5),
    }
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(record_strategy, max_size=80),
    st.integers(min_value=2, max_value=8),
    st.floats(min_value=0.0, max_value=0.3),
    st.fixed_dictionaries(
        {},
        optional={
            "age": st.integers(min_value=0, max_value=3),
            "region": st.integers(min_value=0, max_value=3),
        },
    ),
)
def test_every_export_is_k_anonymous_or_refused(
    raw: list[dict[str, object]], k: int, max_suppression: float, max_levels: dict[str, int]
) -> None:
    records = [{**r, "code": f"S{i}"} for i, r in enumerate(raw)]
    refused: D.KAnonymityError | None = None
    try:
        res = D.k_anonymise(records, QIS, k, HIERARCHIES, max_suppression, max_levels=max_levels)
    except D.KAnonymityError as err:
        refused = err
    if refused is not None:
        assert refused.k_reached < k
        assert refused.n_would_suppress > refused.max_suppressed or len(records) < k
        return
    sizes = [len(s) for s in classes(res.records, QIS, "code").values()]
    assert res.records
    assert min(sizes) >= k
    assert res.k_achieved == min(sizes)
    assert res.n_subjects_suppressed <= math.floor(max_suppression * len(records) + 1e-9)
    assert len(res.records) == len(records) - res.n_subjects_suppressed
    for q, level in res.levels.items():
        assert level <= max_levels.get(q, HIERARCHIES[q].max_level)
    originals = {r["code"]: r for r in records}
    for r in res.records:
        source = originals[r["code"]]
        assert r["note"] == source["note"]
        assert r["age"] == HIERARCHIES["age"].generalise(source["age"], res.levels["age"])


# --------------------------------------------------------------------------- tables and columns


def test_small_cells_are_blanked_with_the_figures_derived_from_them() -> None:
    table = pd.DataFrame(
        {"arm": ["a", "b", "c", "d"], "n": [0, 3, 5, 12], "mean": [math.nan, 2.5, 3.0, 4.0]}
    )
    out, n = D.suppress_small_cells(table, ["n"], 5, dependent_columns={"n": ["mean"]})
    assert n == 1
    assert out["n"].tolist()[0] == 0
    assert pd.isna(out["n"].iloc[1])
    assert pd.isna(out["mean"].iloc[1])
    assert out["n"].tolist()[2:] == [5, 12]
    assert out["mean"].tolist()[2:] == [3.0, 4.0]
    assert table["n"].tolist() == [0, 3, 5, 12]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=30),
    st.integers(min_value=2, max_value=11),
)
def test_no_count_below_the_threshold_survives(counts: list[int], min_cell: int) -> None:
    out, n = D.suppress_small_cells(pd.DataFrame({"n": counts}), ["n"], min_cell)
    kept = out["n"].dropna().tolist()
    assert all(c == 0 or c >= min_cell for c in kept)
    assert n == sum(1 for c in counts if 0 < c < min_cell)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet="abcdefgh_", min_size=1, max_size=6), min_size=1, max_size=10, unique=True
    ),
    st.sets(st.text(alphabet="abcdefgh_", min_size=1, max_size=6), max_size=10),
)
def test_no_undeclared_column_survives(columns: list[str], exportable: set[str]) -> None:
    table = pd.DataFrame({c: [1, 2] for c in columns})
    out, dropped = D.drop_free_text(table, exportable)
    assert set(out.columns) <= exportable
    assert set(out.columns) | set(dropped) == set(columns)
    assert not set(out.columns) & set(dropped)


def test_free_text_columns_are_dropped() -> None:
    table = pd.DataFrame({"code": ["A"], "gds": [4], "note": ["lives with cat, 010-1234"]})
    out, dropped = D.drop_free_text(table, {"code", "gds"})
    assert list(out.columns) == ["code", "gds"]
    assert dropped == ["note"]


# --------------------------------------------------------------------------- documentation


def test_disclosure_report_states_what_was_done() -> None:
    res = D.k_anonymise(people(200, 6), QIS, 5, HIERARCHIES)
    report = D.DisclosureReport.from_result(
        res,
        created_at=datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
        date_shift_max_days=180,
        small_cells_suppressed=3,
        min_cell=5,
        columns_dropped=["note", "address"],
    )
    data = report.to_dict()
    assert data["k_requested"] == 5
    assert data["k_achieved"] == res.k_achieved
    assert data["subjects_suppressed"] == res.n_subjects_suppressed
    assert data["generalised"] == res.level_labels
    assert data["columns_dropped"] == ["address", "note"]
    assert data["date_shift_applied"] is True
    md = report.to_markdown()
    assert f"| k achieved | {res.k_achieved} |" in md
    assert "| small cells suppressed | 3 (counts below 5) |" in md
    assert "±1-180 days" in md
    with pytest.raises(D.DeidError, match="timezone"):
        D.DisclosureReport.from_result(
            res, created_at=datetime(2026, 1, 1), date_shift_max_days=None
        )


def test_data_dictionary_describes_every_column() -> None:
    table = pd.DataFrame(
        {
            "participant": ["S1"],
            "day": [date(2026, 1, 1)],
            "talk_minutes": [12.5],
            "turns": [30],
            "age": ["70-74"],
        }
    )
    specs = {
        "participant": D.ColumnSpec("pseudonymous study code"),
        "day": D.ColumnSpec("day of the metrics, shifted per participant"),
        "talk_minutes": D.ColumnSpec("minutes the senior talked with the robot", "min"),
        "turns": D.ColumnSpec("conversation turns | both sides", "count"),
        "age": D.ColumnSpec("age at enrolment", "years"),
    }
    dd = D.DataDictionary.build(table, specs, {"age": "10-year band"})
    types = {e.column: e.type for e in dd.entries}
    assert types == {
        "participant": "string",
        "day": "date",
        "talk_minutes": "number",
        "turns": "integer",
        "age": "string",
    }
    assert dd.entries[-1].generalisation == "10-year band"
    assert "conversation turns \\| both sides" in dd.to_markdown()
    assert list(dd.to_frame().columns) == [
        "column",
        "type",
        "description",
        "units",
        "generalisation",
    ]
    with pytest.raises(D.DeidError, match="no data-dictionary entry for column"):
        D.DataDictionary.build(table.assign(note="x"), specs)


def test_frame_api_gives_the_same_export_as_the_records_api() -> None:
    base = people(120, 7)
    rows = [{**p, "day": d} for p in base for d in range(4)]
    res = D.k_anonymise(rows, QIS, 6, HIERARCHIES, subject_key="code")
    frame, res_frame = D.k_anonymise_frame(
        pd.DataFrame(rows), QIS, 6, HIERARCHIES, subject_key="code"
    )
    assert res_frame.levels == res.levels
    assert res_frame.n_subjects_suppressed == res.n_subjects_suppressed
    assert res_frame.records == []
    assert frame.to_dict("records") == res.records
