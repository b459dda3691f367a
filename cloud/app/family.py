"""/app/seniors/{id}/care: the family's editors - contacts, the escalation order, reminders and
quiet hours - on the API's own handlers (scoping, who may change what, audit, the robot's new
schedule). Forms are validated with the API's pydantic models; every problem is shown next to
its field in Korean or English, and nothing is half-saved."""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal, get_senior
from cloud.accounts.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from cloud.api.context import ApiContext
from cloud.api.deps import audit_denial, request_source
from cloud.api.routers import contacts as contacts_api
from cloud.api.routers import escalation as escalation_api
from cloud.api.routers import reminders as reminders_api
from cloud.api.schemas import (
    ContactIn,
    ContactOut,
    PolicyIn,
    PolicyOut,
    QuietHoursIn,
    ReminderIn,
    ReminderKind,
    ReminderOut,
    TierIn,
)
from cloud.app.i18n import Lang, message
from cloud.app.pages import _caller, _Denied, _deny, _login_redirect
from cloud.app.web import MAX_FORM_BYTES, PREFIX, context, csrf_ok, language, render
from cloud.store.models import Channel, Senior

router = APIRouter(prefix=f"{PREFIX}/seniors/{{senior_id}}/care", include_in_schema=False)

MAX_TIERS = 10
MAX_FORM_FIELDS = 200  # the policy form: a checkbox per contact and tier
_DAY_MINUTES = 1440


class FormErrors(Exception):
    """Problems with one form: field key -> message (key "" for the form as a whole)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = dict(errors)


Form = dict[str, list[str]]


async def read_form_values(request: Request) -> Form | None:
    """A url-encoded form with every value of each field (checkboxes repeat a name)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        return parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        return None


def first(form: Form, name: str) -> str:
    """The first value of a field, stripped ('' when absent)."""
    values = form.get(name)
    return values[0].strip() if values else ""


# --- pydantic errors in the caregiver's language -----------------------------------------------


def error_text(error: ErrorDetails, lang: Lang) -> str:
    """One pydantic error as a sentence in Korean or English (never pydantic's English)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    where = [str(p) for p in error["loc"]]
    if kind in ("missing", "string_too_short"):
        return message(lang, "err_required")
    if kind == "too_short":
        return message(lang, "err_days") if "days" in where else message(lang, "err_required")
    if kind == "string_too_long":
        return message(lang, "err_too_long", max=ctx.get("max_length", "?"))
    if kind == "too_long":
        return message(lang, "err_too_many", max=ctx.get("max_length", "?"))
    if kind == "string_pattern_mismatch":
        timed = any(w in ("times", "start", "end") for w in where)
        return message(lang, "err_time") if timed else message(lang, "err_format")
    if kind in ("enum", "literal_error"):
        return message(lang, "err_choice")
    if kind.startswith(("int_", "float_")) or kind in (
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
    ):
        lo, hi = _NUMBER_RANGES.get(where[-1] if where else "", (1, 10_080))
        return message(lang, "err_number", lo=lo, hi=hi)
    text = str(error.get("msg", ""))
    if "duplicates" in text:
        return message(lang, "err_duplicates")
    if "both start and end" in text:
        return message(lang, "err_quiet_both")
    if "must differ" in text:
        return message(lang, "err_quiet_same")
    return message(lang, "err_invalid")


_NUMBER_RANGES = {"timeout_min": (1, 7 * _DAY_MINUTES), "renotify_min": (1, 7 * _DAY_MINUTES)}


def field_errors(
    e: ValidationError, lang: Lang, prefix: str, rename: Mapping[str, str]
) -> FormErrors:
    """pydantic's errors keyed by the form's field ids (`prefix-field`), first error each."""
    out: dict[str, str] = {}
    for error in e.errors():
        loc = [str(p) for p in error["loc"]]
        name = rename.get(loc[0], loc[0]) if loc else ""
        key = f"{prefix}-{name}" if name else prefix
        out.setdefault(key, error_text(error, lang))
    return FormErrors(out)


def _api_input_error(
    e: InvalidInputError, lang: Lang, prefix: str, rows: Sequence[int] = ()
) -> FormErrors:
    """The API's own refusal ("body.target: ...") next to the field it names (`rows`: the
    form row of each policy tier)."""
    text = str(e)
    head, _, reason = text.partition(": ")
    parts = head.split(".")
    if parts[:1] == ["body"] and len(parts) >= 2:
        if parts[1] == "tiers" and len(parts) >= 3 and parts[2].isdigit():
            tier = int(parts[2])
            name = f"t{rows[tier] if tier < len(rows) else tier}-contacts"
            key = "err_duplicates" if "duplicates" in reason else "err_contacts_foreign"
        else:
            name = parts[1]
            if "http(s) URL" in reason:
                key = "err_webhook_url"
            elif "e-mail" in reason:
                key = "err_email"
            elif "push contact" in reason:
                key = "err_push_target"
            else:
                key = "err_blocked_target"
        return FormErrors({f"{prefix}-{name}": message(lang, key)})
    return FormErrors({prefix: message(lang, "err_invalid")})


# --- what the page shows ------------------------------------------------------------------------


@dataclass
class CareView:
    """Everything the editors page shows, and the outcome of the last form."""

    senior: Senior
    contacts: list[ContactOut]
    policy: PolicyOut | None
    reminders: list[ReminderOut]
    may_change_policy: bool
    notice: str | None = None
    failed: str | None = None  # the form whose input is shown again with its errors
    form: Form = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def load_view(ctx: ApiContext, principal: Principal, senior_id: str) -> CareView:
    """The senior, contacts, policy and reminders through the API's handlers (each audited)."""
    with ctx.sessions() as session:
        senior = get_senior(session, principal, senior_id)
        may_change = escalation_api.may_change_policy(session, principal, senior_id)
        session.expunge(senior)
    contacts = contacts_api.list_contacts(ctx, principal, senior_id)
    try:
        policy: PolicyOut | None = escalation_api.read_policy(ctx, principal, senior_id)
    except NotFoundError:
        policy = None
    reminders = reminders_api.list_reminders(ctx, principal, senior_id)
    return CareView(senior, contacts, policy, reminders, may_change)


def _values(view: CareView, lang: Lang) -> dict[str, object]:
    def value(form_id: str, name: str, stored: object) -> object:
        """The submitted value for the form that failed, else the stored one."""
        if view.failed == form_id:
            return first(view.form, name)
        return "" if stored is None else stored

    def chosen(form_id: str, name: str, stored: list[str]) -> list[str]:
        if view.failed == form_id:
            return view.form.get(name, [])
        return stored

    tiers = list(view.policy.tiers) if view.policy else []
    rows = len(tiers) + 1
    if view.failed == "policy":  # every row that was filled in comes back, with its error
        filled = [i for i in range(MAX_TIERS) if any(k.startswith(f"t{i}-") for k in view.form)]
        rows = max([rows, *(i + 1 for i in filled)])
    return {
        "v": view,
        "value": value,
        "chosen": chosen,
        "errors": view.errors,
        "channels": [c.value for c in Channel],
        "kinds": [k.value for k in ReminderKind],
        "tiers": tiers,
        "tier_rows": min(MAX_TIERS, rows),
        "lang_names": {"ko": message(lang, "lang_ko"), "en": message(lang, "lang_en")},
    }


def _page(request: Request, principal: Principal, view: CareView, code: int = 200) -> Response:
    return render(
        request,
        "care.html.j2",
        _values(view, language(request)),
        status_code=code,
        principal=principal,
    )


@router.get("")
def care_page(request: Request, senior_id: str) -> Response:
    """The editors of one senior the caller may see."""
    try:
        principal = _caller(request)
        if principal is None:
            return _login_redirect(request)
        try:
            view = load_view(context(request), principal, senior_id[:64])
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, signed_in_or_none(request), denied)
    return _page(request, principal, view)


def signed_in_or_none(request: Request) -> Principal | None:
    """Who was refused, for the denial's audit row."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


Action = Callable[[ApiContext, Principal, str, Form, Lang], str]


def _audit_forbidden(request: Request, principal: Principal) -> None:
    """Audit a refused change shown inline on the editor, as the API audits a 403."""
    ctx = context(request)
    what = f"{request.method} {request.url.path}"[:300]
    with ctx.sessions() as session, session.begin():
        audit_denial(ctx, session, principal, request_source(ctx, request), "http_403", what)


async def _submit(request: Request, senior_id: str, form_id: str, action: Action) -> Response:
    """Check the CSRF token, run one change through the API's handler, show the page again.

    htmx swaps the editors in place (so errors come back as 200 for it); a plain form post
    gets the page with 422 when a field was wrong."""
    form = await read_form_values(request)
    if form is None or not csrf_ok(request, {"csrf": first(form, "csrf")}):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)
    ctx = context(request)
    lang = language(request)
    senior_id = senior_id[:64]
    principal: Principal | None = None
    try:
        principal = await run_in_threadpool(_caller, request)
        if principal is None:
            return _login_redirect(request)
        notice: str | None = None
        errors: dict[str, str] = {}
        code = 200
        try:
            notice = await run_in_threadpool(action, ctx, principal, senior_id, form, lang)
        except FormErrors as e:
            errors, code = e.errors, 422
        except contacts_api.GroupContactForbiddenError:
            errors, code = {form_id: message(lang, "err_group_contact")}, 403
            await run_in_threadpool(_audit_forbidden, request, principal)
        except ForbiddenError:
            errors, code = {form_id: message(lang, "err_not_primary")}, 403
        except ConflictError:
            errors, code = {form_id: message(lang, "err_contact_in_policy")}, 409
        except InvalidInputError as e:
            errors, code = _api_input_error(e, lang, form_id).errors, 422
        except NotFoundError:
            raise _Denied(404, "not_found") from None
        try:
            view = await run_in_threadpool(load_view, ctx, principal, senior_id)
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return await run_in_threadpool(_deny, request, principal, denied)
    view.notice = notice
    if errors:
        view.failed, view.form, view.errors = form_id, form, errors
    if request.headers.get("hx-request") == "true":
        code = 200
    return _page(request, principal, view, code)


# --- contacts -----------------------------------------------------------------------------------

_CONTACT_FIELDS = ("name", "relation", "channel", "target", "language")


def _contact_in(form: Form, lang: Lang, form_id: str) -> ContactIn:
    raw = {name: first(form, name) for name in _CONTACT_FIELDS}
    try:
        return ContactIn.model_validate(raw)
    except ValidationError as e:
        raise field_errors(e, lang, form_id, {}) from None


def _add_contact(ctx: ApiContext, p: Principal, senior_id: str, form: Form, lang: Lang) -> str:
    body = _contact_in(form, lang, "cnew")
    contacts_api.add_contact(ctx, p, senior_id, body)
    return message(lang, "contact_added")


@router.post("/contacts")
async def add_contact(request: Request, senior_id: str) -> Response:
    """Add a contact (POST /seniors/{id}/contacts)."""
    return await _submit(request, senior_id, "cnew", _add_contact)


@router.post("/contacts/{contact_id}")
async def save_contact(request: Request, senior_id: str, contact_id: int) -> Response:
    """Change a contact (PUT /seniors/{id}/contacts/{cid})."""

    def save(ctx: ApiContext, p: Principal, sid: str, form: Form, lang: Lang) -> str:
        body = _contact_in(form, lang, f"c{contact_id}")
        contacts_api.replace_contact(ctx, p, sid, contact_id, body)
        return message(lang, "saved")

    return await _submit(request, senior_id, f"c{contact_id}", save)


@router.post("/contacts/{contact_id}/delete")
async def delete_contact(request: Request, senior_id: str, contact_id: int) -> Response:
    """Remove a contact (not while the escalation order names it)."""

    def delete(ctx: ApiContext, p: Principal, sid: str, form: Form, lang: Lang) -> str:
        contacts_api.delete_contact(ctx, p, sid, contact_id)
        return message(lang, "deleted")

    return await _submit(request, senior_id, f"c{contact_id}", delete)


# --- the escalation order -----------------------------------------------------------------------


class TierForm(BaseModel):
    """One tier as the form has it: contacts ticked, minutes rather than seconds."""

    contacts: list[int] = Field(min_length=1, max_length=20)
    timeout_min: int = Field(gt=0, le=7 * _DAY_MINUTES)
    renotify_min: int | None = Field(default=None, gt=0, le=7 * _DAY_MINUTES)


_TIER_NAMES = {"contacts": "contacts", "timeout_min": "timeout", "renotify_min": "renotify"}


def policy_from_form(form: Form, lang: Lang) -> tuple[PolicyIn, list[int]]:
    """The tiers filled in, in order, and the form row of each (a row left entirely empty is
    skipped, so tier k of the policy may be row k + 1 of the form)."""
    tiers: list[TierIn] = []
    rows: list[int] = []
    errors: dict[str, str] = {}
    for i in range(MAX_TIERS):
        contacts = form.get(f"t{i}-contacts", [])
        timeout, renotify = first(form, f"t{i}-timeout"), first(form, f"t{i}-renotify")
        if not contacts and not timeout and not renotify:
            continue
        raw = {"contacts": contacts, "timeout_min": timeout, "renotify_min": renotify or None}
        try:
            tier = TierForm.model_validate(raw)
        except ValidationError as e:
            errors.update(field_errors(e, lang, f"policy-t{i}", _TIER_NAMES).errors)
            continue
        rows.append(i)
        tiers.append(
            TierIn(
                contact_ids=tier.contacts,
                timeout_s=tier.timeout_min * 60,
                renotify_s=None if tier.renotify_min is None else tier.renotify_min * 60,
            )
        )
    if errors:
        raise FormErrors(errors)
    if not tiers:
        raise FormErrors({"policy": message(lang, "err_policy_empty")})
    return PolicyIn(tiers=tiers), rows


def _save_policy(ctx: ApiContext, p: Principal, senior_id: str, form: Form, lang: Lang) -> str:
    body, rows = policy_from_form(form, lang)
    try:
        escalation_api.put_policy(ctx, p, senior_id, body)
    except InvalidInputError as e:
        raise _api_input_error(e, lang, "policy", rows) from None
    return message(lang, "policy_saved")


@router.post("/policy")
async def save_policy(request: Request, senior_id: str) -> Response:
    """Replace the escalation order (admin or primary caregiver, as the API)."""
    return await _submit(request, senior_id, "policy", _save_policy)


# --- reminders ----------------------------------------------------------------------------------

_TIMES_SPLIT = re.compile(r"[,\s]+")


def reminder_from_form(form: Form, lang: Lang, form_id: str) -> ReminderIn:
    """Kind, label, times as "08:00, 20:00", ticked weekdays, active."""
    times = [t for t in _TIMES_SPLIT.split(first(form, "times")) if t]
    days = form.get("days", [])
    if any(not d.isdigit() for d in days):
        raise FormErrors({f"{form_id}-days": message(lang, "err_choice")})
    raw = {
        "kind": first(form, "kind"),
        "label": first(form, "label"),
        "times": times,
        "days": [int(d) for d in days],
        "active": first(form, "active") == "on",
    }
    try:
        return ReminderIn.model_validate(raw)
    except ValidationError as e:
        raise field_errors(e, lang, form_id, {}) from None


def _sent(lang: Lang, devices: int, published: int) -> str:
    if devices and published < devices:
        return message(lang, "reminder_not_sent")
    return message(lang, "reminder_sent", n=published)


def _add_reminder(ctx: ApiContext, p: Principal, senior_id: str, form: Form, lang: Lang) -> str:
    out = reminders_api.add_reminder(ctx, p, senior_id, reminder_from_form(form, lang, "rnew"))
    return _sent(lang, out.devices, out.commands_published)


@router.post("/reminders")
async def add_reminder(request: Request, senior_id: str) -> Response:
    """Add a reminder; the senior's robots get the new schedule (as the API does)."""
    return await _submit(request, senior_id, "rnew", _add_reminder)


@router.post("/reminders/{reminder_id}")
async def save_reminder(request: Request, senior_id: str, reminder_id: int) -> Response:
    """Change a reminder; the robots get the new schedule."""

    def save(ctx: ApiContext, p: Principal, sid: str, form: Form, lang: Lang) -> str:
        body = reminder_from_form(form, lang, f"r{reminder_id}")
        out = reminders_api.replace_reminder(ctx, p, sid, reminder_id, body)
        return _sent(lang, out.devices, out.commands_published)

    return await _submit(request, senior_id, f"r{reminder_id}", save)


@router.post("/reminders/{reminder_id}/delete")
async def delete_reminder(request: Request, senior_id: str, reminder_id: int) -> Response:
    """Remove a reminder; the robots get the new schedule."""

    def delete(ctx: ApiContext, p: Principal, sid: str, form: Form, lang: Lang) -> str:
        out = reminders_api.delete_reminder(ctx, p, sid, reminder_id)
        return _sent(lang, out.devices, out.commands_published)

    return await _submit(request, senior_id, f"r{reminder_id}", delete)


# --- quiet hours --------------------------------------------------------------------------------


def _save_quiet(ctx: ApiContext, p: Principal, senior_id: str, form: Form, lang: Lang) -> str:
    raw = {"start": first(form, "start")[:5] or None, "end": first(form, "end")[:5] or None}
    try:
        body = QuietHoursIn.model_validate(raw)
    except ValidationError as e:
        raise field_errors(e, lang, "quiet", {}) from None
    escalation_api.put_quiet_hours(ctx, p, senior_id, body)
    return message(lang, "saved")


@router.post("/quiet")
async def save_quiet(request: Request, senior_id: str) -> Response:
    """Set or clear quiet hours (admin or primary caregiver, as PUT /seniors/{id}/quiet-hours)."""
    return await _submit(request, senior_id, "quiet", _save_quiet)
