"""De-identified export: k-anonymity holds for every export, refusals say why, no free text."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from cloud.research.deid import KAnonymityError
from cloud.research.export import QUASI_IDENTIFIERS, build_export, write_export
from cloud.research.metrics import compute_day
from cloud.research.studies import create_study, enrol, get_participant
from cloud.store import make_engine, make_session_factory
from cloud.store.models import Assessment, AssessmentSource, Device, Senior
from tests.cloud.research.conftest import COORDINATOR, STUDY, T0, StudyWorld

REGIONS = ["서울특별시", "부산광역시", "경기도", "제주특별자치도", "전라남도", "강원도 춘천시"]


@contextmanager
def _sqlite(url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _cohort(
    sessions: sessionmaker[Session], people: list[tuple[int, str, str]], study: str = "k-study"
) -> None:
    with sessions() as s, s.begin():
        create_study(s, COORDINATOR, T0, study_id=study, title="k")
        for i, (birth_year, sex, region) in enumerate(people):
            sid = f"{study}-s{i}"
            s.add(Senior(id=sid, display_name=f"이름 {i}", settings={}, created_at=T0))
            s.flush()
            enrol(
                s,
                COORDINATOR,
                T0,
                study_id=study,
                senior_id=sid,
                arm="intervention" if i % 2 else "control",
                birth_year=birth_year,
                sex=sex,
                region=region,
            )


def _class_sizes(frame: pd.DataFrame) -> Counter[tuple[str, ...]]:
    return Counter(tuple(str(v) for v in row) for row in frame[list(QUASI_IDENTIFIERS)].values)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(
        st.tuples(
            st.integers(1925, 1965), st.sampled_from(["f", "m", "x"]), st.sampled_from(REGIONS)
        ),
        min_size=0,
        max_size=40,
    ),
    k=st.integers(5, 8),
)
def test_every_export_is_k_anonymous_or_refused(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Callable[[Path], str],
    people: list[tuple[int, str, str]],
    k: int,
) -> None:
    # a fresh migrated store per example: a copy of the session's migrated template
    with _sqlite(migrated_sqlite(tmp_path_factory.mktemp("k") / "k.sqlite3")) as sessions:
        _cohort(sessions, people)
        with sessions() as s:
            refusal: str | None
            try:
                bundle = build_export(s, "k-study", T0, k=k)
            except KAnonymityError as e:
                refusal = str(e)
            else:
                refusal = None
    if refusal is not None:
        assert f"k={k}" in refusal
        return
    table = bundle.tables["participants"]
    sizes = _class_sizes(table)
    assert all(n >= k for n in sizes.values()), sizes
    assert bundle.disclosure.k_achieved is not None
    assert bundle.disclosure.k_achieved >= k
    assert bundle.disclosure.subjects_out == len(table)
    assert len(table) + bundle.disclosure.subjects_suppressed == len(people)


def test_too_few_participants_is_refused_with_the_reason(sessions: sessionmaker[Session]) -> None:
    _cohort(sessions, [(1940, "f", "서울특별시")] * 3)
    with sessions() as s, pytest.raises(KAnonymityError, match="only 3 participant"):
        build_export(s, "k-study", T0, k=5)


def test_k_below_the_study_minimum_is_refused(sessions: sessionmaker[Session]) -> None:
    _cohort(sessions, [(1940, "f", "서울특별시")] * 6)
    with sessions() as s, pytest.raises(Exception, match="k=3 is below the minimum of 5"):
        build_export(s, "k-study", T0, k=3)


def test_export_writes_tables_dictionary_and_disclosure(
    study: StudyWorld, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    codes = [study.enrol(arm="intervention" if i % 2 else "control") for i in range(6)]
    for code in codes:
        study.robots[code].conversation(T0, minutes=3.0)
        study.robots[code].screening(T0, "ucla3", [1, 2, 3])
    with sessions() as s, s.begin():
        compute_day(s, STUDY, T0.date(), T0 + timedelta(days=1))
    with sessions() as s:
        bundle = build_export(s, STUDY, T0 + timedelta(days=1), k=5)
    out = write_export(bundle, tmp_path / "export", "parquet")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "assessments.parquet",
        "daily_metrics.parquet",
        "data_dictionary.json",
        "data_dictionary.md",
        "disclosure_report.json",
        "disclosure_report.md",
        "participants.parquet",
        "summary_by_arm.parquet",
    ]
    participants = pd.read_parquet(out / "participants.parquet")
    assert set(participants["participant"]).isdisjoint(codes)  # export pseudonyms only
    assert set(participants["age_band"]) <= {"80-84", "80-89", "80-99", "*"}
    metrics = pd.read_parquet(out / "daily_metrics.parquet")
    assert list(metrics["talk_minutes"]) == [3.0] * 6
    assert (pd.to_datetime(metrics["day"]) != pd.Timestamp(T0.date())).all()  # dates shifted
    assessments = pd.read_parquet(out / "assessments.parquet")
    assert list(assessments["score"]) == [6.0] * 6
    with pytest.raises(FileExistsError):
        write_export(bundle, out, "csv")


def test_free_text_never_leaves(study: StudyWorld, sessions: sessionmaker[Session]) -> None:
    for _ in range(5):
        study.enrol()
    with sessions() as s:
        bundle = build_export(s, STUDY, T0, k=5)
    exported = " ".join(
        str(v) for frame in bundle.tables.values() for v in frame.astype(str).values.ravel()
    )
    for secret in ("이름", "종로구", "s-000", "dev-000", "Pilot A"):
        assert secret not in exported


def test_withdrawn_with_retention_is_still_not_exported(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    from cloud.research.studies import withdraw
    from cloud.store.models import Retention

    codes = [study.enrol(retention=Retention.RETAIN) for _ in range(6)]
    with sessions() as s, s.begin():
        s.add(
            Assessment(
                participant_id=get_participant(s, STUDY, codes[0]).id,
                instrument="ucla3",
                time_point="baseline",
                answers=[1, 1, 1],
                score=3.0,
                complete=True,
                source=AssessmentSource.API,
                administered_at=T0,
                recorded_at=T0,
            )
        )
        withdraw(s, COORDINATOR, T0, participant=get_participant(s, STUDY, codes[0]))
    with sessions() as s:
        bundle = build_export(s, STUDY, T0, k=5)
    assert len(bundle.tables["participants"]) == 5
    assert bundle.tables["assessments"].empty


def test_devices_are_not_needed_to_export(sessions: sessionmaker[Session]) -> None:
    _cohort(sessions, [(1944, "f", "부산광역시")] * 5)
    with sessions() as s:
        assert s.query(Device).count() == 0
        bundle = build_export(s, "k-study", T0, k=5)
    assert len(bundle.tables["participants"]) == 5


def test_summary_by_arm_counts_every_due_score_that_is_missing(
    sessions: sessionmaker[Session],
) -> None:
    """20 participants per arm; at week 4 only 10 of the intervention arm have a score and none
    of the control arm: 10 and 20 are missing (the export said 0 before). Week 8's window is
    still open, so nobody is missing there yet."""
    from cloud.store.models import Participant

    _cohort(sessions, [(1944, "f", "부산광역시")] * 40)
    with sessions() as s, s.begin():
        people = list(s.query(Participant).filter_by(study_id="k-study").order_by(Participant.id))
        for p in people:
            points = ["baseline"] + (["week4"] if p.arm == "intervention" else [])
            for tp in points:
                if (
                    tp == "week4"
                    and sum(a.time_point == "week4" for a in s.query(Assessment).all()) >= 10
                ):
                    continue
                day = 0 if tp == "baseline" else 28
                s.add(
                    Assessment(
                        participant_id=p.id,
                        instrument="ucla3",
                        time_point=tp,
                        answers=[1, 2, 1],
                        score=4.0,
                        complete=True,
                        source=AssessmentSource.API,
                        administered_at=T0 + timedelta(days=day),
                        recorded_at=T0 + timedelta(days=day),
                    )
                )
                s.flush()
    with sessions() as s:
        bundle = build_export(s, "k-study", T0 + timedelta(days=60), k=5)
    summary = bundle.tables["summary_by_arm"]
    cell = summary.set_index(["arm", "instrument", "time_point"])
    assert int(cell.loc[("intervention", "ucla3", "week4"), "n"]) == 10
    assert int(cell.loc[("intervention", "ucla3", "week4"), "n_missing"]) == 10
    assert int(cell.loc[("control", "ucla3", "week4"), "n_missing"]) == 20
    assert int(cell.loc[("control", "ucla3", "baseline"), "n"]) == 20
    assert int(cell.loc[("control", "ucla3", "baseline"), "n_missing"]) == 0
    # sgds_k is scheduled too and nobody answered it: all 40 are missing at baseline
    assert int(cell.loc[("intervention", "sgds_k", "baseline"), "n_missing"]) == 20
    assert "week8" not in set(summary["time_point"])
