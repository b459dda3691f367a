"""Studies, enrolment, consent and withdrawal: the coordinator's side of a pilot study.

Every function works inside the caller's transaction and audits each step; the commands for
the robot (`consent`, `data_deletion`) are returned, to be published after the commit.
Identities (senior, robot) are written here and read only by `identity_of`/`devices_of`,
which no researcher-facing code calls.
"""

import logging
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal
from cloud.accounts.audit import audit
from cloud.accounts.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.errors import CloudError, both
from cloud.store.models import (
    Assessment,
    ConsentForm,
    ConsentRecord,
    DailyMetric,
    Device,
    Participant,
    ParticipantIdentity,
    ParticipantStatus,
    Retention,
    Senior,
    Study,
    StudyArm,
    StudyTimePoint,
)
from protocol import Command, CommandType
from protocol.commands import SchedulePayload, ScreeningSpec
from protocol.consent import ConsentCommandPayload, DataDeletionPayload, DataStream
from protocol.instruments import InstrumentId

if TYPE_CHECKING:
    from cloud.ingest.worker import CommandPublisher

log = logging.getLogger(__name__)

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
DEFAULT_ARMS = (("intervention", "Intervention"), ("control", "Control"))
DEFAULT_SCHEDULE = (
    ("baseline", 0, (InstrumentId.SGDS_K, InstrumentId.UCLA3)),
    ("week4", 28, (InstrumentId.SGDS_K, InstrumentId.UCLA3)),
    ("week8", 56, (InstrumentId.SGDS_K, InstrumentId.UCLA3)),
)


@dataclass(frozen=True, slots=True)
class TimePointSpec:
    """A scheduled assessment as a coordinator defines it."""

    label: str
    day: int
    instruments: tuple[str, ...]
    window_days: int = 7


def check_timezone(name: str) -> str:
    """The IANA timezone name, or InvalidInputError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            both(
                f"모르는 시간대 {name!r}입니다(IANA 이름을 쓰세요, 예: Asia/Seoul)",
                f"unknown timezone {name!r} (use an IANA name, e.g. Asia/Seoul)",
            )
        ) from None
    return name


def create_study(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    study_id: str,
    title: str,
    timezone: str = "Asia/Seoul",
    min_k: int = 5,
    arms: Sequence[tuple[str, str]] = DEFAULT_ARMS,
    schedule: Sequence[TimePointSpec] | None = None,
) -> Study:
    """A new study with its arms and assessment schedule."""
    if not _ID.match(study_id):
        raise InvalidInputError(
            both(
                f"연구 id {study_id!r}: 영문 소문자, 숫자, '-', '_'로 1-64자를 쓰세요",
                f"study id {study_id!r}: use 1-64 lowercase letters, digits, '-' or '_'",
            )
        )
    if not title.strip():
        raise InvalidInputError(both("연구에는 제목이 있어야 합니다", "a study needs a title"))
    if min_k < 2:
        raise InvalidInputError(
            both(f"min_k는 2 이상이어야 합니다({min_k})", f"min_k must be at least 2, not {min_k}")
        )
    if session.get(Study, study_id) is not None:
        raise ConflictError(
            both(f"연구 {study_id!r}이(가) 이미 있습니다", f"study {study_id!r} already exists")
        )
    codes = [code for code, _ in arms]
    if len(set(codes)) < 2 or len(set(codes)) != len(codes):
        raise InvalidInputError(
            both(
                "연구에는 코드가 서로 다른 군이 둘 이상 있어야 합니다",
                "a study needs at least two arms, each with its own code",
            )
        )
    study = Study(
        id=study_id,
        title=title.strip()[:200],
        timezone=check_timezone(timezone),
        min_k=min_k,
        shift_secret=secrets.token_hex(32),
        closed=False,
        created_at=now,
    )
    session.add(study)
    session.flush()
    for code, label in arms:
        if not _LABEL.match(code):
            raise InvalidInputError(
                both(
                    f"군 {code!r}: 영문 소문자, 숫자, '-', '_'를 쓰세요",
                    f"arm {code!r}: use lowercase letters, digits, '-' or '_'",
                )
            )
        session.add(StudyArm(study_id=study_id, code=code, label=label[:100]))
    specs = (
        schedule
        if schedule is not None
        else [
            TimePointSpec(lbl, day, tuple(i.value for i in ins))
            for lbl, day, ins in DEFAULT_SCHEDULE
        ]
    )
    for spec in specs:
        add_time_point(session, study_id, spec)
    audit(session, principal, "create", "study", now, resource_id=study_id)
    return study


def add_time_point(session: Session, study_id: str, spec: TimePointSpec) -> StudyTimePoint:
    """Add one scheduled assessment to a study."""
    if not _LABEL.match(spec.label):
        raise InvalidInputError(
            both(
                f"시점 {spec.label!r}: 영문 소문자와 숫자를 쓰세요",
                f"time point {spec.label!r}: use lowercase letters and digits",
            )
        )
    if spec.day < 0 or spec.window_days < 0:
        raise InvalidInputError(
            both(
                f"시점 {spec.label!r}: 날짜와 허용 범위는 0 이상이어야 합니다",
                f"time point {spec.label!r}: day and window must be ≥ 0",
            )
        )
    known = {i.value for i in InstrumentId}
    unknown = [i for i in spec.instruments if i not in known]
    if unknown or not spec.instruments:
        raise InvalidInputError(
            both(
                f"시점 {spec.label!r}: 모르는 도구 {unknown or '(없음)'}."
                f" 있는 도구: {', '.join(sorted(known))}",
                f"time point {spec.label!r}: unknown instruments {unknown or '(none)'}; "
                f"known: {', '.join(sorted(known))}",
            )
        )
    exists = session.scalar(
        select(StudyTimePoint.id).where(
            StudyTimePoint.study_id == study_id, StudyTimePoint.label == spec.label
        )
    )
    if exists is not None:
        raise ConflictError(
            both(
                f"연구 {study_id!r}에 시점 {spec.label!r}이(가) 이미 있습니다",
                f"study {study_id!r} already has a time point {spec.label!r}",
            )
        )
    tp = StudyTimePoint(
        study_id=study_id,
        label=spec.label,
        day=spec.day,
        window_days=spec.window_days,
        instruments=list(spec.instruments),
    )
    session.add(tp)
    return tp


def get_study(session: Session, study_id: str) -> Study:
    """The study, or NotFoundError."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFoundError(
            both(f"id가 {study_id!r}인 연구가 없습니다", f"no study with id {study_id!r}")
        )
    return study


def arms_of(session: Session, study_id: str) -> list[StudyArm]:
    """The study's arms in creation order."""
    return list(
        session.scalars(select(StudyArm).where(StudyArm.study_id == study_id).order_by(StudyArm.id))
    )


def schedule_of(session: Session, study_id: str) -> list[StudyTimePoint]:
    """The study's time points by day."""
    return list(
        session.scalars(
            select(StudyTimePoint)
            .where(StudyTimePoint.study_id == study_id)
            .order_by(StudyTimePoint.day, StudyTimePoint.label)
        )
    )


def publish_consent_form(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    study_id: str,
    version: str,
    streams: Iterable[str],
    summary: str = "",
) -> ConsentForm:
    """A new version of the study's consent form, asking for `streams`."""
    get_study(session, study_id)
    if not version or len(version) > 32:
        raise InvalidInputError(
            both("동의서 버전은 1-32자입니다", "a consent form version is 1-32 characters")
        )
    wanted = _streams(streams)
    if not wanted:
        raise InvalidInputError(
            both(
                "동의서는 자료 흐름을 하나 이상 물어야 합니다",
                "a consent form asks for at least one stream",
            )
        )
    clash = session.scalar(
        select(ConsentForm.id).where(
            ConsentForm.study_id == study_id, ConsentForm.version == version
        )
    )
    if clash is not None:
        raise ConflictError(
            both(
                f"연구 {study_id!r}에 동의서 버전 {version!r}이(가) 이미 있습니다",
                f"study {study_id!r} already has consent form version {version!r}",
            )
        )
    form = ConsentForm(
        study_id=study_id,
        version=version,
        streams=sorted(s.value for s in wanted),
        summary=summary[:500],
        published_at=now,
    )
    session.add(form)
    audit(session, principal, "create", "consent_form", now, resource_id=f"{study_id}:{version}")
    return form


def _streams(streams: Iterable[str]) -> set[DataStream]:
    out: set[DataStream] = set()
    for s in streams:
        try:
            out.add(DataStream(s))
        except ValueError:
            known = ", ".join(d.value for d in DataStream)
            raise InvalidInputError(
                both(
                    f"모르는 자료 흐름 {s!r}입니다. 있는 흐름: {known}",
                    f"unknown data stream {s!r}; known: {known}",
                )
            ) from None
    return out


def consent_form(session: Session, study_id: str, version: str) -> ConsentForm:
    """One version of the study's consent form, or NotFoundError."""
    form = session.scalar(
        select(ConsentForm).where(ConsentForm.study_id == study_id, ConsentForm.version == version)
    )
    if form is None:
        raise NotFoundError(
            both(
                f"연구 {study_id!r}에 동의서 버전 {version!r}이(가) 없습니다",
                f"study {study_id!r} has no consent form version {version!r}",
            )
        )
    return form


def _new_code(session: Session) -> str:
    for _ in range(20):
        code = "P-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
        if session.scalar(select(Participant.id).where(Participant.code == code)) is None:
            return code
    raise ConflictError(
        both(
            "참여자 코드를 새로 만들지 못했습니다. 다시 시도하세요",
            "could not allocate a unique participant code; try again",
        )
    )


def enrol(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    study_id: str,
    senior_id: str,
    arm: str,
    device_id: str | None = None,
    birth_year: int | None = None,
    sex: str | None = None,
    region: str | None = None,
) -> Participant:
    """Enrol a senior under a new pseudonymous code; the link is kept in the identity table."""
    study = get_study(session, study_id)
    if study.closed:
        raise ConflictError(
            both(
                f"연구 {study_id!r}은(는) 등록을 마감했습니다",
                f"study {study_id!r} is closed to enrolment",
            )
        )
    senior = session.get(Senior, senior_id)
    if senior is None:
        raise NotFoundError(
            both(f"id가 {senior_id!r}인 어르신이 없습니다", f"no senior with id {senior_id!r}")
        )
    if arm not in {a.code for a in arms_of(session, study_id)}:
        raise InvalidInputError(
            both(
                f"연구 {study_id!r}에 군 {arm!r}이(가) 없습니다",
                f"study {study_id!r} has no arm {arm!r}",
            )
        )
    if birth_year is not None and not 1900 <= birth_year <= now.year:
        raise InvalidInputError(
            both(
                f"출생 연도 {birth_year}은(는) 있을 법하지 않습니다",
                f"birth year {birth_year} is not plausible",
            )
        )
    if sex is not None and sex not in ("f", "m", "x"):
        raise InvalidInputError(
            both(
                f"성별은 'f', 'm', 'x' 중 하나여야 합니다({sex!r})",
                f"sex must be 'f', 'm' or 'x', not {sex!r}",
            )
        )
    already = session.scalar(
        select(Participant.code)
        .join(ParticipantIdentity, ParticipantIdentity.participant_id == Participant.id)
        .where(
            Participant.study_id == study_id,
            ParticipantIdentity.senior_id == senior_id,
            Participant.status != ParticipantStatus.WITHDRAWN,
        )
    )
    if already is not None:
        raise ConflictError(
            both(
                f"어르신 {senior_id!r}은(는) 이미 {study_id!r}에 {already}(으)로 등록되어 있습니다",
                f"senior {senior_id!r} is already enrolled in {study_id!r} as {already}",
            )
        )
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None or device.senior_id != senior_id:
            raise InvalidInputError(
                both(
                    f"로봇 {device_id!r}은(는) {senior_id!r}에게 등록되어 있지 않습니다",
                    f"robot {device_id!r} is not registered for {senior_id!r}",
                )
            )
    participant = Participant(
        study_id=study_id,
        code=_new_code(session),
        arm=arm,
        status=ParticipantStatus.ENROLLED,
        retention=Retention.DELETE,
        timezone=senior.timezone or study.timezone,
        enrolled_at=now,
        withdrawn_at=None,
        birth_year=birth_year,
        sex=sex,
        region=(region or None) and region.strip()[:100],
    )
    session.add(participant)
    session.flush()
    session.add(
        ParticipantIdentity(
            participant_id=participant.id, senior_id=senior_id, device_id=device_id, created_at=now
        )
    )
    audit(
        session,
        principal,
        "enrol",
        "participant",
        now,
        resource_id=participant.code,
        senior_id=senior_id,
        detail=f"study={study_id} arm={arm}",
    )
    return participant


def get_participant(session: Session, study_id: str, code: str) -> Participant:
    """The study's participant with this code, or NotFoundError."""
    p = session.scalar(
        select(Participant).where(Participant.study_id == study_id, Participant.code == code)
    )
    if p is None:
        raise NotFoundError(
            both(
                f"연구 {study_id!r}에 참여자 {code!r}이(가) 없습니다",
                f"study {study_id!r} has no participant {code!r}",
            )
        )
    return p


def identity_of(session: Session, participant: Participant) -> ParticipantIdentity:
    """Who the participant is (coordinators and internal jobs only)."""
    ident = session.get(ParticipantIdentity, participant.id)
    if ident is None:
        raise NotFoundError(
            both(
                f"참여자 {participant.code}의 신원 기록이 없습니다",
                f"participant {participant.code} has no identity record",
            )
        )
    return ident


def devices_of(session: Session, participant_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each participant's robots: the one named at enrolment plus any of their senior's."""
    out: dict[int, set[str]] = {pid: set() for pid in participant_ids}
    if not participant_ids:
        return {}
    rows = session.execute(
        select(ParticipantIdentity.participant_id, ParticipantIdentity.device_id, Device.id)
        .outerjoin(Device, Device.senior_id == ParticipantIdentity.senior_id)
        .where(ParticipantIdentity.participant_id.in_(participant_ids))
    )
    for pid, named, linked in rows:
        if named:
            out[pid].add(named)
        if linked:
            out[pid].add(linked)
    return {pid: sorted(devs) for pid, devs in out.items()}


def consent_state(
    session: Session, participant_ids: Sequence[int], at: datetime | None = None
) -> dict[int, dict[DataStream, bool]]:
    """The latest consent per stream (as of `at`, if given); unrecorded streams are False."""
    state = {pid: dict.fromkeys(DataStream, False) for pid in participant_ids}
    if not participant_ids:
        return state
    q = select(ConsentRecord.participant_id, ConsentRecord.stream, ConsentRecord.granted).where(
        ConsentRecord.participant_id.in_(participant_ids)
    )
    if at is not None:
        q = q.where(ConsentRecord.at < at)
    for pid, stream, granted in session.execute(q.order_by(ConsentRecord.id)):
        state[pid][DataStream(stream)] = bool(granted)
    return state


def consent_history(session: Session, participant: Participant) -> list[ConsentRecord]:
    """Every consent record of the participant, oldest first."""
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.participant_id == participant.id)
            .order_by(ConsentRecord.id)
        )
    )


def _commands(
    session: Session,
    participant: Participant,
    command_type: CommandType,
    payload: object,
    now: datetime,
) -> list[Command]:
    body = payload.model_dump(mode="json")  # type: ignore[attr-defined]
    return [
        Command(
            command_id=uuid.uuid4().hex,
            device_id=device_id,
            ts=now,
            type=command_type,
            payload=body,
        )
        for device_id in devices_of(session, [participant.id]).get(participant.id, [])
    ]


def screening_schedule(
    session: Session, participant: Participant, *, enabled: bool
) -> SchedulePayload:
    """The participant's scheduled screenings for the robot to ask (none when not consented)."""
    if not enabled:
        return SchedulePayload(timezone=participant.timezone, screenings=[])
    enrolled = participant.enrolled_at.astimezone(ZoneInfo(participant.timezone)).date()
    specs = [
        ScreeningSpec(
            id=f"{participant.study_id}:{tp.label}:{instrument}"[:64],
            instrument=instrument,
            due=enrolled + timedelta(days=tp.day),
            until=enrolled + timedelta(days=tp.day + tp.window_days),
        )
        for tp in schedule_of(session, participant.study_id)
        for instrument in tp.instruments
    ]
    return SchedulePayload(timezone=participant.timezone, screenings=specs)


def set_consent(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    participant: Participant,
    form_version: str,
    streams: Mapping[str, bool],
    retention: Retention | None = None,
) -> list[Command]:
    """Record consent per stream under a form version; the robot gets a `consent` command."""
    if participant.status is ParticipantStatus.WITHDRAWN:
        raise ConflictError(
            both(
                f"참여자 {participant.code}은(는) 참여를 철회했습니다. 다시 등록하세요",
                f"participant {participant.code} has withdrawn; enrol them again",
            )
        )
    form = consent_form(session, participant.study_id, form_version)
    asked = set(form.streams)
    wanted = _streams(streams.keys())
    outside = sorted(s.value for s in wanted if s.value not in asked)
    if outside:
        raise InvalidInputError(
            both(
                f"동의서 {form_version!r}은(는) {', '.join(outside)}을(를) 묻지 않습니다",
                f"consent form {form_version!r} does not ask for {', '.join(outside)}",
            )
        )
    for stream in sorted(wanted):
        session.add(
            ConsentRecord(
                participant_id=participant.id,
                stream=stream.value,
                granted=bool(streams[stream.value]),
                form_version=form_version,
                at=now,
                actor=principal.actor[:100],
            )
        )
    if retention is not None:
        participant.retention = retention
    session.flush()
    ident = identity_of(session, participant)
    granted = ",".join(sorted(s.value for s in wanted if streams[s.value])) or "none"
    audit(
        session,
        principal,
        "consent",
        "participant",
        now,
        resource_id=participant.code,
        senior_id=ident.senior_id,
        detail=f"form={form_version} granted={granted} retention={participant.retention.value}",
    )
    current = consent_state(session, [participant.id])[participant.id]
    payload = ConsentCommandPayload(
        study_id=participant.study_id, form_version=form_version, streams=current
    )
    schedule = screening_schedule(session, participant, enabled=current[DataStream.SCREENING])
    commands = _commands(session, participant, CommandType.CONSENT, payload, now)
    commands += _commands(session, participant, CommandType.SCHEDULE, schedule, now)
    audit(
        session,
        principal,
        "command",
        "participant",
        now,
        resource_id=participant.code,
        senior_id=ident.senior_id,
        detail=f"consent + schedule ({len(schedule.screenings or [])} screenings) commands",
    )
    return commands


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What a withdrawal did: rows deleted, and the commands for the robot."""

    participant_code: str
    retention: Retention
    assessments_deleted: int
    metric_days_deleted: int
    commands: list[Command]


def withdraw(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    participant: Participant,
    reason: str = "participant request",
) -> Withdrawal:
    """Stop collection, delete or keep the data as consented, tell the robot to purge; audited."""
    if participant.status is ParticipantStatus.WITHDRAWN:
        raise ConflictError(
            both(
                f"참여자 {participant.code}은(는) 이미 참여를 철회했습니다",
                f"participant {participant.code} has already withdrawn",
            )
        )
    ident = identity_of(session, participant)
    participant.status = ParticipantStatus.WITHDRAWN
    participant.withdrawn_at = now
    last_form = session.scalar(
        select(ConsentRecord.form_version)
        .where(ConsentRecord.participant_id == participant.id)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    form_version = last_form or "withdrawal"
    for stream in DataStream:
        session.add(
            ConsentRecord(
                participant_id=participant.id,
                stream=stream.value,
                granted=False,
                form_version=form_version,
                at=now,
                actor=principal.actor[:100],
            )
        )
    audit(
        session,
        principal,
        "withdraw",
        "participant",
        now,
        resource_id=participant.code,
        senior_id=ident.senior_id,
        detail=f"reason={reason[:200]}",
    )
    n_assess = n_days = 0
    if participant.retention is Retention.DELETE:
        n_assess = _delete_count(
            session, delete(Assessment).where(Assessment.participant_id == participant.id)
        )
        n_days = _delete_count(
            session, delete(DailyMetric).where(DailyMetric.participant_id == participant.id)
        )
        participant.birth_year = None
        participant.sex = None
        participant.region = None
        action, detail = "delete_data", f"assessments={n_assess} metric_days={n_days}"
    else:
        action, detail = "retain_data", "data collected before withdrawal kept as consented"
    audit(
        session,
        principal,
        action,
        "participant",
        now,
        resource_id=participant.code,
        senior_id=ident.senior_id,
        detail=detail,
    )
    consent = ConsentCommandPayload(
        study_id=participant.study_id,
        form_version=form_version,
        streams=dict.fromkeys(DataStream, False),
    )
    deletion = DataDeletionPayload(
        study_id=participant.study_id, streams=list(DataStream), transcripts=True
    )
    commands = (
        _commands(session, participant, CommandType.CONSENT, consent, now)
        + _commands(
            session,
            participant,
            CommandType.SCHEDULE,
            screening_schedule(session, participant, enabled=False),
            now,
        )
        + _commands(session, participant, CommandType.DATA_DELETION, deletion, now)
    )
    audit(
        session,
        principal,
        "command",
        "participant",
        now,
        resource_id=participant.code,
        senior_id=ident.senior_id,
        detail=f"consent + schedule + data_deletion commands to {len(commands) // 3} robot(s)",
    )
    session.flush()
    return Withdrawal(participant.code, participant.retention, n_assess, n_days, commands)


def _delete_count(session: Session, stmt: object) -> int:
    result = session.execute(stmt)  # type: ignore[call-overload]
    return int(getattr(result, "rowcount", 0) or 0)


def send_commands(publisher: "CommandPublisher | None", commands: Sequence[Command]) -> int:
    """Publish commands after the commit; a failure is logged (the robot gets the next change)."""
    sent = 0
    for command in commands:
        if publisher is None:
            break
        try:
            publisher.publish_command(command.device_id, command)
            sent += 1
        except CloudError as e:
            log.error("%s command not sent to %s: %s", command.type, command.device_id, e)
    return sent
