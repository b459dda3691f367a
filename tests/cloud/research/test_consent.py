"""Consent and withdrawal: per-stream records, robot commands, deletion or retention, audit."""

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.errors import ConflictError, InvalidInputError
from cloud.research.deid import KAnonymityError
from cloud.research.export import build_export, export_code
from cloud.research.metrics import compute_day
from cloud.research.studies import (
    consent_state,
    create_study,
    enrol,
    get_participant,
    get_study,
    publish_consent_form,
    set_consent,
    withdraw,
)
from cloud.store import make_engine, make_session_factory
from cloud.store.models import (
    Assessment,
    AuditLog,
    ConsentRecord,
    DailyMetric,
    Participant,
    ParticipantStatus,
    Retention,
    Senior,
)
from protocol import CommandType
from protocol.commands import SchedulePayload
from protocol.consent import ConsentCommandPayload, DataDeletionPayload, DataStream
from tests.cloud.research.conftest import COORDINATOR, FORM, STUDY, T0, StudyWorld


def _with_data(study: StudyWorld, sessions: sessionmaker[Session], retention: Retention) -> str:
    code = study.enrol(retention=retention)
    study.robots[code].conversation(T0, minutes=5.0)
    study.robots[code].screening(T0, "ucla3", [2, 2, 2])
    with sessions() as s, s.begin():
        compute_day(s, STUDY, T0.date(), T0 + timedelta(days=1))
    return code


def _counts(sessions: sessionmaker[Session], code: str) -> tuple[int, int]:
    with sessions() as s:
        pid = get_participant(s, STUDY, code).id
        n_a = len(s.scalars(select(Assessment).where(Assessment.participant_id == pid)).all())
        n_m = len(s.scalars(select(DailyMetric).where(DailyMetric.participant_id == pid)).all())
        return n_a, n_m


def test_consent_is_recorded_per_stream_and_sent_to_the_robot(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol(streams={"mood": True, "conversation": False})
    with sessions() as s, s.begin():
        p = get_participant(s, STUDY, code)
        publish_consent_form(
            s, COORDINATOR, T0, study_id=STUDY, version="v2", streams=["mood", "screening"]
        )
        commands = set_consent(
            s,
            COORDINATOR,
            T0 + timedelta(hours=1),
            participant=p,
            form_version="v2",
            streams={"screening": True},
        )
        state = consent_state(s, [p.id])[p.id]
    assert state[DataStream.MOOD]
    assert state[DataStream.SCREENING]
    assert not state[DataStream.CONVERSATION]
    assert not state[DataStream.ACTIVITY]
    robot = study.robots[code].device_id
    assert [(c.device_id, c.type) for c in commands] == [
        (robot, CommandType.CONSENT),
        (robot, CommandType.SCHEDULE),
    ]
    payload = ConsentCommandPayload.model_validate(commands[0].payload)
    assert payload.form_version == "v2"
    assert payload.streams[DataStream.SCREENING]
    assert not payload.streams[DataStream.CONVERSATION]
    # Screening consented: the robot is told which instruments to ask, and when (local days).
    schedule = SchedulePayload.model_validate(commands[1].payload)
    asked = [(x.id, x.instrument, x.due.isoformat(), x.until) for x in schedule.screenings or []]
    assert asked[:2] == [
        ("pilot-a:baseline:sgds_k", "sgds_k", "2026-03-02", date(2026, 3, 9)),
        ("pilot-a:baseline:ucla3", "ucla3", "2026-03-02", date(2026, 3, 9)),
    ]
    assert ("pilot-a:week8:ucla3", "ucla3", "2026-04-27", date(2026, 5, 4)) in asked
    assert schedule.reminders is None  # the senior's reminders are left alone


def test_consent_outside_the_form_is_refused(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol()
    with sessions() as s, s.begin():
        publish_consent_form(s, COORDINATOR, T0, study_id=STUDY, version="v3", streams=["mood"])
        p = get_participant(s, STUDY, code)
        with pytest.raises(InvalidInputError, match="does not ask for conversation"):
            set_consent(
                s,
                COORDINATOR,
                T0,
                participant=p,
                form_version="v3",
                streams={"conversation": True},
            )
        with pytest.raises(InvalidInputError, match="unknown data stream 'gps'"):
            set_consent(s, COORDINATOR, T0, participant=p, form_version="v3", streams={"gps": True})


def test_withdrawal_deletes_data_sends_purge_and_audits(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = _with_data(study, sessions, Retention.DELETE)
    assert _counts(sessions, code) == (1, 1)
    with sessions() as s, s.begin():
        result = withdraw(
            s, COORDINATOR, T0 + timedelta(days=2), participant=get_participant(s, STUDY, code)
        )
    assert (result.assessments_deleted, result.metric_days_deleted) == (1, 1)
    assert _counts(sessions, code) == (0, 0)
    kinds = [c.type for c in result.commands]
    assert kinds == [CommandType.CONSENT, CommandType.SCHEDULE, CommandType.DATA_DELETION]
    assert SchedulePayload.model_validate(result.commands[1].payload).screenings == []
    order = DataDeletionPayload.model_validate(result.commands[2].payload)
    assert set(order.streams) == set(DataStream)
    assert order.transcripts
    consent = ConsentCommandPayload.model_validate(result.commands[0].payload)
    assert not any(consent.streams.values())
    with sessions() as s:
        p = get_participant(s, STUDY, code)
        assert p.status is ParticipantStatus.WITHDRAWN
        assert p.birth_year is None
        actions = [
            a.action
            for a in s.scalars(
                select(AuditLog).where(AuditLog.resource_id == code).order_by(AuditLog.id)
            )
        ]
        last = s.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.participant_id == p.id)
            .order_by(ConsentRecord.id)
        ).all()[-len(DataStream) :]
    assert actions == ["enrol", "consent", "command", "withdraw", "delete_data", "command"]
    assert not any(r.granted for r in last)


def test_withdrawal_retains_data_when_consent_says_so(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = _with_data(study, sessions, Retention.RETAIN)
    with sessions() as s, s.begin():
        result = withdraw(
            s, COORDINATOR, T0 + timedelta(days=2), participant=get_participant(s, STUDY, code)
        )
    assert (result.assessments_deleted, result.metric_days_deleted) == (0, 0)
    assert _counts(sessions, code) == (1, 1)
    assert [c.type for c in result.commands] == [
        CommandType.CONSENT,
        CommandType.SCHEDULE,
        CommandType.DATA_DELETION,
    ]


def test_collection_stops_after_withdrawal(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol(retention=Retention.RETAIN)
    with sessions() as s, s.begin():
        withdraw(
            s, COORDINATOR, T0 + timedelta(hours=1), participant=get_participant(s, STUDY, code)
        )
    robot = study.robots[code]
    robot.screening(T0 + timedelta(hours=2), "ucla3", [3, 3, 3])  # the robot had it queued
    robot.conversation(T0 + timedelta(hours=2), minutes=9.0)
    with sessions() as s, s.begin():
        compute_day(s, STUDY, T0.date(), T0 + timedelta(days=1))
    assert _counts(sessions, code) == (0, 1)
    with sessions() as s:
        row = s.scalars(select(DailyMetric)).one()
        assert row.talk_minutes == 0.0  # consented before the withdrawal, nothing said until it


def test_second_withdrawal_and_consent_after_withdrawal_are_refused(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol()
    with sessions() as s, s.begin():
        withdraw(s, COORDINATOR, T0, participant=get_participant(s, STUDY, code))
    with sessions() as s, s.begin():
        p = get_participant(s, STUDY, code)
        with pytest.raises(ConflictError, match="already withdrawn"):
            withdraw(s, COORDINATOR, T0, participant=p)
        with pytest.raises(ConflictError, match="has withdrawn"):
            set_consent(
                s, COORDINATOR, T0, participant=p, form_version=FORM, streams={"mood": True}
            )


def test_screening_event_becomes_a_scheduled_assessment(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol()
    robot = study.robots[code]
    robot.screening(
        T0 + timedelta(days=27), "sgds_k", [0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1]
    )
    robot.screening(T0 + timedelta(days=27, minutes=1), "phq9", [9] * 9)  # invalid: skipped
    with sessions() as s:
        rows = s.scalars(select(Assessment)).all()
    assert len(rows) == 1
    assert (rows[0].instrument, rows[0].time_point, rows[0].score) == ("sgds_k", "week4", 15.0)
    assert rows[0].band == "depression_likely"


def test_screening_without_consent_is_not_recorded(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    code = study.enrol(streams={"screening": False, "mood": True})
    study.robots[code].screening(T0, "ucla3", [1, 1, 1])
    with sessions() as s:
        assert s.scalars(select(Assessment)).all() == []


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(
        st.tuples(st.booleans(), st.sampled_from(list(Retention))), min_size=5, max_size=16
    )
)
def test_a_withdrawn_participant_appears_in_no_later_export(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Callable[[Path], str],
    plan: list[tuple[bool, Retention]],
) -> None:
    # a fresh migrated store per example: a copy of the session's migrated template
    url = migrated_sqlite(tmp_path_factory.mktemp("w") / "w.sqlite3")
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as s, s.begin():
            create_study(s, COORDINATOR, T0, study_id="w", title="w")
            publish_consent_form(s, COORDINATOR, T0, study_id="w", version="v1", streams=["mood"])
            for i, (_, retention) in enumerate(plan):
                s.add(Senior(id=f"w{i}", display_name="x", settings={}, created_at=T0))
                s.flush()
                p = enrol(
                    s,
                    COORDINATOR,
                    T0,
                    study_id="w",
                    senior_id=f"w{i}",
                    arm="control",
                    birth_year=1940,
                    sex="f",
                    region="서울특별시",
                )
                set_consent(
                    s,
                    COORDINATOR,
                    T0,
                    participant=p,
                    form_version="v1",
                    streams={"mood": True},
                    retention=retention,
                )
                s.add(
                    Assessment(
                        participant_id=p.id,
                        instrument="ucla3",
                        time_point="baseline",
                        answers=[1, 2, 3],
                        score=6.0,
                        complete=True,
                        source="api",
                        administered_at=T0,
                        recorded_at=T0,
                    )
                )
        with sessions() as s, s.begin():
            people = s.scalars(select(Participant).order_by(Participant.id)).all()
            gone = []
            for p, (leaves, _) in zip(people, plan, strict=True):
                if leaves:
                    withdraw(s, COORDINATOR, T0 + timedelta(days=1), participant=p)
                    gone.append(p.code)
            secret = bytes.fromhex(get_study(s, "w").shift_secret)
        with sessions() as s:
            try:
                bundle = build_export(s, "w", T0 + timedelta(days=2), k=5)
            except KAnonymityError:
                assert len(plan) - len(gone) < 5
                return
        pseudonyms = {export_code(secret, c) for c in gone}
        for frame in bundle.tables.values():
            if "participant" in frame.columns:
                assert pseudonyms.isdisjoint(set(frame["participant"]))
        assert len(bundle.tables["participants"]) == len(plan) - len(gone)
    finally:
        engine.dispose()


def test_a_screening_in_a_new_outbox_epoch_is_recorded_too(
    study: StudyWorld, sessions: sessionmaker[Session]
) -> None:
    from cloud.alerts import AlertEngine
    from cloud.ingest import ingest_message
    from protocol import EventType, encode, events_topic, make_envelope
    from protocol.events import ScreeningPayload

    code = study.enrol()
    robot = study.robots[code]
    answers: list[int | None] = [0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1]
    robot.screening(T0 + timedelta(days=27), "sgds_k", answers)  # epoch 0, seq 1
    payload = ScreeningPayload(instrument="sgds_k", answers=answers, score=0.0, complete=True)
    for _ in range(2):  # the outbox started over: epoch 7, seq 1 again; then a redelivery
        env = make_envelope(
            robot.device_id,
            1,
            payload,
            event_type=EventType.SCREENING,
            ts=T0 + timedelta(days=28),
            epoch=7,
        )
        with sessions() as s, s.begin():
            ingest_message(
                s, events_topic(robot.device_id), encode(env), T0 + timedelta(days=28),
                alerts=AlertEngine(),
            )  # fmt: skip
    with sessions() as s:
        rows = s.scalars(select(Assessment).order_by(Assessment.id)).all()
    assert [(r.event_epoch, r.event_seq) for r in rows] == [(0, 1), (7, 1)]
