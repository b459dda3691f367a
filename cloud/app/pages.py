"""/app: the caregivers' pages - login, my seniors, a senior, an alert, the triage board."""

import csv
import io
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import (
    Principal,
    get_senior,
    senior_filter,
    staff_of,
    visible_seniors,
)
from cloud.accounts.audit import audit
from cloud.accounts.errors import AuthError, InvalidInputError, NotFoundError, RateLimitedError
from cloud.api.deps import CARE_ROLES, COOKIE_NAME, audit_denial, request_source
from cloud.api.routers import alerts as alerts_api
from cloud.api.routers import auth as auth_api
from cloud.api.routers.events import senior_events
from cloud.api.schemas import AckOut, AlertDetail, ResolveIn
from cloud.app import push
from cloud.app.charts import bar_chart, daily_activity
from cloud.app.i18n import LANG_COOKIE, LANGS, message
from cloud.app.status import SeniorStatus, among, statuses, triage
from cloud.app.web import (
    PREFIX,
    context,
    csrf_ok,
    language,
    read_form,
    render,
    secure_response,
    signed_in,
)
from cloud.errors import AlertNotFoundError, AlertStateError
from cloud.netpolicy import BlockedAddressError
from cloud.store.models import (
    Account,
    Alert,
    CaregiverLink,
    EscalationStep,
    Event,
    Organisation,
    OrganisationStaff,
    Role,
    Senior,
    StepStatus,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, include_in_schema=False)

TIMELINE_EVENTS = 50
BOARD_REFRESH_S = 15
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class _Denied(Exception):
    """A page the caller may not see: answered as a page, audited like the API's denials."""

    def __init__(self, code: int, key: str) -> None:
        super().__init__(key)
        self.code = code
        self.key = key


def _login_redirect(request: Request) -> Response:
    """To the login page; an htmx request (a poll, a tap) after the session ended gets the
    whole page sent there (HX-Redirect), not the login form swapped into a fragment."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": f"{PREFIX}/login"})
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


def signed_in_as(request: Request, allowed: Collection[Role], refusal: str) -> Principal | None:
    """The signed-in caller if their role is allowed (None: not signed in); _Denied (403, with
    the message key `refusal`) for other roles. Every page module's gate."""
    principal = signed_in(request)
    if principal is not None and principal.role not in allowed:
        raise _Denied(403, refusal)
    return principal


def denial_principal(request: Request) -> Principal | None:
    """Who a denial's audit names: the caller `signed_in` found (the cookie is not read again)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def _caller(request: Request) -> Principal | None:
    """The signed-in caller if they may use the app; _Denied (403) for other roles."""
    return signed_in_as(request, CARE_ROLES, "not_allowed")


def _deny(request: Request, principal: Principal | None, denied: _Denied) -> HTMLResponse:
    ctx = context(request)
    what = f"{request.method} {request.url.path}"[:300]
    with ctx.sessions() as session, session.begin():
        audit_denial(
            ctx, session, principal, request_source(ctx, request), f"http_{denied.code}", what
        )
    return render(
        request,
        "error.html.j2",
        {"message_key": denied.key},
        status_code=denied.code,
        principal=principal,
    )


def _safe_next(target: str | None) -> str:
    """Only a path inside the app (no scheme, no host, no '//'): never an open redirect."""
    if target and target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target[:300]
    return f"{PREFIX}/"


# --- login, logout, language ------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    """The login form (a signed-in caller goes straight to their seniors)."""
    if signed_in(request) is not None:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
    return render(request, "login.html.j2", {"error_key": None})


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Check the CSRF token, then log in exactly as POST /auth/login does (limits, audit)."""
    form = await read_form(request)
    if form is None or not csrf_ok(request, form):
        return render(request, "login.html.j2", {"error_key": "bad_form"}, status_code=403)
    ctx = context(request)
    scratch = Response()
    try:
        out = await auth_api.login(ctx, request, scratch)
    except RateLimitedError:
        return render(request, "login.html.j2", {"error_key": "rate_limited"}, status_code=429)
    except InvalidInputError:
        return render(request, "login.html.j2", {"error_key": "bad_form"}, status_code=422)
    except AuthError:
        return render(request, "login.html.j2", {"error_key": "bad_login"}, status_code=401)
    # installers have no seniors: they start at the robots
    start = "admin/robots" if out.role.value == "installer" else ""
    response = RedirectResponse(f"{PREFIX}/{start}", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        out.access_token,
        max_age=out.expires_in,
        httponly=True,
        secure=ctx.cookie_secure,
        samesite="strict",
    )
    return secure_response(response, ctx)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (the token is revoked as POST /auth/logout does)."""
    form = await read_form(request)
    ctx = context(request)
    if form is None or not csrf_ok(request, form):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    await run_in_threadpool(auth_api.logout, ctx, request, response, None)
    return secure_response(response, ctx)


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str | None = None) -> Response:
    """The language switch: remembered in a cookie for a year."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if code in LANGS:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 86_400,
            samesite="lax",
            secure=context(request).cookie_secure,
        )
    return secure_response(response, context(request))


# --- my seniors, a senior -----------------------------------------------------------------------


def _visible(request: Request, principal: Principal) -> list[SeniorStatus]:
    ctx = context(request)
    with ctx.sessions() as session, session.begin():
        return _visible_in(session, principal, ctx.clock())


def _visible_in(session: Session, principal: Principal, now: datetime) -> list[SeniorStatus]:
    """The caller's seniors with their status (RBAC as `visible_seniors`), audited."""
    visible = visible_seniors(session, principal)
    where = (
        senior_filter(Senior.id, visible)
        if visible is None or not visible
        else among(session, Senior.id, sorted(visible))
    )
    seniors = list(
        session.scalars(
            select(Senior)
            .options(
                load_only(
                    Senior.id,
                    Senior.display_name,
                    Senior.timezone,
                    Senior.inactivity_hours,
                    Senior.settings,
                )
            )
            .where(where)
            .order_by(Senior.id)
        )
    )
    audit(session, principal, "read", "senior", now, detail=f"app: {len(seniors)} seniors")
    return statuses(session, seniors, now)


@router.get("/")
def home(request: Request) -> Response:
    """My seniors: each with their status line (study staff and researchers: their studies)."""
    found = signed_in(request)
    if found is not None and found.role.value in ("researcher", "coordinator"):
        return RedirectResponse(f"{PREFIX}/research", status_code=303)
    try:
        principal = _caller(request)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    if principal is None:
        return _login_redirect(request)
    rows = _visible(request, principal)
    return render(request, "seniors.html.j2", {"rows": rows}, principal=principal)


@router.get("/seniors/{senior_id}")
def senior_page(request: Request, senior_id: str) -> Response:
    """A senior's status line, open alerts and the last 50 events (types and times, no words)."""
    try:
        principal = _caller(request)
        if principal is None:
            return _login_redirect(request)
        ctx = context(request)
        now = ctx.clock()
        with ctx.sessions() as session, session.begin():
            try:
                senior = get_senior(session, principal, senior_id[:64])
            except NotFoundError:
                raise _Denied(404, "not_found") from None
            status = statuses(session, [senior], now)[0]
            events = list(
                session.execute(
                    select(Event.type, Event.ts)
                    .where(senior_events(session, senior.id))
                    .order_by(Event.ts.desc(), Event.id.desc())
                    .limit(TIMELINE_EVENTS)
                )
            )
            activity = daily_activity(session, senior.id, senior.timezone, now)
            audit(
                session,
                principal,
                "read",
                "senior",
                now,
                resource_id=senior.id,
                senior_id=senior.id,
            )
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    return render(
        request,
        "senior.html.j2",
        {
            "s": status,
            "events": events,
            "chart": bar_chart(
                [(d.strftime("%m-%d"), v) for d, v in activity],
                message(language(request), "activity_chart"),
            ),
            "activity": activity,
        },
        principal=principal,
    )


# --- an alert: read, acknowledge, resolve -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Escalation:
    """Where the escalation stands: the tier reached and the next step's time, if one waits."""

    tier: int
    next_at: datetime | None


def _alert_and_senior(
    request: Request, principal: Principal, alert_id: int
) -> tuple[AlertDetail, Senior, _Escalation]:
    detail = alerts_api.get_alert(context(request), principal, alert_id)  # scoped and audited
    with context(request).sessions() as session:
        senior = session.get(Senior, detail.senior_id or "")
        if senior is None:
            raise _Denied(404, "not_found")
        session.expunge(senior)
        tier = session.scalar(select(Alert.tier).where(Alert.id == alert_id)) or 0
        next_at = session.scalar(
            select(func.min(EscalationStep.due_at)).where(
                EscalationStep.alert_id == alert_id, EscalationStep.status == StepStatus.PENDING
            )
        )
    return detail, senior, _Escalation(tier, next_at)


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: int) -> Response:
    """What happened, when, the escalation tier, who was told, and the one-tap buttons."""
    try:
        principal = _caller(request)
        if principal is None:
            return _login_redirect(request)
        try:
            alert, senior, escalation = _alert_and_senior(request, principal, alert_id)
        except AlertNotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    return render(
        request,
        "alert.html.j2",
        {"a": alert, "senior": senior, "esc": escalation, "notice_key": None},
        principal=principal,
    )


async def _act(request: Request, alert_id: int, action: str) -> Response:
    """Acknowledge or resolve through the API's own handlers (lifecycle, audit, robot told)."""
    form = await read_form(request)
    if form is None or not csrf_ok(request, form):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)
    ctx = context(request)
    lang = language(request)
    principal: Principal | None = None
    try:
        principal = await run_in_threadpool(_caller, request)
        if principal is None:
            return _login_redirect(request)
        notice, code = "state_conflict", 409
        try:
            if action == "ack":
                ack: AckOut = await run_in_threadpool(
                    alerts_api.acknowledge, ctx, principal, alert_id, None
                )
                notice = "acked_done" if ack.command_published else "robot_not_told"
            else:
                note = (form.get("note") or "").strip() or message(lang, "resolved_done")
                body = ResolveIn(note=note[:500])
                await run_in_threadpool(alerts_api.resolve, ctx, principal, alert_id, body)
                notice = "resolved_done"
            code = 200
        except AlertNotFoundError:
            raise _Denied(404, "not_found") from None
        except AlertStateError:
            pass
        except InvalidInputError:  # the service token's cookie: it must name who acts
            return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=422)
        except ValidationError:
            return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=422)
        alert, senior, escalation = await run_in_threadpool(
            _alert_and_senior, request, principal, alert_id
        )
    except _Denied as denied:
        return await run_in_threadpool(_deny, request, principal, denied)
    values = {"a": alert, "senior": senior, "esc": escalation, "notice_key": notice}
    if request.headers.get("hx-request") == "true":
        # htmx swaps the alert card in place; a 409 is still shown (htmx ignores error bodies).
        return render(request, "alert_card.html.j2", values, principal=principal)
    return render(request, "alert.html.j2", values, status_code=code, principal=principal)


@router.post("/alerts/{alert_id}/ack")
async def acknowledge(request: Request, alert_id: int) -> Response:
    """One tap: 'I'm on it' - the robot tells the senior who is coming."""
    return await _act(request, alert_id, "ack")


@router.post("/alerts/{alert_id}/resolve")
async def resolve(request: Request, alert_id: int) -> Response:
    """One tap: it is over (with an optional note)."""
    return await _act(request, alert_id, "resolve")


# --- the triage board ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Board:
    principal: Principal | None
    rows: list[SeniorStatus]
    regions: list[str]
    workers: list[tuple[str, str]]  # (username, display name) of caregivers of these seniors
    organisations: list[tuple[str, str]]  # (id, name) the caller may filter by


def _workers(
    session: Session,
    membership: OrganisationStaff | None,
    senior_ids: list[str],
) -> dict[str, tuple[str, set[str]]]:
    """username -> (display name, the seniors linked to them) among `senior_ids`; for the
    staff of an organisation, only its staff (their caseloads), never a family's accounts."""
    out: dict[str, tuple[str, set[str]]] = {}
    query = (
        select(Account.username, Account.display_name, CaregiverLink.senior_id)
        .join(CaregiverLink, CaregiverLink.account_id == Account.id)
        .where(among(session, CaregiverLink.senior_id, senior_ids))
    )
    if membership is not None:
        query = query.join(OrganisationStaff, OrganisationStaff.account_id == Account.id).where(
            OrganisationStaff.organisation_id == membership.organisation_id
        )
    for username, name, senior_id in session.execute(query):
        out.setdefault(username, (name, set()))[1].add(senior_id)
    return out


def _organisations(
    session: Session, principal: Principal, membership: OrganisationStaff | None
) -> list[tuple[str, str]]:
    """The organisations the caller may filter the board by: all for a platform admin, their
    own for staff, none for a family caregiver."""
    query = select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if principal.role is not Role.ADMIN:
        if membership is None:
            return []
        query = query.where(Organisation.id == membership.organisation_id)
    return [(i, n) for i, n in session.execute(query)]


def _board(request: Request, region: str | None, worker: str | None, org: str | None) -> _Board:
    principal = _caller(request)
    if principal is None:
        return _Board(None, [], [], [], [])
    ctx = context(request)
    # One session (one connection, one transaction) for the whole board.
    with ctx.sessions() as session, session.begin():
        rows = _visible_in(session, principal, ctx.clock())
        if org:  # never widens: rows are already the caller's seniors
            rows = [r for r in rows if r.organisation == org]
        membership = staff_of(session, principal)
        workers = _workers(session, membership, [r.senior_id for r in rows]) if rows else {}
        orgs = _organisations(session, principal, membership)
    regions = sorted({r.region for r in rows if r.region})
    if worker:
        linked = workers.get(worker, ("", set()))[1]
        rows = [r for r in rows if r.senior_id in linked]
    names = sorted((u, n) for u, (n, _) in workers.items())
    return _Board(principal, triage(rows, region or None), regions, names, orgs)


def _query(region: str | None, worker: str | None, org: str | None) -> str:
    return urlencode({k: v for k, v in (("org", org), ("region", region), ("worker", worker)) if v})


Org = Annotated[str | None, Query(max_length=64)]


@router.get("/board")
def board(
    request: Request,
    region: Annotated[str | None, Query(max_length=64)] = None,
    worker: Annotated[str | None, Query(max_length=100)] = None,
    org: Org = None,
) -> Response:
    """Every senior the caller may see, most at risk first, by organisation (a platform
    admin), region and worker; refreshed by htmx every 15 s and on every alert change."""
    try:
        found = _board(request, region, worker, org)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    if found.principal is None:
        return _login_redirect(request)
    principal = found.principal
    values = {
        "rows": found.rows,
        "regions": found.regions,
        "region": region or "",
        "workers": found.workers,
        "worker": worker or "",
        "organisations": found.organisations,
        "org": org or "",
        "query": _query(region, worker, org),
        "refresh_s": BOARD_REFRESH_S,
    }
    name = "board_rows.html.j2" if request.headers.get("hx-request") == "true" else "board.html.j2"
    return render(request, name, values, principal=principal)


@router.get("/board/print")
def board_print(
    request: Request,
    region: Annotated[str | None, Query(max_length=64)] = None,
    worker: Annotated[str | None, Query(max_length=100)] = None,
    org: Org = None,
) -> Response:
    """The board as a printable daily report: same scoping and order, no live refresh, and
    a print stylesheet that leaves out the navigation and the forms."""
    try:
        found = _board(request, region, worker, org)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    if found.principal is None:
        return _login_redirect(request)
    made = context(request).clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    values = {
        "rows": found.rows,
        "region": region or "",
        "worker_name": dict(found.workers).get(worker or "", ""),
        "org_name": dict(found.organisations).get(org or "", ""),
        "query": _query(region, worker, org),
        "made": made,
    }
    return render(request, "board_print.html.j2", values, principal=found.principal)


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_CSV_FORMULA) else text


@router.get("/board.csv")
def board_csv(
    request: Request,
    region: Annotated[str | None, Query(max_length=64)] = None,
    worker: Annotated[str | None, Query(max_length=100)] = None,
    org: Org = None,
) -> Response:
    """The board as CSV (UTF-8 with BOM so spreadsheets read Korean names), same scoping."""
    try:
        found = _board(request, region, worker, org)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    if found.principal is None:
        return _login_redirect(request)
    rows = found.rows
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "rank",
            "senior_id",
            "name",
            "region",
            "status",
            "unacknowledged_alerts",
            "open_alerts",
            "worst_open_alert",
            "last_life_sign_utc",
            "no_life_sign",
            "robots_online",
            "robots",
            "battery_pct",
            "faults",
            "organisation",
            "missed_medication_streak",
            "mood_drop",
            "screenings_over",
        ]
    )
    for rank, r in enumerate(rows, start=1):
        worst = r.worst_alert.kind if r.worst_alert else ""
        writer.writerow(
            [
                _cell(v)
                for v in (
                    rank,
                    r.senior_id,
                    r.display_name,
                    r.region or "",
                    r.level.value,
                    len(r.active_alerts),
                    len(r.open_alerts),
                    worst,
                    r.last_life_sign.isoformat() if r.last_life_sign else "",
                    int(r.no_life_sign),
                    r.robots_online,
                    r.robots,
                    "" if r.battery_pct is None else f"{r.battery_pct:.0f}",
                    " ".join(r.faults),
                    r.organisation or "",
                    r.missed_streak,
                    "" if r.mood_drop is None else f"{r.mood_drop:.2f}",
                    " ".join(f"{name}:{score:g}" for name, score in r.screenings_over),
                )
            ]
        )
    response = Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dolbom-board.csv"'},
    )
    return secure_response(response, context(request))


# --- Web Push: the server's key and a browser's subscription -----------------------------------


def _data_dir(request: Request) -> Path:
    path: Path = request.app.state.app_data_dir
    return path


@router.get("/push/key")
def push_key(request: Request) -> Response:
    """The VAPID public key a browser subscribes with (made on first use)."""
    try:
        principal = _caller(request)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    if principal is None:
        return secure_response(JSONResponse({"detail": "login"}, status_code=401), context(request))
    key = push.public_key(push.vapid_key(_data_dir(request)))
    return secure_response(JSONResponse({"public_key": key}), context(request))


def _subscribe(request: Request, principal: Principal, sub: push.SubscriptionIn) -> None:
    ctx = context(request)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        row = push.save_subscription(session, principal.account_id or 0, sub, now)
        audit(session, principal, "subscribe", "push", now, resource_id=row.id)


@router.post("/push/subscribe", status_code=201)
async def push_subscribe(request: Request) -> Response:
    """Store this browser's push subscription for the signed-in caregiver (CSRF in a header)."""
    ctx = context(request)
    lang = language(request)
    token = request.headers.get("x-csrf-token", "")
    if not csrf_ok(request, {"csrf": token}):
        return JSONResponse({"detail": message(lang, "bad_form")}, status_code=403)
    principal: Principal | None = None
    try:
        principal = await run_in_threadpool(_caller, request)
    except _Denied as denied:
        return await run_in_threadpool(_deny, request, principal, denied)
    if principal is None or principal.account_id is None:
        return JSONResponse({"detail": message(lang, "not_allowed")}, status_code=401)
    sub = push.parse_subscription(await request.body())
    if sub is None:
        return JSONResponse({"detail": message(lang, "bad_subscription")}, status_code=422)
    try:
        await run_in_threadpool(
            push.check_endpoint, sub.endpoint, ctx.webhook_allow, ctx.resolve, registering=True
        )
    except BlockedAddressError:
        return JSONResponse({"detail": message(lang, "bad_subscription")}, status_code=422)
    await run_in_threadpool(_subscribe, request, principal, sub)
    return secure_response(
        JSONResponse({"detail": message(lang, "push_saved")}, status_code=201), ctx
    )
