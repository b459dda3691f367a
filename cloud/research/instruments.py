"""Assessments: score answers by the shared instrument definitions, place them on the schedule.

The items, response codes and scoring keys live in `protocol.instruments` so the robot asks and
scores exactly what the cloud stores. This module adds what needs the store: which time point
an answer belongs to, and the assessment row (from a `screening` event or the API).
"""

import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.errors import ConflictError, ConsentRequiredError, InvalidInputError
from cloud.errors import both
from cloud.store.models import (
    Assessment,
    AssessmentSource,
    ConsentRecord,
    Device,
    Participant,
    ParticipantIdentity,
    ParticipantStatus,
    StudyTimePoint,
)
from protocol import Envelope, EventType, ProtocolError
from protocol.consent import DataStream
from protocol.instruments import INSTRUMENTS, Instrument, InstrumentId, Score, get_instrument, score

log = logging.getLogger(__name__)

__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "InstrumentId",
    "Score",
    "assign_time_point",
    "record_assessment",
    "record_screening_event",
    "score_answers",
]


def score_answers(instrument: str, answers: Sequence[int | None]) -> Score:
    """Score by the published key; InvalidInputError naming the bad item otherwise."""
    try:
        return score(instrument, answers)
    except ProtocolError as e:
        raise InvalidInputError(both("응답이 올바르지 않습니다", str(e))) from None


def _local_day_number(participant: Participant, at: datetime) -> int:
    tz = ZoneInfo(participant.timezone)
    return (at.astimezone(tz).date() - participant.enrolled_at.astimezone(tz).date()).days


def assign_time_point(
    schedule: Sequence[StudyTimePoint], participant: Participant, instrument: str, at: datetime
) -> str | None:
    """The scheduled time point whose window holds `at` for this instrument (nearest wins)."""
    day = _local_day_number(participant, at)
    best: tuple[int, str] | None = None
    for tp in schedule:
        if instrument not in tp.instruments or abs(day - tp.day) > tp.window_days:
            continue
        distance = abs(day - tp.day)
        if best is None or distance < best[0]:
            best = (distance, tp.label)
    return None if best is None else best[1]


def _schedule(session: Session, study_id: str) -> list[StudyTimePoint]:
    return list(session.scalars(select(StudyTimePoint).where(StudyTimePoint.study_id == study_id)))


def record_assessment(
    session: Session,
    participant: Participant,
    *,
    instrument: str,
    answers: Sequence[int | None],
    administered_at: datetime,
    now: datetime,
    source: AssessmentSource,
    time_point: str | None = None,
    device_id: str | None = None,
    event_seq: int | None = None,
    event_epoch: int | None = None,
) -> Assessment:
    """Score and store one administration; `time_point` None means "place it on the schedule".

    Entered by staff (API, CLI): refused unless the participant consents to `screening` now
    (the robot's path checks consent at the time of the event before calling this).
    """
    if source is AssessmentSource.API and not _screening_consented(session, participant.id, now):
        raise ConsentRequiredError(
            both(
                f"참여자 {participant.code}은(는) 선별검사(screening)에 동의하지 않았습니다",
                f"participant {participant.code} has not consented to screening: record"
                " consent first",
            )
        )
    result = score_answers(instrument, answers)
    schedule = _schedule(session, participant.study_id)
    if time_point is None:
        time_point = assign_time_point(schedule, participant, instrument, administered_at)
    elif time_point not in {tp.label for tp in schedule}:
        known = ", ".join(tp.label for tp in schedule) or "(none)"
        raise InvalidInputError(
            both(
                f"연구에 시점 {time_point!r}이(가) 없습니다. 있는 시점: {known}",
                f"the study has no time point {time_point!r}; known: {known}",
            )
        )
    if source is not AssessmentSource.DEVICE and time_point is not None:
        _refuse_second_baseline(session, schedule, participant, result.instrument.value, time_point)
    row = Assessment(
        participant_id=participant.id,
        instrument=result.instrument.value,
        time_point=time_point,
        answers=list(answers),
        score=None if result.total is None else float(result.total),
        complete=result.complete,
        prorated=result.prorated,
        band=result.band,
        flags=list(result.flags),
        source=source,
        device_id=device_id,
        event_epoch=event_epoch,
        event_seq=event_seq,
        administered_at=administered_at,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _refuse_second_baseline(
    session: Session,
    schedule: Sequence[StudyTimePoint],
    participant: Participant,
    instrument: str,
    time_point: str,
) -> None:
    """A participant has one baseline per instrument: every later score is compared with it,
    so a second one entered by staff is refused (ConflictError, 409), never silently added.
    (The robot's own screenings are placed by date and deduplicated by their event.)"""
    days = [tp.day for tp in schedule if instrument in tp.instruments]
    if not days or next(tp.day for tp in schedule if tp.label == time_point) != min(days):
        return
    exists = session.scalar(
        select(Assessment.id).where(
            Assessment.participant_id == participant.id,
            Assessment.instrument == instrument,
            Assessment.time_point == time_point,
        )
    )
    if exists is not None:
        raise ConflictError(
            both(
                f"참여자 {participant.code}의 {instrument} 기준선({time_point})이 이미 있습니다",
                f"participant {participant.code} already has a {instrument} baseline"
                f" ({time_point}): a second one is refused",
            )
        )


def _participant_for_device(session: Session, device_id: str, at: datetime) -> Participant | None:
    """The enrolled participant whose robot this is (latest enrolment first)."""
    senior_id = session.scalar(select(Device.senior_id).where(Device.id == device_id))
    q = (
        select(Participant)
        .join(ParticipantIdentity, ParticipantIdentity.participant_id == Participant.id)
        .where(
            Participant.status == ParticipantStatus.ENROLLED,
            Participant.enrolled_at <= at,
        )
        .order_by(Participant.id.desc())
    )
    if senior_id is not None:
        q = q.where(
            (ParticipantIdentity.device_id == device_id)
            | (ParticipantIdentity.senior_id == senior_id)
        )
    else:
        q = q.where(ParticipantIdentity.device_id == device_id)
    return session.scalars(q).first()


def _screening_consented(session: Session, participant_id: int, at: datetime) -> bool:
    granted = session.scalar(
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.participant_id == participant_id,
            ConsentRecord.stream == DataStream.SCREENING.value,
            ConsentRecord.at <= at,
        )
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    return bool(granted)


def record_screening_event(session: Session, env: Envelope, now: datetime) -> Assessment | None:
    """Ingest hook: a `screening` event of an enrolled, consenting participant → an assessment.

    Redelivery is harmless (one assessment per (device, epoch, seq)); answers that break the
    instrument are logged and skipped, never raised into ingest.
    """
    if env.type is not EventType.SCREENING:
        return None
    participant = _participant_for_device(session, env.device_id, env.ts)
    if participant is None or not _screening_consented(session, participant.id, env.ts):
        return None
    exists = session.scalar(
        select(Assessment.id).where(
            Assessment.device_id == env.device_id,
            Assessment.event_epoch == env.epoch,
            Assessment.event_seq == env.seq,
        )
    )
    if exists is not None:
        return None
    payload = env.payload
    try:
        get_instrument(str(payload.get("instrument")))
        return record_assessment(
            session,
            participant,
            instrument=str(payload["instrument"]),
            answers=list(payload.get("answers", [])),
            administered_at=env.ts,
            now=now,
            source=AssessmentSource.DEVICE,
            device_id=env.device_id,
            event_epoch=env.epoch,
            event_seq=env.seq,
        )
    except (ProtocolError, InvalidInputError) as e:
        log.warning("screening %s #%d not recorded: %s", env.device_id, env.seq, e)
        return None
