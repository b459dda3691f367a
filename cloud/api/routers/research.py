"""/research: pilot studies for coordinators (who may see identities) and researchers (never).

Researchers read pseudonymous data only: codes, arms, consent, assessments, daily metrics,
statistics, the report and de-identified exports. Study staff (admin, coordinator) create
studies, enrol seniors, record consent and withdrawals, and enter assessments; only they can
read the identity behind a code, and every such read is audited.
"""

import io
import logging
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.accounts.audit import audit
from cloud.accounts.errors import ConflictError, InvalidInputError
from cloud.api.deps import Caller, Ctx, roles
from cloud.errors import both
from cloud.research import studies
from cloud.research.instruments import record_assessment
from cloud.store.models import (
    Assessment,
    AssessmentSource,
    ConsentForm,
    DailyMetric,
    Participant,
    Retention,
    Role,
    Study,
)
from protocol.consent import DataStream
from protocol.instruments import INSTRUMENTS

log = logging.getLogger(__name__)

STAFF = (Role.ADMIN, Role.COORDINATOR)
READERS = (Role.ADMIN, Role.COORDINATOR, Role.RESEARCHER)
router = APIRouter(prefix="/research", tags=["research"], dependencies=[Depends(roles(*READERS))])
Staff = [Depends(roles(*STAFF))]

_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_LABEL = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_CODE = r"^P-[0-9A-Z]{6}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArmIn(_In):
    code: str = Field(pattern=_LABEL)
    label: str = Field(min_length=1, max_length=100)


class TimePointIn(_In):
    label: str = Field(pattern=_LABEL)
    day: int = Field(ge=0, le=3650)
    window_days: int = Field(default=7, ge=0, le=365)
    instruments: list[str] = Field(min_length=1, max_length=8)


class StudyIn(_In):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="Asia/Seoul", max_length=64)
    min_k: int = Field(default=5, ge=5, le=100)
    arms: list[ArmIn] = Field(
        default_factory=lambda: [
            ArmIn(code="intervention", label="Intervention"),
            ArmIn(code="control", label="Control"),
        ],
        min_length=2,
        max_length=8,
    )
    schedule: list[TimePointIn] | None = Field(default=None, max_length=32)


class TimePointOut(BaseModel):
    label: str
    day: int
    window_days: int
    instruments: list[str]


class ConsentFormIn(_In):
    version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    streams: list[DataStream] = Field(min_length=1, max_length=len(DataStream))
    summary: str = Field(default="", max_length=500)


class ConsentFormOut(BaseModel):
    version: str
    streams: list[str]
    summary: str
    published_at: datetime


class StudyOut(BaseModel):
    id: str
    title: str
    timezone: str
    min_k: int
    closed: bool
    arms: list[ArmIn]
    schedule: list[TimePointOut]
    consent_forms: list[ConsentFormOut]
    participants: dict[str, int]


class EnrolIn(_In):
    senior_id: str = Field(min_length=1, max_length=64)
    arm: str = Field(pattern=_LABEL)
    device_id: str | None = Field(default=None, max_length=64)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    sex: Literal["f", "m", "x"] | None = None
    region: str | None = Field(default=None, max_length=100)


class ParticipantOut(BaseModel):
    """A participant as researchers see them: a code, never who."""

    code: str
    arm: str
    status: str
    retention: str
    enrolled_at: datetime
    withdrawn_at: datetime | None
    consent: dict[str, bool]


class IdentityOut(BaseModel):
    """Who a code is: study staff only."""

    code: str
    senior_id: str
    device_id: str | None


class ConsentIn(_In):
    form_version: str = Field(min_length=1, max_length=32)
    streams: dict[DataStream, bool] = Field(min_length=1)
    retention: Retention | None = None


class ConsentRecordOut(BaseModel):
    stream: str
    granted: bool
    form_version: str
    at: datetime


class CommandsOut(BaseModel):
    participant: ParticipantOut
    commands: int
    commands_published: int


class WithdrawIn(_In):
    reason: str = Field(default="participant request", max_length=200)


class WithdrawOut(CommandsOut):
    assessments_deleted: int
    metric_days_deleted: int


class AssessmentIn(_In):
    instrument: str = Field(min_length=1, max_length=32)
    answers: list[int | None] = Field(min_length=1, max_length=64)
    administered_at: AwareDatetime
    time_point: str | None = Field(default=None, pattern=_LABEL)


class AssessmentOut(BaseModel):
    id: int
    participant: str
    instrument: str
    time_point: str | None
    answers: list[int | None]
    score: float | None
    complete: bool
    prorated: bool
    band: str | None
    flags: list[str]
    source: str
    administered_at: datetime


class MetricOut(BaseModel):
    participant: str
    day: date
    talk_minutes: float | None
    turns: int | None
    touches: int | None
    mood_shares: dict[str, Any] | None
    mood_valence: float | None
    mood_arousal: float | None
    activity_minutes: dict[str, Any] | None
    present_minutes: float | None
    reminder_adherence: float | None
    alerts: dict[str, Any] | None
    device_up_hours: int
    hours_with_data: int
    model_versions: dict[str, Any]


class MetricPage(BaseModel):
    items: list[MetricOut]
    total: int
    limit: int
    offset: int


def _participant_out(session: Session, p: Participant) -> ParticipantOut:
    consent = studies.consent_state(session, [p.id])[p.id]
    return ParticipantOut(
        code=p.code,
        arm=p.arm,
        status=p.status.value,
        retention=p.retention.value,
        enrolled_at=p.enrolled_at,
        withdrawn_at=p.withdrawn_at,
        consent={s.value: v for s, v in consent.items()},
    )


def _study_out(session: Session, study: Study) -> StudyOut:
    forms = session.scalars(
        select(ConsentForm).where(ConsentForm.study_id == study.id).order_by(ConsentForm.id)
    )
    counts = dict(
        session.execute(
            select(Participant.status, func.count())
            .where(Participant.study_id == study.id)
            .group_by(Participant.status)
        ).all()
    )
    return StudyOut(
        id=study.id,
        title=study.title,
        timezone=study.timezone,
        min_k=study.min_k,
        closed=study.closed,
        arms=[ArmIn(code=a.code, label=a.label) for a in studies.arms_of(session, study.id)],
        schedule=[
            TimePointOut(
                label=t.label, day=t.day, window_days=t.window_days, instruments=t.instruments
            )
            for t in studies.schedule_of(session, study.id)
        ],
        consent_forms=[
            ConsentFormOut(
                version=f.version, streams=f.streams, summary=f.summary, published_at=f.published_at
            )
            for f in forms
        ],
        participants={
            str(k.value if hasattr(k, "value") else k): int(v) for k, v in counts.items()
        },
    )


def _assessment_out(a: Assessment, code: str) -> AssessmentOut:
    return AssessmentOut(
        id=a.id,
        participant=code,
        instrument=a.instrument,
        time_point=a.time_point,
        answers=list(a.answers),
        score=a.score,
        complete=a.complete,
        prorated=a.prorated,
        band=a.band,
        flags=[str(f) for f in a.flags],
        source=a.source.value,
        administered_at=a.administered_at,
    )


@router.get("/instruments")
def list_instruments() -> list[dict[str, Any]]:
    """The instruments, their items (Korean and English), response codes and scoring bands."""
    return [
        {
            "id": i.id.value,
            "name": i.name,
            "citation": i.citation,
            "items": [
                {"number": it.number, "ko": it.ko, "en": it.en, "reverse": it.reverse}
                for it in i.items
            ],
            "options": [{"code": o.code, "ko": o.ko, "en": o.en} for o in i.options],
            "range": [i.min_score, i.max_score],
            "positive_at": i.positive_at,
            "bands": [{"low": b.low, "high": b.high, "code": b.code, "en": b.en} for b in i.bands],
            "max_missing_prorated": i.max_missing_prorated,
        }
        for i in INSTRUMENTS.values()
    ]


@router.get("/studies")
def list_studies(ctx: Ctx, caller: Caller) -> list[StudyOut]:
    """Every study with arms, schedule, consent forms and participant counts."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        out = [_study_out(session, s) for s in session.scalars(select(Study).order_by(Study.id))]
        audit(session, caller, "read", "study", now, detail="list")
        return out


@router.post("/studies", status_code=201, dependencies=Staff)
def create_study(ctx: Ctx, caller: Caller, body: StudyIn) -> StudyOut:
    """A new study with its arms and assessment schedule (default: baseline, week 4, week 8)."""
    now = ctx.clock()
    schedule = (
        None
        if body.schedule is None
        else [
            studies.TimePointSpec(t.label, t.day, tuple(t.instruments), t.window_days)
            for t in body.schedule
        ]
    )
    with ctx.sessions() as session, session.begin():
        study = studies.create_study(
            session,
            caller,
            now,
            study_id=body.id,
            title=body.title,
            timezone=body.timezone,
            min_k=body.min_k,
            arms=[(a.code, a.label) for a in body.arms],
            schedule=schedule,
        )
        session.flush()
        return _study_out(session, study)


@router.get("/studies/{study_id}")
def read_study(ctx: Ctx, caller: Caller, study_id: str) -> StudyOut:
    """One study."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        out = _study_out(session, studies.get_study(session, study_id))
        audit(session, caller, "read", "study", now, resource_id=study_id)
        return out


@router.post("/studies/{study_id}/consent-forms", status_code=201, dependencies=Staff)
def add_consent_form(
    ctx: Ctx, caller: Caller, study_id: str, body: ConsentFormIn
) -> ConsentFormOut:
    """Publish a new consent form version."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        form = studies.publish_consent_form(
            session,
            caller,
            now,
            study_id=study_id,
            version=body.version,
            streams=[s.value for s in body.streams],
            summary=body.summary,
        )
        return ConsentFormOut(
            version=form.version,
            streams=form.streams,
            summary=form.summary,
            published_at=form.published_at,
        )


@router.get("/studies/{study_id}/participants")
def list_participants(ctx: Ctx, caller: Caller, study_id: str) -> list[ParticipantOut]:
    """The study's participants by code, with status and current consent per stream."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        studies.get_study(session, study_id)
        rows = list(
            session.scalars(
                select(Participant).where(Participant.study_id == study_id).order_by(Participant.id)
            )
        )
        state = studies.consent_state(session, [p.id for p in rows])
        out = [
            ParticipantOut(
                code=p.code,
                arm=p.arm,
                status=p.status.value,
                retention=p.retention.value,
                enrolled_at=p.enrolled_at,
                withdrawn_at=p.withdrawn_at,
                consent={s.value: v for s, v in state[p.id].items()},
            )
            for p in rows
        ]
        audit(session, caller, "read", "participant", now, resource_id=study_id)
        return out


@router.post("/studies/{study_id}/participants", status_code=201, dependencies=Staff)
def enrol_participant(ctx: Ctx, caller: Caller, study_id: str, body: EnrolIn) -> ParticipantOut:
    """Enrol a senior under a new pseudonymous code (the identity stays with study staff)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        p = studies.enrol(
            session,
            caller,
            now,
            study_id=study_id,
            senior_id=body.senior_id,
            arm=body.arm,
            device_id=body.device_id,
            birth_year=body.birth_year,
            sex=body.sex,
            region=body.region,
        )
        return _participant_out(session, p)


@router.get("/studies/{study_id}/participants/{code}")
def read_participant(ctx: Ctx, caller: Caller, study_id: str, code: str) -> ParticipantOut:
    """One participant by code."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        p = studies.get_participant(session, study_id, code)
        audit(session, caller, "read", "participant", now, resource_id=code)
        return _participant_out(session, p)


@router.get("/studies/{study_id}/participants/{code}/identity", dependencies=Staff)
def read_identity(ctx: Ctx, caller: Caller, study_id: str, code: str) -> IdentityOut:
    """Who a code is (study staff only; audited against the senior)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        p = studies.get_participant(session, study_id, code)
        ident = studies.identity_of(session, p)
        audit(session, caller, "read", "identity", now, resource_id=code, senior_id=ident.senior_id)
        return IdentityOut(code=code, senior_id=ident.senior_id, device_id=ident.device_id)


@router.get("/studies/{study_id}/participants/{code}/consent")
def consent_history(ctx: Ctx, caller: Caller, study_id: str, code: str) -> list[ConsentRecordOut]:
    """Every consent record of the participant, oldest first."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        p = studies.get_participant(session, study_id, code)
        out = [
            ConsentRecordOut(
                stream=r.stream, granted=r.granted, form_version=r.form_version, at=r.at
            )
            for r in studies.consent_history(session, p)
        ]
        audit(session, caller, "read", "consent", now, resource_id=code)
        return out


@router.put("/studies/{study_id}/participants/{code}/consent", dependencies=Staff)
def set_consent(ctx: Ctx, caller: Caller, study_id: str, code: str, body: ConsentIn) -> CommandsOut:
    """Record consent per stream under a form version; the robot gets a `consent` command."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        p = studies.get_participant(session, study_id, code)
        commands = studies.set_consent(
            session,
            caller,
            now,
            participant=p,
            form_version=body.form_version,
            streams={s.value: v for s, v in body.streams.items()},
            retention=body.retention,
        )
        out = _participant_out(session, p)
    sent = studies.send_commands(ctx.publisher, commands)
    return CommandsOut(participant=out, commands=len(commands), commands_published=sent)


@router.post("/studies/{study_id}/participants/{code}/withdraw", dependencies=Staff)
def withdraw(
    ctx: Ctx, caller: Caller, study_id: str, code: str, body: WithdrawIn | None = None
) -> WithdrawOut:
    """Withdraw: collection stops, data deleted or kept as consented, the robot purges."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        p = studies.get_participant(session, study_id, code)
        result = studies.withdraw(
            session, caller, now, participant=p, reason=(body or WithdrawIn()).reason
        )
        out = _participant_out(session, p)
    sent = studies.send_commands(ctx.publisher, result.commands)
    return WithdrawOut(
        participant=out,
        commands=len(result.commands),
        commands_published=sent,
        assessments_deleted=result.assessments_deleted,
        metric_days_deleted=result.metric_days_deleted,
    )


@router.post(
    "/studies/{study_id}/participants/{code}/assessments", status_code=201, dependencies=Staff
)
def add_assessment(
    ctx: Ctx, caller: Caller, study_id: str, code: str, body: AssessmentIn
) -> AssessmentOut:
    """Enter an administered instrument; it is scored by the published key."""
    now = ctx.clock()
    if body.administered_at > now:
        raise InvalidInputError(
            both("administered_at이 미래 시각입니다", "administered_at is in the future")
        )
    with ctx.sessions() as session, session.begin():
        p = studies.get_participant(session, study_id, code)
        if p.status.value == "withdrawn":
            raise ConflictError(
                both(
                    f"참여자 {code}은(는) 참여를 철회했습니다. 새 자료는 모으지 않습니다",
                    f"participant {code} has withdrawn: no new data are collected",
                )
            )
        a = record_assessment(
            session,
            p,
            instrument=body.instrument,
            answers=body.answers,
            administered_at=body.administered_at,
            now=now,
            source=AssessmentSource.API,
            time_point=body.time_point,
        )
        audit(session, caller, "create", "assessment", now, resource_id=code)
        return _assessment_out(a, code)


class ImportOut(BaseModel):
    """What a CSV import stored (every row, or nothing and a 422 naming lines and columns)."""

    rows: int
    by_instrument: dict[str, int]
    total_only: int


@router.post(
    "/studies/{study_id}/assessments/import",
    status_code=201,
    dependencies=Staff,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_assessments(
    request: Request, ctx: Ctx, caller: Caller, study_id: str
) -> ImportOut:
    """Import assessments from a CSV file with their visit dates, all or nothing.

    Columns: participant, instrument, visit_date, time_point, item_1..item_15, total,
    total_reason (see docs/research.md). Study staff import (as they enter assessments one
    by one); researchers stay read-only. A bad row refuses the whole file (422).
    """
    from cloud.research.bulk_import import MAX_BYTES, import_assessments_csv

    data = await _read_body(request, MAX_BYTES)

    def run() -> ImportOut:
        now = ctx.clock()
        with ctx.sessions() as session, session.begin():
            studies.get_study(session, study_id)
            result = import_assessments_csv(session, study_id, data, now=now)
            audit(
                session,
                caller,
                "import",
                "assessment",
                now,
                resource_id=study_id,
                detail=f"rows={result.rows} total_only={result.total_only}",
            )
        return ImportOut(
            rows=result.rows, by_instrument=result.by_instrument, total_only=result.total_only
        )

    return await run_in_threadpool(run)


async def _read_body(request: Request, limit: int) -> bytes:
    too_big = both(
        f"파일이 너무 큽니다(최대 {limit:,}바이트)",
        f"the file is too large (at most {limit:,} bytes)",
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidInputError(too_big)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InvalidInputError(too_big)
    return bytes(data)


@router.get("/studies/{study_id}/assessments")
def list_assessments(
    ctx: Ctx,
    caller: Caller,
    study_id: str,
    instrument: Annotated[str | None, Query(max_length=32)] = None,
    participant: Annotated[str | None, Query(pattern=_CODE)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[AssessmentOut]:
    """Assessments by participant code (filters: instrument, participant)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        studies.get_study(session, study_id)
        q = (
            select(Assessment, Participant.code)
            .join(Participant, Participant.id == Assessment.participant_id)
            .where(Participant.study_id == study_id)
        )
        if instrument is not None:
            q = q.where(Assessment.instrument == instrument)
        if participant is not None:
            q = q.where(Participant.code == participant)
        rows = session.execute(q.order_by(Assessment.id).limit(limit).offset(offset)).all()
        audit(session, caller, "read", "assessment", now, resource_id=study_id)
        return [_assessment_out(a, code) for a, code in rows]


@router.get("/studies/{study_id}/metrics")
def list_metrics(
    ctx: Ctx,
    caller: Caller,
    study_id: str,
    participant: Annotated[str | None, Query(pattern=_CODE)] = None,
    since: date | None = None,
    until: date | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> MetricPage:
    """Daily metrics per participant code and day (NULL where not consented or no data)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        studies.get_study(session, study_id)
        where: list[Any] = [Participant.study_id == study_id]
        if participant is not None:
            where.append(Participant.code == participant)
        if since is not None:
            where.append(DailyMetric.day >= since)
        if until is not None:
            where.append(DailyMetric.day <= until)
        base = select(DailyMetric, Participant.code).join(
            Participant, Participant.id == DailyMetric.participant_id
        )
        total = (
            session.scalar(
                select(func.count())
                .select_from(DailyMetric)
                .join(Participant, Participant.id == DailyMetric.participant_id)
                .where(*where)
            )
            or 0
        )
        rows = session.execute(
            base.where(*where)
            .order_by(Participant.code, DailyMetric.day)
            .limit(limit)
            .offset(offset)
        ).all()
        items = [
            MetricOut(
                participant=code,
                day=m.day,
                talk_minutes=m.talk_minutes,
                turns=m.turns,
                touches=m.touches,
                mood_shares=m.mood_shares,
                mood_valence=m.mood_valence,
                mood_arousal=m.mood_arousal,
                activity_minutes=m.activity_minutes,
                present_minutes=m.present_minutes,
                reminder_adherence=m.reminder_adherence,
                alerts=m.alerts,
                device_up_hours=m.device_up_hours,
                hours_with_data=m.hours_with_data,
                model_versions=m.model_versions,
            )
            for m, code in rows
        ]
        audit(session, caller, "read", "daily_metric", now, resource_id=study_id)
    return MetricPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/studies/{study_id}/summary")
def summary(ctx: Ctx, caller: Caller, study_id: str) -> dict[str, Any]:
    """Statistics per instrument: descriptives, within/between-arm change, mixed model."""
    from cloud.research import analysis  # pandas, scipy, statsmodels: loaded on first use

    now = ctx.clock()
    with ctx.reports()() as session, session.begin():  # the replica, if set
        studies.get_study(session, study_id)
        who, results = analysis.summarise_study(session, study_id)
    with ctx.sessions() as session, session.begin():
        audit(session, caller, "read", "statistics", now, resource_id=study_id)
    return {
        "study_id": study_id,
        "enrolled": who.enrolled,
        "withdrawn": who.withdrawn,
        "analysed": len(who.arms),
        "instruments": [r.to_dict() for r in results],
    }


@router.get("/studies/{study_id}/report", response_class=HTMLResponse)
def report(ctx: Ctx, caller: Caller, study_id: str) -> HTMLResponse:
    """The study report: one self-contained HTML page with plots."""
    from cloud.research.reporting import build_report

    now = ctx.clock()
    with ctx.reports()() as session, session.begin():  # the replica, if set
        html = build_report(session, study_id, now)
    with ctx.sessions() as session, session.begin():
        audit(session, caller, "report", "study", now, resource_id=study_id)
    return HTMLResponse(html)


@router.get("/studies/{study_id}/export", response_class=Response)
def export(
    ctx: Ctx,
    caller: Caller,
    study_id: str,
    format: Literal["csv", "parquet"] = "csv",
    k: Annotated[int, Query(ge=2, le=1000)] = 5,
) -> Response:
    """A de-identified export as a zip: tables, data dictionary, disclosure report (409 with
    the reason when k-anonymity cannot be met)."""
    from cloud.research.deid import DeidError, KAnonymityError
    from cloud.research.export import build_export, write_export

    now = ctx.clock()
    refused: str | None = None
    with ctx.reports()() as session, session.begin():  # the replica, if set
        try:
            bundle = build_export(session, study_id, now, k=k)
        except KAnonymityError as e:
            refused = str(e)
        except DeidError as e:
            raise InvalidInputError(str(e)) from None
    if refused is not None:
        with ctx.sessions() as session, session.begin():
            audit(
                session,
                caller,
                "export_refused",
                "study",
                now,
                resource_id=study_id,
                detail=refused,
            )
        raise ConflictError(refused)
    with ctx.sessions() as session, session.begin():
        audit(
            session,
            caller,
            "export",
            "study",
            now,
            resource_id=study_id,
            detail=f"format={format} k={k} achieved={bundle.disclosure.k_achieved} "
            f"subjects={bundle.disclosure.subjects_out}",
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = write_export(bundle, Path(tmp) / "export", format)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in sorted(out.iterdir()):
                archive.write(f, f.name)
    name = f"{study_id}-{now:%Y%m%dT%H%M%SZ}-{format}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
