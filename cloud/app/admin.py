"""/app/admin: the admin's and installer's pages - accounts (create, disable, reset password;
sessions end), robots and their health, provisioning a robot for a senior (its config file and
a QR code of it), model rollouts and their progress. Changes go through the API's handlers and
`cloud.provisioning`, with the app's session, CSRF and audit; no password is ever logged."""

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal
from cloud.accounts.audit import audit, audit_reads
from cloud.accounts.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.accounts.service import USERNAME_PATTERN
from cloud.api.context import ApiContext
from cloud.api.routers import accounts as accounts_api
from cloud.api.schemas import AccountIn, AccountOut, PasswordSetIn
from cloud.app.family import error_text, first, read_form_values
from cloud.app.i18n import Lang, message
from cloud.app.pages import _Denied, _deny, _login_redirect, denial_principal, signed_in_as
from cloud.app.web import PREFIX, context, csrf_ok, language, render, secure_response
from cloud.errors import both
from cloud.provisioning import (
    LANGUAGES,
    ProvisioningError,
    RobotProvisioning,
    check_device_id,
    ensure_acl,
    mosquitto_passwd_binary,
    new_device_id,
    new_password,
    passwd_users,
    register_device,
    robot_config_toml,
    set_broker_password,
)
from cloud.store.models import Account, AuditLog, Device, Event, Role, Senior
from protocol import EventType

log = logging.getLogger(__name__)
router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)

ADMINS = (Role.ADMIN,)
FLEET = (Role.ADMIN, Role.INSTALLER)
MAX_ACCOUNTS = 500
MAX_ROBOTS = 500
MAX_ROLLOUTS = 50
ROLLOUT_AUDIT_ROWS = 20_000  # the newest model_rollout audit rows read for the rollouts page
CONFIG_TTL_S = 900  # how long the provisioned page's download works
RECENT_BATTERY = timedelta(days=2)
RECENT_MODELS = timedelta(days=2)
QR_SCALE = 4
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied
_ROLLOUT_DETAIL = re.compile(r"^(\S+) (\S+) \(")
_SEAL_INFO = b"dolbom app provisioned config v1"
# The events the robot's perception models decide (their envelope names the model): activity,
# mood, a fall and the safety events a fall or a sound starts. Reading only these keeps the
# hourly heartbeats and other routine events out of the model-version scans.
MODEL_EVENT_TYPES = tuple(
    t.value
    for t in (
        EventType.ACTIVITY,
        EventType.MOOD,
        EventType.FALL,
        EventType.EMERGENCY,
        EventType.SAFETY_CHECK,
        EventType.NO_RESPONSE,
    )
)


# --- who may use what ---------------------------------------------------------------------------


def _staff(request: Request, allowed: Collection[Role]) -> Principal | None:
    """The signed-in caller if their role is allowed here; _Denied (403) for other roles."""
    return signed_in_as(request, allowed, "not_allowed_admin")


def _caller(request: Request, allowed: Collection[Role]) -> Principal | Response:
    """The signed-in caller allowed here, or the page to answer instead (log in, or refused)."""
    try:
        principal = _staff(request, allowed)
    except _Denied as denied:
        return _refused(request, denied)
    if principal is None:
        return _login_redirect(request)
    return principal


def _refused(request: Request, denied: _Denied) -> Response:
    return _deny(request, denial_principal(request), denied)


def _bad_form(request: Request) -> Response:
    return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)


def _provisioning(request: Request) -> RobotProvisioning:
    """The app's provisioning settings (tests set `app.state.robot_provisioning`)."""
    found = getattr(request.app.state, "robot_provisioning", None)
    if found is None:
        found = RobotProvisioning()
        request.app.state.robot_provisioning = found
    settings: RobotProvisioning = found
    return settings


@router.get("")
def admin_home(request: Request) -> Response:
    """Admins start at the accounts, installers at the robots."""
    principal = _caller(request, FLEET)
    if isinstance(principal, Response):
        return principal
    target = "accounts" if principal.role is Role.ADMIN else "robots"
    return secure_response(
        RedirectResponse(f"{PREFIX}/admin/{target}", status_code=303), context(request)
    )


# --- forms --------------------------------------------------------------------------------------


class FormErrors(Exception):
    """Problems with one form: field id -> message (the form's own id for the whole form)."""

    def __init__(self, errors: Mapping[str, str], code: int = 422) -> None:
        super().__init__(", ".join(errors))
        self.errors = dict(errors)
        self.code = code


class AccountForm(BaseModel):
    """The new-account form (the password is made by the app, shown once)."""

    model_config = ConfigDict(str_strip_whitespace=True)
    username: str = Field(min_length=3, max_length=100, pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=100)
    role: Role


class ProvisionForm(BaseModel):
    """The provisioning form: which senior, which robot (empty: a new id), replace or not."""

    model_config = ConfigDict(str_strip_whitespace=True)
    senior_id: str = Field(min_length=1, max_length=64)
    device_id: str = Field(default="", max_length=64)
    replace: bool = False


def _errors(e: ValidationError, lang: Lang, form_id: str, special: Mapping[str, str]) -> FormErrors:
    """pydantic's errors next to their fields in the caller's language; `special` names the
    message of a field's pattern mismatch."""
    out: dict[str, str] = {}
    for error in e.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        key = f"{form_id}-{name}" if name else form_id
        if error["type"] == "string_pattern_mismatch" and name in special:
            out.setdefault(key, message(lang, special[name]))
        else:
            out.setdefault(key, error_text(error, lang))
    return FormErrors(out)


def temporary_password() -> str:
    """A one-time password to hand over: 16 unambiguous characters in groups (about 79 bits)."""
    chars = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


# --- accounts -----------------------------------------------------------------------------------


@dataclass
class AccountsView:
    """The accounts page, and the outcome of the last form."""

    accounts: list[AccountOut]
    more: bool
    notice: str | None = None
    shown_password: tuple[str, str] | None = None  # (username, temporary password), once
    form: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _load_accounts(ctx: ApiContext, principal: Principal) -> AccountsView:
    rows = accounts_api.list_accounts(ctx, limit=MAX_ACCOUNTS + 1, offset=0)
    with ctx.sessions() as session, session.begin():
        shown = min(len(rows), MAX_ACCOUNTS)
        audit(session, principal, "read", "account", ctx.clock(), detail=f"app: {shown} accounts")
    return AccountsView(rows[:MAX_ACCOUNTS], len(rows) > MAX_ACCOUNTS)


def _accounts_page(
    request: Request, principal: Principal, view: AccountsView, code: int = 200
) -> Response:
    return render(
        request,
        "admin_accounts.html.j2",
        {"v": view, "roles": [r.value for r in Role], "errors": view.errors},
        status_code=code,
        principal=principal,
    )


@router.get("/accounts")
def accounts_page(request: Request) -> Response:
    """Every account with its role and state, and the new-account form."""
    principal = _caller(request, ADMINS)
    if isinstance(principal, Response):
        return principal
    return _accounts_page(request, principal, _load_accounts(context(request), principal))


@dataclass
class _Outcome:
    notice: str
    shown_password: tuple[str, str] | None = None


AccountAction = Callable[[ApiContext, Principal, dict[str, str], Lang], _Outcome]


async def _account_submit(request: Request, form_id: str, action: AccountAction) -> Response:
    """Check the CSRF token and the role, run one change through the API's handler, and show
    the accounts page again (422 with the errors next to their fields)."""
    raw = await read_form_values(request)
    if raw is None or not csrf_ok(request, {"csrf": first(raw, "csrf")}):
        return _bad_form(request)
    form = {k: first(raw, k) for k in raw if k != "csrf"}
    ctx = context(request)
    lang = language(request)
    try:
        principal = await run_in_threadpool(_staff, request, ADMINS)
        if principal is None:
            return _login_redirect(request)
        outcome: _Outcome | None = None
        errors: dict[str, str] = {}
        code = 200
        try:
            outcome = await run_in_threadpool(action, ctx, principal, form, lang)
        except FormErrors as e:
            errors, code = e.errors, e.code
        except NotFoundError:
            raise _Denied(404, "not_found") from None
        view = await run_in_threadpool(_load_accounts, ctx, principal)
    except _Denied as denied:
        return await run_in_threadpool(_refused, request, denied)
    if outcome is not None:
        view.notice, view.shown_password = outcome.notice, outcome.shown_password
    if errors:
        view.form, view.errors = form, errors
    return _accounts_page(request, principal, view, code)


def _create(ctx: ApiContext, principal: Principal, form: dict[str, str], lang: Lang) -> _Outcome:
    try:
        data = AccountForm.model_validate(
            {k: form.get(k, "") for k in ("username", "display_name", "role")}
        )
    except ValidationError as e:
        raise _errors(e, lang, "acc", {"username": "err_username"}) from None
    password = temporary_password()
    body = AccountIn(
        username=data.username, password=password, role=data.role, display_name=data.display_name
    )
    try:
        account = accounts_api.add_account(ctx, principal, body)
    except ConflictError:
        raise FormErrors({"acc-username": message(lang, "err_username_taken")}, 409) from None
    except InvalidInputError:
        raise FormErrors({"acc-username": message(lang, "err_username")}) from None
    log.info("account %s (%s) created by %s", account.username, account.role, principal.actor)
    return _Outcome(
        message(lang, "acc_created_done", name=account.username), (account.username, password)
    )


@router.post("/accounts")
async def create_account(request: Request) -> Response:
    """Create an account (POST /accounts) with a temporary password shown once."""
    return await _account_submit(request, "acc", _create)


def _target(ctx: ApiContext, account_id: int) -> str:
    with ctx.sessions() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError(
                both(f"id가 {account_id}인 계정이 없습니다", f"no account with id {account_id}")
            )
        return account.username


@router.post("/accounts/{account_id}/disable")
async def disable_account(request: Request, account_id: int) -> Response:
    """Disable an account: every session it has ends at once (POST /accounts/{id}/disable)."""

    def act(ctx: ApiContext, p: Principal, form: dict[str, str], lang: Lang) -> _Outcome:
        if p.account_id == account_id:
            raise FormErrors({f"a{account_id}": message(lang, "err_self")}, 409)
        out = accounts_api.disable_account(ctx, p, account_id)
        return _Outcome(message(lang, "acc_disabled_done", name=out.username))

    return await _account_submit(request, f"a{account_id}", act)


@router.post("/accounts/{account_id}/enable")
async def enable_account(request: Request, account_id: int) -> Response:
    """Enable a disabled account (its old sessions stay ended)."""

    def act(ctx: ApiContext, p: Principal, form: dict[str, str], lang: Lang) -> _Outcome:
        out = accounts_api.enable_account(ctx, p, account_id)
        return _Outcome(message(lang, "acc_enabled_done", name=out.username))

    return await _account_submit(request, f"a{account_id}", act)


@router.post("/accounts/{account_id}/password")
async def reset_password(request: Request, account_id: int) -> Response:
    """A new temporary password, shown once; every session of the account ends."""

    def act(ctx: ApiContext, p: Principal, form: dict[str, str], lang: Lang) -> _Outcome:
        username = _target(ctx, account_id)
        password = temporary_password()
        accounts_api.reset_password(ctx, p, account_id, PasswordSetIn(password=password))
        return _Outcome(message(lang, "acc_reset_done", name=username), (username, password))

    return await _account_submit(request, f"a{account_id}", act)


# --- robots and their health --------------------------------------------------------------------


@dataclass(frozen=True)
class RobotRow:
    """One robot's line on the health page."""

    id: str
    senior_id: str | None
    senior_name: str | None
    timezone: str
    online: bool
    last_heartbeat_at: datetime | None
    battery_pct: float | None
    charging: bool
    faults: tuple[str, ...]
    models: tuple[tuple[str, str], ...]
    agent_version: str | None
    outbox_pending: int | None


def model_reports(
    session: Session, device_ids: Collection[str], since: datetime
) -> dict[str, dict[str, tuple[datetime, str]]]:
    """Each robot's newest report of each model since `since` (when, which version), from the
    envelopes of its perception events (MODEL_EVENT_TYPES)."""
    name = Event.model["name"].as_string()
    version = Event.model["version"].as_string()
    out: dict[str, dict[str, tuple[datetime, str]]] = defaultdict(dict)
    ids = sorted(device_ids)
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(Event.device_id, name, version, func.max(Event.ts))
            .where(
                Event.device_id.in_(ids[start : start + 1000]),
                Event.type.in_(MODEL_EVENT_TYPES),
                Event.ts >= since,
            )
            .where(name.is_not(None), version.is_not(None))
            .group_by(Event.device_id, name, version)
        )
        for device_id, model, ver, ts in rows:
            ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
            seen = out[device_id].get(model)
            if seen is None or ts > seen[0]:
                out[device_id][model] = (ts, ver)
    return out


def newest_models(
    session: Session, device_ids: Collection[str], since: datetime
) -> dict[str, dict[str, str]]:
    """Each robot's newest version of each model reported since `since`."""
    reports = model_reports(session, device_ids, since)
    return {d: {m: v for m, (_, v) in models.items()} for d, models in reports.items()}


def _batteries(
    session: Session, device_ids: Collection[str], since: datetime
) -> dict[str, tuple[float, bool]]:
    ranked = (
        select(
            Event.device_id,
            Event.payload,
            func.row_number()
            .over(partition_by=Event.device_id, order_by=(Event.ts.desc(), Event.id.desc()))
            .label("rank"),
        )
        .where(
            Event.device_id.in_(sorted(device_ids)),
            Event.type == EventType.BATTERY.value,
            Event.ts >= since,
        )
        .subquery()
    )
    out: dict[str, tuple[float, bool]] = {}
    for device_id, payload in session.execute(
        select(ranked.c.device_id, ranked.c.payload).where(ranked.c.rank == 1)
    ):
        out[device_id] = (float(payload.get("level_pct", 0.0)), bool(payload.get("charging")))
    return out


def robot_rows(session: Session, now: datetime, limit: int) -> tuple[list[RobotRow], int]:
    """The first `limit` robots by id with their health, and how many robots there are."""
    total = session.scalar(select(func.count()).select_from(Device)) or 0
    rows = list(
        session.execute(
            select(Device, Senior.display_name, Senior.timezone)
            .outerjoin(Senior, Senior.id == Device.senior_id)
            .order_by(Device.id)
            .limit(limit)
        )
    )
    ids = [d.id for d, _, _ in rows]
    batteries = _batteries(session, ids, now - RECENT_BATTERY) if ids else {}
    models = newest_models(session, ids, now - RECENT_MODELS) if ids else {}
    out = []
    for device, name, tz in rows:
        summary: dict[str, Any] = device.last_heartbeat or {}
        battery = batteries.get(device.id)
        pending = summary.get("outbox_pending")
        out.append(
            RobotRow(
                id=device.id,
                senior_id=device.senior_id,
                senior_name=name,
                timezone=tz or "Asia/Seoul",
                online=device.online,
                last_heartbeat_at=device.last_heartbeat_at,
                battery_pct=battery[0] if battery else None,
                charging=battery[1] if battery else False,
                faults=tuple(str(f) for f in summary.get("failed_self_tests", []))[:20],
                models=tuple(sorted(models.get(device.id, {}).items())),
                agent_version=summary.get("agent_version"),
                outbox_pending=int(pending) if isinstance(pending, int) else None,
            )
        )
    return out, total


@router.get("/robots")
def robots_page(request: Request) -> Response:
    """Every robot: online, last heartbeat, battery, faults, model versions (admin, installer)."""
    principal = _caller(request, FLEET)
    if isinstance(principal, Response):
        return principal
    ctx = context(request)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        rows, total = robot_rows(session, now, MAX_ROBOTS)
        audit_reads(session, principal, "device", [r.senior_id for r in rows], now, detail="app")
    return render(
        request,
        "admin_robots.html.j2",
        {"rows": rows, "total": total, "limit": MAX_ROBOTS},
        principal=principal,
    )


# --- provisioning -------------------------------------------------------------------------------


def _key(ctx: ApiContext) -> bytes:
    return hmac.new(ctx.auth_secret.encode(), _SEAL_INFO, hashlib.sha256).digest()


def seal_config(ctx: ApiContext, principal: Principal, values: Mapping[str, str]) -> str:
    """The provisioned config, encrypted and bound to the caller (AES-256-GCM, key from the auth
    secret): the page carries it to the download without the server keeping the password."""
    nonce = secrets.token_bytes(12)
    plain = json.dumps(dict(values), separators=(",", ":")).encode()
    sealed = AESGCM(_key(ctx)).encrypt(nonce, plain, str(principal.account_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_config(ctx: ApiContext, principal: Principal, token: str) -> dict[str, str] | None:
    """The values `seal_config` sealed for this caller, or None (forged, another caller's)."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        plain = AESGCM(_key(ctx)).decrypt(raw[:12], raw[12:], str(principal.account_id).encode())
        values = json.loads(plain)
    except (ValueError, InvalidTag):
        return None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        return None
    return values


def qr_svg(text: str, title: str) -> Markup:
    """The QR code of `text` as inline SVG (error correction M, no inline style)."""
    code = segno.make(text, error="m", micro=False)
    svg = code.svg_inline(scale=QR_SCALE, title=title, svgclass="qr-code", lineclass=None)
    return Markup(svg)  # noqa: S704 (segno's own SVG; the title is escaped by segno)


@dataclass
class Provisioned:
    """What the page shows after provisioning (the config holds the robot's password)."""

    device_id: str
    senior_id: str
    senior_name: str
    config: str
    sealed: str
    action: str


def _provision(
    ctx: ApiContext,
    principal: Principal,
    settings: RobotProvisioning,
    form: dict[str, str],
    lang: Lang,
) -> Provisioned:
    """Register the robot for the senior, set its broker password, write its config; audited.
    Nothing is stored when the password file cannot be written."""
    try:
        data = ProvisionForm.model_validate(
            {
                "senior_id": form.get("senior_id", ""),
                "device_id": form.get("device_id", ""),
                "replace": form.get("replace") == "1",
            }
        )
    except ValidationError as e:
        raise _errors(e, lang, "pv", {}) from None
    device_id = data.device_id or new_device_id()
    try:
        check_device_id(device_id)
    except ProvisioningError:
        raise FormErrors({"pv-device_id": message(lang, "err_device_id")}) from None
    passwd_file, broker_host = settings.passwd_file, settings.broker_host
    if passwd_file is None or not broker_host:
        raise FormErrors({"pv": message(lang, "provision_off")}, 409)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        senior = session.get(Senior, data.senior_id)
        if senior is None:
            raise FormErrors({"pv-senior_id": message(lang, "err_no_senior")})
        known = session.get(Device, device_id) is not None
        if (known or device_id in passwd_users(passwd_file)) and not data.replace:
            raise FormErrors({"pv-device_id": message(lang, "err_device_known")}, 409)
        password = new_password()
        action = register_device(session, device_id, senior.id, now)
        try:
            set_broker_password(mosquitto_passwd_binary(), passwd_file, device_id, password)
            if settings.acl_file is not None:
                ensure_acl(settings.acl_file)
        except (ProvisioningError, OSError) as e:
            log.error("provisioning %s failed: %s", device_id, e)  # never the password
            raise FormErrors({"pv": message(lang, "err_broker")}, 503) from None
        audit(
            session,
            principal,
            "provision",
            "device",
            now,
            resource_id=device_id,
            senior_id=senior.id,
            detail=f"app: {action}",
        )
        language_code = senior.language if senior.language in LANGUAGES else "ko"
        senior_name = senior.display_name
    config = robot_config_toml(
        device_id=device_id,
        password=password,
        senior_id=data.senior_id,
        language=language_code,
        broker_host=broker_host,
        broker_port=settings.port,
        tls=settings.tls,
        ca_file=settings.ca_file,
        data_dir=None,
        now=now,
        by="the dolbom app",
    )
    log.info("provisioned %s for senior %s by %s", device_id, data.senior_id, principal.actor)
    sealed = seal_config(
        ctx,
        principal,
        {"d": device_id, "s": data.senior_id, "at": now.isoformat(), "c": config},
    )
    return Provisioned(device_id, data.senior_id, senior_name, config, sealed, action)


def _provision_page(
    request: Request,
    principal: Principal,
    *,
    done: Provisioned | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    code: int = 200,
) -> Response:
    lang = language(request)
    qr = None
    if done is not None:
        qr = qr_svg(done.config, message(lang, "pv_qr_title", device=done.device_id))
    return render(
        request,
        "admin_provision.html.j2",
        {
            "enabled": _provisioning(request).enabled,
            "done": done,
            "qr": qr,
            "form": dict(form or {}),
            "errors": dict(errors or {}),
            "ttl_min": CONFIG_TTL_S // 60,
        },
        status_code=code,
        principal=principal,
    )


@router.get("/provision")
def provision_page(
    request: Request, senior: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """The provisioning form (admin, installer)."""
    principal = _caller(request, FLEET)
    if isinstance(principal, Response):
        return principal
    return _provision_page(request, principal, form={"senior_id": senior or ""})


@router.post("/provision")
async def provision_submit(request: Request) -> Response:
    """Provision a robot for a senior; the page shows its QR code and the config's download."""
    raw = await read_form_values(request)
    if raw is None or not csrf_ok(request, {"csrf": first(raw, "csrf")}):
        return _bad_form(request)
    form = {k: first(raw, k) for k in raw if k != "csrf"}
    try:
        principal = await run_in_threadpool(_staff, request, FLEET)
    except _Denied as denied:
        return await run_in_threadpool(_refused, request, denied)
    if principal is None:
        return _login_redirect(request)
    settings = _provisioning(request)
    if not settings.enabled:
        return _provision_page(request, principal, form=form, code=409)
    ctx = context(request)
    try:
        done = await run_in_threadpool(
            _provision, ctx, principal, settings, form, language(request)
        )
    except FormErrors as e:
        return _provision_page(request, principal, form=form, errors=e.errors, code=e.code)
    return _provision_page(request, principal, done=done)


@router.post("/provision/config")
async def download_config(request: Request) -> Response:
    """The provisioned robot's config file, within CONFIG_TTL_S of provisioning, for the one
    who provisioned it; the download is audited."""
    raw = await read_form_values(request)
    if raw is None or not csrf_ok(request, {"csrf": first(raw, "csrf")}):
        return _bad_form(request)
    try:
        principal = await run_in_threadpool(_staff, request, FLEET)
    except _Denied as denied:
        return await run_in_threadpool(_refused, request, denied)
    if principal is None:
        return _login_redirect(request)
    ctx = context(request)
    values = open_config(ctx, principal, first(raw, "sealed"))
    if values is None or not {"d", "s", "at", "c"} <= values.keys():
        return _bad_form(request)
    now = ctx.clock()
    try:
        issued = datetime.fromisoformat(values["at"])
    except ValueError:
        return _bad_form(request)
    if not timedelta(0) <= now - issued <= timedelta(seconds=CONFIG_TTL_S):
        return render(request, "error.html.j2", {"message_key": "pv_expired"}, status_code=410)
    device_id, senior_id = values["d"], values["s"]
    with ctx.sessions() as session, session.begin():
        audit(
            session,
            principal,
            "download",
            "device_config",
            now,
            resource_id=device_id,
            senior_id=senior_id,
        )
    response = Response(
        values["c"],
        media_type="application/toml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{device_id}.toml"'},
    )
    return secure_response(response, ctx)


# --- model rollouts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloutRow:
    """One model version rolled out: when, to how many robots, and how many report it now."""

    name: str
    version: str
    first_sent: datetime
    last_sent: datetime
    targets: int
    updated: int
    other: int
    silent: int


def rollouts(
    session: Session, now: datetime, limit: int = MAX_ROLLOUTS
) -> tuple[list[RolloutRow], list[tuple[str, str, int]]]:
    """The rollouts (newest first) from the API's `model_rollout` audit rows, each with how
    many of its robots have reported the version since it was sent (at most RECENT_MODELS
    back), another version, or nothing with that model; and (model, version, robots) over
    every robot's newest report of the last RECENT_MODELS. One scan of the events serves both."""
    audit_rows = session.execute(
        select(AuditLog.at, AuditLog.resource_id, AuditLog.detail)
        .where(AuditLog.action == "model_rollout", AuditLog.resource == "device")
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(ROLLOUT_AUDIT_ROWS)
    )
    groups: dict[tuple[str, str], tuple[list[datetime], set[str]]] = {}
    for at, device_id, detail in audit_rows:
        found = _ROLLOUT_DETAIL.match(detail or "")
        if found is None or device_id is None:
            continue
        times, devices = groups.setdefault((found.group(1), found.group(2)), ([], set()))
        times.append(at if at.tzinfo is not None else at.replace(tzinfo=UTC))
        devices.add(device_id)
    ordered = sorted(groups.items(), key=lambda kv: max(kv[1][0]), reverse=True)[:limit]
    window = now - RECENT_MODELS
    reports = model_reports(session, list(session.scalars(select(Device.id))), window)
    out = []
    for (name, version), (times, devices) in ordered:
        since = max(min(times), window)
        now_on = []
        for device_id in devices:
            newest = reports.get(device_id, {}).get(name)  # the newest since `window`, so
            now_on.append(newest[1] if newest and newest[0] >= since else None)  # since `since`
        updated = sum(1 for v in now_on if v == version)
        silent = sum(1 for v in now_on if v is None)
        out.append(
            RolloutRow(
                name=name,
                version=version,
                first_sent=min(times),
                last_sent=max(times),
                targets=len(devices),
                updated=updated,
                other=len(devices) - updated - silent,
                silent=silent,
            )
        )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for models in reports.values():
        for name, (_, version) in models.items():
            counts[(name, version)] += 1
    fleet = sorted((n, v, c) for (n, v), c in counts.items())
    return out, fleet


@router.get("/rollouts")
def rollouts_page(request: Request) -> Response:
    """Model rollouts and their progress, and the versions the fleet runs now (admin)."""
    principal = _caller(request, ADMINS)
    if isinstance(principal, Response):
        return principal
    ctx = context(request)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        rows, fleet = rollouts(session, now)
        audit(session, principal, "read", "model_rollout", now, detail=f"app: {len(rows)}")
    return render(
        request,
        "admin_rollouts.html.j2",
        {"rows": rows, "fleet": fleet, "days": RECENT_MODELS.days},
        principal=principal,
    )
