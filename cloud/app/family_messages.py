"""/app/seniors/{id}/messages: a caregiver writes a short message; the robot says it when the
senior is there (not in quiet hours, not during a safety check) and the page shows "heard at
HH:MM". Through the API's handlers (`cloud.api.routers.messages`): scoping, audit, the
`say_message` command to the robot."""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal, get_senior
from cloud.accounts.errors import ConflictError, NotFoundError
from cloud.api.context import ApiContext
from cloud.api.routers import messages as messages_api
from cloud.api.schemas import MessageIn, MessageOut
from cloud.app.family import FormErrors, field_errors, first, read_form_values
from cloud.app.i18n import Lang, message
from cloud.app.pages import _caller, _Denied, _deny, _login_redirect
from cloud.app.web import PREFIX, context, csrf_ok, language, render
from cloud.store.models import Senior

router = APIRouter(prefix=f"{PREFIX}/seniors/{{senior_id}}/messages", include_in_schema=False)

VALID_HOURS = (3, 12, 24, 48)
LIST_REFRESH_S = 30


def _load(ctx: ApiContext, principal: Principal, senior_id: str) -> tuple[Senior, list[MessageOut]]:
    with ctx.sessions() as session:
        senior = get_senior(session, principal, senior_id)
        session.expunge(senior)
    return senior, messages_api.recent(ctx, principal, senior_id)


def _render(
    request: Request,
    principal: Principal,
    senior: Senior,
    sent: list[MessageOut],
    *,
    notice: str | None = None,
    form: dict[str, list[str]] | None = None,
    errors: dict[str, str] | None = None,
    code: int = 200,
) -> Response:
    form = form or {}
    values = {
        "senior": senior,
        "sent": sent,
        "notice": notice,
        "errors": errors or {},
        "sender": first(form, "sender") if form else principal.display_name[:40],
        "text": first(form, "text") if form else "",
        "valid_hours": first(form, "valid_hours") if form else "12",
        "hours": VALID_HOURS,
        "refresh_s": LIST_REFRESH_S,
    }
    name = "messages.html.j2"
    if request.headers.get("hx-request") == "true" and request.method == "GET":
        name = "messages_list.html.j2"  # the list's periodic refresh
    return render(request, name, values, status_code=code, principal=principal)


@router.get("")
def messages_page(request: Request, senior_id: str) -> Response:
    """The message form and the latest messages with what became of each."""
    try:
        principal = _caller(request)
        if principal is None:
            return _login_redirect(request)
        try:
            senior, sent = _load(context(request), principal, senior_id[:64])
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, getattr(request.state, "principal", None), denied)
    return _render(request, principal, senior, sent)


def _send(
    ctx: ApiContext, principal: Principal, senior_id: str, form: dict[str, list[str]], lang: Lang
) -> str:
    raw = {
        "sender": first(form, "sender"),
        "text": first(form, "text"),
        "valid_hours": first(form, "valid_hours") or "12",
    }
    try:
        body = MessageIn.model_validate(raw)
    except ValidationError as e:
        raise field_errors(e, lang, "msg", {}) from None
    out = messages_api.send_message(ctx, principal, senior_id, body)
    if out.commands_published == 0:
        return message(lang, "msg_not_sent")
    return message(lang, "msg_sent")


@router.post("")
async def send(request: Request, senior_id: str) -> Response:
    """Send a message (CSRF-checked); errors next to their field, nothing sent."""
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
            notice = await run_in_threadpool(_send, ctx, principal, senior_id, form, lang)
        except FormErrors as e:
            errors, code = e.errors, 422
        except ConflictError:
            errors, code = {"msg": message(lang, "msg_too_many")}, 409
        except NotFoundError:
            raise _Denied(404, "not_found") from None
        try:
            senior, sent = await run_in_threadpool(_load, ctx, principal, senior_id)
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return await run_in_threadpool(_deny, request, principal, denied)
    if request.headers.get("hx-request") == "true":
        code = 200  # htmx swaps only 2xx answers
    return _render(
        request,
        principal,
        senior,
        sent,
        notice=notice,
        form=form if errors else None,
        errors=errors,
        code=code,
    )
