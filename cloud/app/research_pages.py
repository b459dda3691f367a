"""/app/research: the researcher's pages - studies, a new study with its arms, a study (arms,
time points, consent forms, enrolment per arm, consent per stream, completeness, daily-metric
charts), publishing a consent form, a participant (consent, withdrawal, and for study staff the
identity), the study report, de-identified exports with their disclosure report, and the CSV
import of assessments.

Everything goes through the research API's own handlers (`cloud.api.routers.research`: the
same checks and audit rows) or the service functions they use; the roles are the API's:
researchers read pseudonymous data only, study staff (admin, coordinator) create studies,
publish consent forms, enrol, record consent and withdrawals, import and see identities.
Caregivers and installers get a 403 page, audited.
"""

import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from cloud.accounts.access import Principal
from cloud.accounts.audit import audit
from cloud.accounts.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.api.routers import research as research_api
from cloud.app.charts import bar_chart
from cloud.app.i18n import message, number
from cloud.app.pages import _Denied, _deny, _login_redirect, denial_principal, signed_in_as
from cloud.app.trends import day_chart
from cloud.app.web import (
    PREFIX,
    context,
    csrf_ok,
    language,
    read_form,
    render,
    secure_response,
)
from cloud.errors import both
from cloud.research import studies
from cloud.store.models import (
    Assessment,
    DailyMetric,
    Participant,
    ParticipantStatus,
    Retention,
    Senior,
)
from protocol.bilingual import in_language
from protocol.consent import DataStream

log = logging.getLogger(__name__)
router = APIRouter(prefix=f"{PREFIX}/research", include_in_schema=False)

CHART_DAYS = 28
# Daily metrics a study page charts: column, message key, how a stored value is shown, peak.
METRICS: dict[str, tuple[str, float, float | None]] = {
    "talk_minutes": ("rs_m_talk_minutes", 1.0, None),
    "present_minutes": ("rs_m_present_minutes", 1.0, None),
    "reminder_adherence": ("rs_m_reminder_adherence", 100.0, 100.0),  # stored 0..1
    "mood_valence": ("rs_m_mood", 50.0, 100.0),  # stored -1..1, shown (v + 1) * 50
    "hours_with_data": ("rs_m_hours_with_data", 1.0, 24.0),
}
_RETENTIONS = {r.value: r for r in Retention}
UPLOAD_OVERHEAD = 16 * 1024  # multipart boundaries and the CSRF field around the file


# --- who may do what -----------------------------------------------------------------------------


def _reader(request: Request) -> Principal | None:
    """The signed-in caller if they may read studies; _Denied (403) for other roles."""
    return signed_in_as(request, research_api.READERS, "rs_not_allowed")


def _is_staff(principal: Principal) -> bool:
    return principal.role in research_api.STAFF


def _staff(principal: Principal) -> None:
    """Study staff only (enrol, consent, import, identities), as the API's `Staff` dependency."""
    if not _is_staff(principal):
        raise _Denied(403, "rs_staff_only")


async def _staff_post(
    request: Request, act: Callable[[Principal, dict[str, str]], Response]
) -> Response:
    """A study staff's form POST: the form and its CSRF token first; then, in a worker thread,
    the caller signed in (else the login page) as study staff (else the refusal page), and
    `act` with the form; a refusal `act` raises (`_Denied`) is its page too."""
    form = await read_form(request)
    if form is None or not csrf_ok(request, form):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)

    def run() -> Response:
        try:
            principal = _reader(request)
            if principal is None:
                return _login_redirect(request)
            _staff(principal)
            return act(principal, form)
        except _Denied as denied:
            return _deny(request, denial_principal(request), denied)

    return await run_in_threadpool(run)


# --- completeness: due vs done per time point ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Completeness:
    """One time point and instrument: who is due it, who has it, who missed its window."""

    time_point: str
    day: int
    window_days: int
    instrument: str
    due: int
    done: int
    overdue: int

    @property
    def percent(self) -> float | None:
        """done / due in %, None when nobody is due yet."""
        return 100.0 * self.done / self.due if self.due else None


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def completeness(session: Session, study_id: str, now: datetime) -> list[Completeness]:
    """Per time point and instrument: active participants whose window has opened (due, in their
    own time zone), those with that instrument stored at that time point (done), and those whose
    window has closed without it (overdue, as the export's `n_missing` counts them)."""
    people = list(
        session.execute(
            select(Participant.id, Participant.enrolled_at, Participant.timezone).where(
                Participant.study_id == study_id,
                Participant.status != ParticipantStatus.WITHDRAWN,
            )
        )
    )
    day_now: dict[int, int] = {}
    for pid, enrolled, tz in people:
        zone = _zone(tz)
        enrolled = enrolled if enrolled.tzinfo else enrolled.replace(tzinfo=ZoneInfo("UTC"))
        day_now[pid] = (now.astimezone(zone).date() - enrolled.astimezone(zone).date()).days
    stored: set[tuple[int, str, str]] = set()
    if day_now:
        rows = session.execute(
            select(Assessment.participant_id, Assessment.instrument, Assessment.time_point)
            .join(Participant, Participant.id == Assessment.participant_id)
            .where(Participant.study_id == study_id, Assessment.time_point.is_not(None))
        )
        stored = {(pid, inst, str(tp)) for pid, inst, tp in rows}
    out: list[Completeness] = []
    for tp in studies.schedule_of(session, study_id):
        for instrument in tp.instruments:
            due = [pid for pid, d in day_now.items() if d >= tp.day]
            done = [pid for pid in due if (pid, instrument, tp.label) in stored]
            closed = [pid for pid in due if day_now[pid] > tp.day + tp.window_days]
            overdue = [pid for pid in closed if (pid, instrument, tp.label) not in stored]
            out.append(
                Completeness(
                    tp.label, tp.day, tp.window_days, instrument, len(due), len(done), len(overdue)
                )
            )
    return out


# --- daily metrics per arm -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArmSeries:
    """One arm's daily means of one metric (None: no participant had data that day)."""

    arm: str
    days: list[tuple[date, float | None]]
    n: list[int]


def metric_series(
    session: Session, study_id: str, metric: str, arms: Sequence[str], today: date
) -> list[ArmSeries]:
    """The last CHART_DAYS days of one metric: per day and arm, the mean over participants
    with a value and their number, computed in the database as the report's trends
    (`cloud.research.dataset.metric_trends`) are, for these days only."""
    _, scale, _ = METRICS[metric]
    first = today - timedelta(days=CHART_DAYS - 1)
    column = getattr(DailyMetric, metric)
    rows = session.execute(
        select(DailyMetric.day, Participant.arm, func.avg(column), func.count(column))
        .join(Participant, Participant.id == DailyMetric.participant_id)
        .where(
            Participant.study_id == study_id,
            DailyMetric.day >= first,
            DailyMetric.day <= today,
        )
        .group_by(DailyMetric.day, Participant.arm)
    )
    values: dict[tuple[str, date], tuple[float | None, int]] = {}
    for day, arm, mean, n in rows:
        shown = None
        if mean is not None:
            shown = (float(mean) + 1.0) * scale if metric == "mood_valence" else float(mean) * scale
        values[(str(arm), day)] = (shown, int(n))
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    out = []
    for arm in arms:
        got = [values.get((arm, d), (None, 0)) for d in days]
        pairs = [(d, g[0]) for d, g in zip(days, got, strict=True)]
        out.append(ArmSeries(arm, pairs, [g[1] for g in got]))
    return out


# --- studies ------------------------------------------------------------------------------------


@router.get("")
def studies_page(request: Request) -> Response:
    """Every study with its participants by status (the API's list, audited)."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        found = research_api.list_studies(context(request), principal)
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    values = {"studies": found, "staff": _is_staff(principal)}
    return render(request, "research_studies.html.j2", values, principal=principal)


# --- a new study with its arms (study staff, as the API's POST /research/studies) ----------------

ARM_ROWS = 6  # arm rows on the form (the form reader takes at most 20 fields; the API up to 8)
_NEW_DEFAULTS = {
    "timezone": "Asia/Seoul",
    "min_k": "5",
    "arm_code_1": "intervention",
    "arm_label_1": "Intervention",
    "arm_code_2": "control",
    "arm_label_2": "Control",
}
# The service's refusals (`cloud.research.studies.create_study`, English) as the page's messages.
_CREATE_ERRORS = (
    ("already exists", "rs_err_study_exists", "id"),
    ("timezone", "rs_err_timezone", "timezone"),
    ("two arms", "rs_err_arms", "arm_code_1"),
    ("arm ", "rs_err_arm_code", "arm_code_1"),
    ("title", "rs_err_title", "title"),
    ("study id", "rs_err_study_id", "id"),
    ("time point", "rs_err_rejected", "id"),
)
_CREATE_FIELDS = {
    "id": "rs_err_study_id",
    "title": "rs_err_title",
    "timezone": "rs_err_timezone",
    "min_k": "rs_err_min_k",
}


class _FormError(Exception):
    """A refused form: the message key and the field it is about."""

    def __init__(self, key: str, field: str) -> None:
        super().__init__(key)
        self.key = key
        self.field = field


def _new_study_page(
    request: Request,
    principal: Principal,
    form: Mapping[str, str],
    error: _FormError | None = None,
    status_code: int = 200,
) -> Response:
    values = {
        "form": dict(form),
        "arm_rows": range(1, ARM_ROWS + 1),
        "error_key": error.key if error else None,
        "error_field": error.field if error else None,
    }
    return render(
        request, "research_new.html.j2", values, status_code=status_code, principal=principal
    )


@router.get("/new")
def new_study_page(request: Request) -> Response:
    """The form for a new study with its arms (study staff)."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        _staff(principal)
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    return _new_study_page(request, principal, _NEW_DEFAULTS)


def _study_in(form: Mapping[str, str]) -> research_api.StudyIn:
    """The form as the API's body (its validation); _FormError names the first problem."""
    arms: list[dict[str, str]] = []
    for i in range(1, ARM_ROWS + 1):
        code = (form.get(f"arm_code_{i}") or "").strip()
        label = (form.get(f"arm_label_{i}") or "").strip()
        if not code and not label:
            continue
        if not code or not label:
            raise _FormError(
                "rs_err_arm_incomplete", f"arm_code_{i}" if not code else f"arm_label_{i}"
            )
        arms.append({"code": code, "label": label})
    min_k = (form.get("min_k") or "").strip()
    try:
        return research_api.StudyIn.model_validate(
            {
                "id": (form.get("id") or "").strip(),
                "title": (form.get("title") or "").strip(),
                "timezone": (form.get("timezone") or "").strip() or "Asia/Seoul",
                "min_k": int(min_k) if min_k.isdigit() and len(min_k) <= 4 else -1,
                "arms": arms,  # always given: the API's default arms never stand in for none
            }
        )
    except ValidationError as e:
        loc = next((err["loc"] for err in e.errors() if err["loc"]), ("id",))
        if loc[0] == "arms":
            if len(loc) >= 3 and isinstance(loc[1], int):
                row = f"arm_{'code' if loc[2] == 'code' else 'label'}_{loc[1] + 1}"
                key = "rs_err_arm_code" if loc[2] == "code" else "rs_err_arm_incomplete"
                raise _FormError(key, row) from None
            raise _FormError("rs_err_arms", "arm_code_1") from None
        field = str(loc[0])
        raise _FormError(_CREATE_FIELDS.get(field, "rs_err_rejected"), field) from None


@router.post("/new")
async def create_study(request: Request) -> Response:
    """Create a study with its arms and the default schedule (study staff), through the API's
    handler: the same validation, the service's rules and its audit row."""

    def act(principal: Principal, form: dict[str, str]) -> Response:
        shown = {k: v[:300] for k, v in form.items() if k != "csrf"}
        try:
            out = research_api.create_study(context(request), principal, _study_in(form))
        except _FormError as e:
            return _new_study_page(request, principal, shown, e, 422)
        except (ConflictError, InvalidInputError) as e:
            key, field = next(
                ((k, f) for needle, k, f in _CREATE_ERRORS if needle in str(e)),
                ("rs_err_rejected", "id"),
            )
            code = 409 if isinstance(e, ConflictError) else 422
            return _new_study_page(request, principal, shown, _FormError(key, field), code)
        url = f"{PREFIX}/research/studies/{out.id}?created=1"
        return secure_response(RedirectResponse(url, status_code=303), context(request))

    return await _staff_post(request, act)


@dataclass(frozen=True, slots=True)
class ArmCount:
    code: str
    label: str
    enrolled: int
    withdrawn: int

    @property
    def active(self) -> int:
        return self.enrolled - self.withdrawn


def _study_values(
    request: Request, principal: Principal, study_id: str, metric: str
) -> dict[str, Any]:
    """Everything the study page shows (read through the API's handlers: audited there)."""
    ctx = context(request)
    now = ctx.clock()
    try:
        study = research_api.read_study(ctx, principal, study_id)
        people = research_api.list_participants(ctx, principal, study_id)
    except NotFoundError:
        raise _Denied(404, "not_found") from None
    arms = [
        ArmCount(
            a.code,
            a.label,
            sum(1 for p in people if p.arm == a.code),
            sum(1 for p in people if p.arm == a.code and p.status == "withdrawn"),
        )
        for a in study.arms
    ]
    today = now.astimezone(_zone(study.timezone)).date()
    with ctx.sessions() as session, session.begin():
        done = completeness(session, study_id, now)
        series = metric_series(session, study_id, metric, [a.code for a in study.arms], today)
        audit(
            session,
            principal,
            "read",
            "daily_metric",
            now,
            resource_id=study_id,
            detail=f"app: completeness and {metric} per arm",
        )
    lang = language(request)
    charts = []
    for instrument in dict.fromkeys(c.instrument for c in done if c.due):
        title = f"{message(lang, 'rs_percent_done')} · {instrument}"
        bars = [(c.time_point, c.percent or 0.0) for c in done if c.instrument == instrument]
        charts.append((title, bar_chart(bars, title, peak=100.0)))
    return {
        "study": study,
        "people": people,
        "completeness_charts": charts,
        "arms": arms,
        "completeness": done,
        "series": series,
        "metric": metric,
        "metrics": METRICS,
        "chart_days": CHART_DAYS,
        "streams": [s.value for s in DataStream],
        "staff": _is_staff(principal),
        "chart": day_chart,
    }


def _study_page(
    request: Request,
    principal: Principal,
    study_id: str,
    metric: str = "talk_minutes",
    *,
    enrol_error: str | None = None,
    enrol_form: Mapping[str, str] | None = None,
    notice: tuple[str, dict[str, str]] | None = None,
    cf_error: str | None = None,
    cf_form: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    values = _study_values(request, principal, study_id, metric)
    values |= {
        "enrol_error": enrol_error,
        "form": dict(enrol_form or {}),
        "notice": notice,
        "cf_error": cf_error,
        "cf_form": dict(cf_form or {}),
    }
    return render(
        request, "research_study.html.j2", values, status_code=status_code, principal=principal
    )


@router.get("/studies/{study_id}")
def study_page(
    request: Request,
    study_id: str,
    metric: Annotated[str, Query()] = "talk_minutes",
    created: str | None = None,
    published: str | None = None,
) -> Response:
    """A study: arms with enrolment per arm, time points, consent forms, participants with
    their consent per stream, completeness and daily-metric charts; the staff's forms to
    enrol and to publish a consent form. `created`/`published` (after a redirect) show a notice."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        notice: tuple[str, dict[str, str]] | None = None
        if created == "1":
            notice = ("rs_study_created", {})
        elif published == "1":
            notice = ("rs_cf_published", {})
        return _study_page(
            request,
            principal,
            study_id[:64],
            metric if metric in METRICS else "talk_minutes",
            notice=notice,
        )
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)


# The service's refusals (`cloud.research.studies.enrol`, English) as the page's messages.
_ENROL_ERRORS = (
    ("is already enrolled in", "rs_err_already"),
    ("is closed to enrolment", "rs_err_closed"),
    ("has no arm", "rs_err_arm"),
    ("is not registered for", "rs_err_robot"),
    ("birth year", "rs_err_birth_year"),
    ("no senior with id", "rs_err_no_senior"),
)


def _enrol_error_key(text: str) -> str:
    for needle, key in _ENROL_ERRORS:
        if needle in text:
            return key
    return "rs_err_rejected"


@router.post("/studies/{study_id}/enrol")
async def enrol(request: Request, study_id: str) -> Response:
    """Enrol a senior (study staff): the API's handler makes the code and audits it."""
    study_id = study_id[:64]

    def act(principal: Principal, form: dict[str, str]) -> Response:
        ctx = context(request)
        fields = {k: (form.get(k) or "").strip() for k in research_api.EnrolIn.model_fields}
        try:
            body = research_api.EnrolIn.model_validate(
                {k: v for k, v in fields.items() if v or k in ("senior_id", "arm")}
            )
            out = research_api.enrol_participant(ctx, principal, study_id, body)
        except ValidationError as e:
            bad = {str(err["loc"][0]) for err in e.errors() if err["loc"]}
            key = "rs_err_birth_year" if "birth_year" in bad else "rs_err_rejected"
            return _study_page(
                request,
                principal,
                study_id,
                enrol_error=key,
                enrol_form=fields,
                status_code=422,
            )
        except NotFoundError as e:
            if "study" in str(e) and "senior" not in str(e):
                raise _Denied(404, "not_found") from None
            return _study_page(
                request,
                principal,
                study_id,
                enrol_error=_enrol_error_key(str(e)),
                enrol_form=fields,
                status_code=422,
            )
        except (ConflictError, InvalidInputError) as e:
            code = 409 if isinstance(e, ConflictError) else 422
            return _study_page(
                request,
                principal,
                study_id,
                enrol_error=_enrol_error_key(str(e)),
                enrol_form=fields,
                status_code=code,
            )
        url = f"{PREFIX}/research/studies/{study_id}/participants/{out.code}?enrolled=1"
        return secure_response(RedirectResponse(url, status_code=303), context(request))

    return await _staff_post(request, act)


# --- publishing a consent form (study staff, as the API's POST .../consent-forms) ----------------

_CF_FIELDS = {
    "version": "rs_err_cf_version",
    "streams": "rs_err_cf_streams",
    "summary": "rs_err_cf_summary",
}


@router.post("/studies/{study_id}/consent-forms")
async def publish_consent_form(request: Request, study_id: str) -> Response:
    """Publish a new consent form version asking for the streams ticked (study staff), through
    the API's handler: its validation, the service's rules (a version once, one stream at
    least) and its audit row."""
    study_id = study_id[:64]

    def act(principal: Principal, form: dict[str, str]) -> Response:
        ctx = context(request)
        shown = {
            "version": (form.get("version") or "").strip()[:64],
            "summary": (form.get("summary") or "")[:600],
        } | {f"stream_{s}": "1" for s in DataStream if form.get(f"stream_{s}") == "1"}
        error, code = None, 422
        try:
            body = research_api.ConsentFormIn.model_validate(
                {
                    "version": (form.get("version") or "").strip(),
                    "streams": [s for s in DataStream if form.get(f"stream_{s}") == "1"],
                    "summary": (form.get("summary") or "").strip(),
                }
            )
            research_api.add_consent_form(ctx, principal, study_id, body)
        except ValidationError as e:
            bad = next((str(err["loc"][0]) for err in e.errors() if err["loc"]), "version")
            error = _CF_FIELDS.get(bad, "rs_err_rejected")
        except NotFoundError:
            raise _Denied(404, "not_found") from None
        except ConflictError:
            error, code = "rs_err_cf_exists", 409
        except InvalidInputError as e:
            error = "rs_err_cf_streams" if "stream" in str(e) else "rs_err_cf_version"
        if error is not None:
            return _study_page(
                request, principal, study_id, cf_error=error, cf_form=shown, status_code=code
            )
        url = f"{PREFIX}/research/studies/{study_id}?published=1#h-forms"
        return secure_response(RedirectResponse(url, status_code=303), ctx)

    return await _staff_post(request, act)


# --- a participant: consent per stream, identity for staff -------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    senior_id: str
    name: str
    device_id: str | None


def _participant_values(
    request: Request, principal: Principal, study_id: str, code: str
) -> dict[str, Any]:
    ctx = context(request)
    try:
        study = research_api.read_study(ctx, principal, study_id)
        person = research_api.read_participant(ctx, principal, study_id, code)
        history = research_api.consent_history(ctx, principal, study_id, code)
        identity = None
        if _is_staff(principal):
            ident = research_api.read_identity(ctx, principal, study_id, code)  # audited
            with ctx.sessions() as session:
                senior = session.get(Senior, ident.senior_id)
                name = senior.display_name if senior is not None else ""
            identity = Identity(ident.senior_id, name, ident.device_id)
    except NotFoundError:
        raise _Denied(404, "not_found") from None
    return {
        "study": study,
        "p": person,
        "history": history,
        "identity": identity,
        "staff": _is_staff(principal),
        "streams": [s.value for s in DataStream],
        "retentions": [r.value for r in Retention],
        "notice": None,
        "error_key": None,
        "withdraw_error": None,
        "reason": "",
    }


@router.get("/studies/{study_id}/participants/{code}")
def participant_page(
    request: Request, study_id: str, code: str, enrolled: str | None = None
) -> Response:
    """A participant by code: consent per stream and its history; identity for study staff."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        values = _participant_values(request, principal, study_id[:64], code[:16])
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    if enrolled == "1":
        values["notice"] = ("rs_enrolled_done", {"code": values["p"].code})
    return render(request, "research_participant.html.j2", values, principal=principal)


def _participant_page(
    request: Request,
    principal: Principal,
    study_id: str,
    code: str,
    status_code: int,
    **outcome: Any,
) -> Response:
    """The participant's page after a staff form: its values, with the form's outcome (notice,
    error keys, what to show again) over the defaults."""
    values = _participant_values(request, principal, study_id, code) | outcome
    return render(
        request,
        "research_participant.html.j2",
        values,
        status_code=status_code,
        principal=principal,
    )


@router.post("/studies/{study_id}/participants/{code}/consent")
async def record_consent(request: Request, study_id: str, code: str) -> Response:
    """Record consent per stream under a form version (study staff); the robot is told."""
    study_id, code = study_id[:64], code[:16]

    def act(principal: Principal, form: dict[str, str]) -> Response:
        ctx = context(request)
        version = (form.get("form_version") or "").strip()
        status_code, notice, error_key = 200, None, None
        try:
            study = research_api.read_study(ctx, principal, study_id)
            asked = next((f.streams for f in study.consent_forms if f.version == version), None)
            if asked is None:
                raise InvalidInputError(
                    both("그런 동의서 버전이 없습니다", "no such consent form version")
                )
            retention = form.get("retention") or ""
            body = research_api.ConsentIn(
                form_version=version,
                streams={DataStream(s): form.get(f"stream_{s}") == "1" for s in asked},
                retention=Retention(retention)
                if retention in {r.value for r in Retention}
                else None,
            )
            out = research_api.set_consent(ctx, principal, study_id, code, body)
            notice = (
                "rs_consent_done",
                {"sent": out.commands_published, "n": out.commands},
            )
        except NotFoundError:
            raise _Denied(404, "not_found") from None
        except ConflictError:
            status_code, error_key = 409, "rs_err_withdrawn"
        except (InvalidInputError, ValidationError, ValueError):
            status_code, error_key = 422, "rs_err_form"
        return _participant_page(
            request, principal, study_id, code, status_code, notice=notice, error_key=error_key
        )

    return await _staff_post(request, act)


@router.post("/studies/{study_id}/participants/{code}/withdraw")
async def withdraw(request: Request, study_id: str, code: str) -> Response:
    """Withdraw a participant (study staff), through the API's handler: collection stops, their
    data are deleted or kept as their consent says, the robot is told to purge; audited. The
    form asks for a ticked confirmation; a second withdrawal is refused (409)."""
    study_id, code = study_id[:64], code[:16]

    def act(principal: Principal, form: dict[str, str]) -> Response:
        ctx = context(request)
        reason = (form.get("reason") or "").strip()
        status_code, notice, error_key, withdraw_error = 200, None, None, None
        try:
            body = research_api.WithdrawIn.model_validate({"reason": reason} if reason else {})
            if form.get("confirm") != "1":
                withdraw_error, status_code = "rs_err_confirm", 422
            else:
                out = research_api.withdraw(ctx, principal, study_id, code, body)
                sent = {"sent": str(out.commands_published), "n": str(out.commands)}
                if out.participant.retention == Retention.DELETE.value:
                    notice = (
                        "rs_withdrawn_deleted",
                        sent
                        | {
                            "assessments": str(out.assessments_deleted),
                            "days": str(out.metric_days_deleted),
                        },
                    )
                else:
                    notice = ("rs_withdrawn_kept", sent)
        except ValidationError:
            withdraw_error, status_code = "rs_err_reason", 422
        except NotFoundError:
            raise _Denied(404, "not_found") from None
        except ConflictError:
            error_key, status_code = "rs_err_already_withdrawn", 409
        return _participant_page(
            request,
            principal,
            study_id,
            code,
            status_code,
            notice=notice,
            error_key=error_key,
            withdraw_error=withdraw_error,
            reason=reason[:300] if withdraw_error else "",
        )

    return await _staff_post(request, act)


# --- the study report ---------------------------------------------------------------------------

REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'; sandbox"
)


@router.get("/studies/{study_id}/report")
def report(request: Request, study_id: str) -> Response:
    """The study report, as `dolbom research report` makes it (the API's handler: audited).
    Self-contained HTML with its own inline style and SVG plots as data URIs: served with a
    CSP that allows those and nothing else (no script, sandboxed)."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        try:
            page = research_api.report(context(request), principal, study_id[:64])
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    page.headers["Content-Security-Policy"] = REPORT_CSP
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "same-origin"
    page.headers["Cache-Control"] = "no-store"
    return page


# --- exports and their disclosure report ----------------------------------------------------------

Format = Literal["csv", "parquet"]


def _export_args(k: str | None, fmt: str, lowest: int) -> tuple[int | None, Format, str | None]:
    """k and format from the query: (k or None when not given, format, an error key)."""
    form: Format = "parquet" if fmt == "parquet" else "csv"
    if fmt not in ("csv", "parquet"):
        return None, form, "rs_bad_format"
    if k is None:
        return None, form, None
    text = k.strip()
    if not text.isdigit() or len(text) > 4 or not lowest <= int(text) <= 1000:
        return None, form, "rs_bad_k"
    return int(text), form, None


def _min_k(study_min_k: int) -> int:
    from cloud.research.deid import DEFAULT_K

    return max(DEFAULT_K, study_min_k)


@router.get("/studies/{study_id}/export")
def export_page(
    request: Request,
    study_id: str,
    k: Annotated[str | None, Query()] = None,
    format: Annotated[str, Query()] = "csv",
) -> Response:
    """The export form; with `k`, the disclosure report the download would carry (built the
    same way, audited as a read of the study's disclosure report). A bad `k` or format is
    shown on the page (422), not answered with the API's JSON."""
    from cloud.research.deid import DeidError, KAnonymityError
    from cloud.research.export import build_export

    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        ctx = context(request)
        try:
            study = research_api.read_study(ctx, principal, study_id[:64])
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    lowest = _min_k(study.min_k)
    chosen, fmt, error_key = _export_args(k, format, lowest)
    values: dict[str, Any] = {
        "study": study,
        "k": chosen if chosen is not None else lowest,
        "lowest": lowest,
        "format": fmt,
        "disclosure": None,
        "refused": None,
        "error_key": error_key,
    }
    code = 200
    if error_key is not None:
        code = 422
    elif chosen is not None:
        now = ctx.clock()
        with ctx.sessions() as session, session.begin():
            try:
                values["disclosure"] = build_export(session, study.id, now, k=chosen).disclosure
            except KAnonymityError as e:
                values["refused"], code = str(e), 409
            except DeidError as e:
                values["refused"], code = str(e), 422
        with ctx.sessions() as session, session.begin():
            audit(
                session,
                principal,
                "read",
                "disclosure",
                now,
                resource_id=study.id,
                detail=f"app: export preview k={chosen} refused={values['refused'] is not None}",
            )
    return render(request, "research_export.html.j2", values, status_code=code, principal=principal)


@router.get("/studies/{study_id}/export.zip")
def export_download(
    request: Request,
    study_id: str,
    k: Annotated[str | None, Query()] = None,
    format: Annotated[str, Query()] = "csv",
) -> Response:
    """The de-identified zip, from the API's handler (audited as `export` or `export_refused`)."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        ctx = context(request)
        try:
            study = research_api.read_study(ctx, principal, study_id[:64])
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    lowest = _min_k(study.min_k)
    chosen, fmt, error_key = _export_args(k or str(lowest), format, lowest)
    values: dict[str, Any] = {
        "study": study,
        "k": chosen if chosen is not None else lowest,
        "lowest": lowest,
        "format": fmt,
        "disclosure": None,
        "refused": None,
        "error_key": error_key,
    }
    if error_key is not None or chosen is None:
        return render(
            request, "research_export.html.j2", values, status_code=422, principal=principal
        )
    try:
        return secure_response(research_api.export(ctx, principal, study.id, fmt, chosen), ctx)
    except (ConflictError, InvalidInputError) as e:
        values["refused"] = str(e)
        code = 409 if isinstance(e, ConflictError) else 422
        return render(
            request, "research_export.html.j2", values, status_code=code, principal=principal
        )


# --- CSV import of assessments ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    column: str | None
    message: str


def _import_values(study: Any, **kw: Any) -> dict[str, Any]:
    from cloud.research.bulk_import import COLUMNS, MAX_BYTES

    return {
        "study": study,
        "columns": COLUMNS,
        "limit": MAX_BYTES,
        "result": None,
        "problems": [],
        "more": 0,
        "error_key": None,
    } | kw


@router.get("/studies/{study_id}/import")
def import_page(request: Request, study_id: str) -> Response:
    """The upload form (study staff)."""
    try:
        principal = _reader(request)
        if principal is None:
            return _login_redirect(request)
        _staff(principal)
        try:
            study = research_api.read_study(context(request), principal, study_id[:64])
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, denial_principal(request), denied)
    return render(request, "research_import.html.j2", _import_values(study), principal=principal)


async def _read_upload(request: Request, limit: int) -> bytes | None:
    """The request body up to `limit` bytes; None when it is larger (never read further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def _parse_upload(request: Request, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The text fields and the one file of a multipart form (python-multipart via Starlette)."""

    async def stream() -> AsyncGenerator[bytes]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=4)
    form = await parser.parse()
    fields: dict[str, str] = {}
    data: bytes | None = None
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name == "file" and value.filename:
                    data = await value.read()
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields, data


@router.post("/studies/{study_id}/import")
async def import_upload(request: Request, study_id: str) -> Response:
    """Import assessments from an uploaded CSV (study staff), all or nothing, with
    `cloud.research.bulk_import` as the API's import does; its errors name line and column."""
    from cloud.research.bulk_import import MAX_BYTES, ImportRefused, import_assessments_csv

    study_id = study_id[:64]
    lang = language(request)
    try:
        principal = await run_in_threadpool(_reader, request)
        if principal is None:
            return _login_redirect(request)
        _staff(principal)
    except _Denied as denied:
        return await run_in_threadpool(_deny, request, denial_principal(request), denied)
    ctx = context(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)
    body = await _read_upload(request, MAX_BYTES + UPLOAD_OVERHEAD)
    try:
        study = await run_in_threadpool(research_api.read_study, ctx, principal, study_id)
    except NotFoundError:
        return await run_in_threadpool(_deny, request, principal, _Denied(404, "not_found"))
    if body is None:
        limit = number(MAX_BYTES, language(request))  # '1,048,576' as Babel groups it
        values = _import_values(study, error_key=("rs_too_large", {"limit": limit}))
        return render(
            request, "research_import.html.j2", values, status_code=413, principal=principal
        )
    try:
        fields, data = await _parse_upload(request, body)
    except MultiPartException:
        values = _import_values(study, error_key=("rs_bad_upload", {}))
        return render(
            request, "research_import.html.j2", values, status_code=400, principal=principal
        )
    if not csrf_ok(request, fields):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)
    if not data:
        values = _import_values(study, error_key=("rs_no_file", {}))
        return render(
            request, "research_import.html.j2", values, status_code=422, principal=principal
        )

    def run() -> Response:
        now = ctx.clock()
        try:
            with ctx.sessions() as session, session.begin():
                studies.get_study(session, study_id)
                result = import_assessments_csv(session, study_id, data, now=now)
                audit(
                    session,
                    principal,
                    "import",
                    "assessment",
                    now,
                    resource_id=study_id,
                    detail=f"app: rows={result.rows} total_only={result.total_only}",
                )
        except ImportRefused as refused:
            problems = [
                ImportProblem(e.line, e.column, in_language(e.message, lang))
                for e in refused.errors
            ]
            shown = len(problems)
            more = _more(str(refused), shown)
            with ctx.sessions() as session, session.begin():
                audit(
                    session,
                    principal,
                    "import_refused",
                    "assessment",
                    now,
                    resource_id=study_id,
                    detail=f"app: {shown + more} problems",
                )
            values = _import_values(study, problems=problems, more=more)
            return render(
                request, "research_import.html.j2", values, status_code=422, principal=principal
            )
        values = _import_values(study, result=result)
        return render(request, "research_import.html.j2", values, principal=principal)

    return await run_in_threadpool(run)


def _more(text: str, shown: int) -> int:
    """How many problems the refusal counted beyond those it listed ("and N more")."""
    marker = "/ and "
    at = text.rfind(marker)
    if at < 0:
        return 0
    words = text[at + len(marker) :].split()
    return int(words[0]) if words and words[0].isdigit() else 0
