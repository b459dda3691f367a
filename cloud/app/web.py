"""What every page shares: templates, language, the login cookie, CSRF and security headers."""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from cloud.accounts.access import Principal
from cloud.accounts.errors import AuthError
from cloud.api.context import ApiContext
from cloud.api.deps import COOKIE_NAME, principal_for
from cloud.app.i18n import (
    LANG_COOKIE,
    LANGS,
    Lang,
    local_datetime,
    message,
    pick_language,
    translations,
)
from cloud.app.reasons import reason_text

PREFIX = "/app"
CSRF_COOKIE = "dolbom_csrf"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 8_192
_HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none';"
    " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _environment(lang: Lang) -> Environment:
    """The templates in one language: Jinja2's i18n extension with that Babel catalogue.

    `_("key", n=3)` is newstyle gettext (`%(n)s` filled in, values escaped). A translation is
    text, escaped like any value (install_gettext_translations would trust it as markup), so
    the pages read exactly as the catalogue's words, quotes and all."""
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,  # a missing value is an error in the tests, not a blank
        extensions=["jinja2.ext.i18n"],
    )
    catalogue = translations(lang)

    def gettext(key: str) -> Markup:
        return escape(catalogue.gettext(key))

    def ngettext(singular: str, plural: str, n: int) -> Markup:
        return escape(catalogue.ngettext(singular, plural, n))

    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


templates: dict[Lang, Environment] = {lang: _environment(lang) for lang in LANGS}


def context(request: Request) -> ApiContext:
    """The ApiContext `create_app` stored on the app."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def language(request: Request) -> Lang:
    """The language of this request: the switch's cookie, else Accept-Language."""
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def signed_in(request: Request) -> Principal | None:
    """The caller the login cookie names, or None (no cookie, expired, logged out, disabled)."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    try:
        principal = principal_for(context(request), token)
    except AuthError:
        return None
    request.state.principal = principal  # a later denial's audit names the caller
    return principal


def _csrf_seed(request: Request) -> tuple[str, bool]:
    """The browser's CSRF seed cookie, or a new one (True: it must be set on the response)."""
    seed = request.cookies.get(CSRF_COOKIE)
    if seed and 16 <= len(seed) <= 64:
        return seed, False
    cached: str | None = getattr(request.state, "csrf_seed", None)
    if cached is None:
        cached = secrets.token_urlsafe(24)
        request.state.csrf_seed = cached
    return cached, True


def csrf_token(ctx: ApiContext, seed: str) -> str:
    """The token every form carries: an HMAC of the browser's seed cookie (double submit)."""
    mac = hmac.new(ctx.auth_secret.encode(), f"csrf|{seed}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def csrf_ok(request: Request, form: Mapping[str, str]) -> bool:
    """True when the form's token matches the browser's seed cookie."""
    seed = request.cookies.get(CSRF_COOKIE)
    given = form.get(CSRF_FIELD, "")
    if not seed or not given:
        return False
    return hmac.compare_digest(given.encode(), csrf_token(context(request), seed).encode())


async def read_form(request: Request) -> dict[str, str] | None:
    """A small url-encoded form (first value of each field); None when it is not one."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # bad UTF-8 or too many fields
        return None
    return {k: v[0] for k, v in fields.items()}


def local_time(ts: datetime | None, tz: str, lang: Lang) -> str:
    """A time in the senior's zone, e.g. '12-05 14:03'; '-' for none."""
    if ts is None:
        return message(lang, "never")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=ZoneInfo("UTC"))
    return local_datetime(ts, zone, lang)


def ago(ts: datetime | None, now: datetime, lang: Lang) -> str:
    """How long ago, in minutes under two hours, else hours."""
    if ts is None:
        return message(lang, "never")
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=now.tzinfo)
    minutes = max(0, int((now - ts).total_seconds() // 60))
    if minutes < 120:
        return message(lang, "minutes_ago", n=minutes)
    return message(lang, "hours_ago", n=minutes // 60)


def render(
    request: Request,
    name: str,
    values: Mapping[str, Any],
    *,
    status_code: int = 200,
    principal: Principal | None = None,
) -> HTMLResponse:
    """A page or fragment in the request's language, with a CSRF token and security headers."""
    ctx = context(request)
    lang = language(request)
    seed, new_seed = _csrf_seed(request)

    html = (
        templates[lang]
        .get_template(name)
        .render(
            {
                "lang": lang,
                "csrf": csrf_token(ctx, seed),
                "csrf_field": CSRF_FIELD,
                "user": principal,
                "path": request.url.path,
                "now": ctx.clock(),
                "local": lambda ts, tz: local_time(ts, tz, lang),
                "ago": lambda ts: ago(ts, ctx.clock(), lang),
                "why": lambda reason, tz: reason_text(reason, lang, ctx.clock(), tz),
                **values,
            }
        )
    )
    response = HTMLResponse(html, status_code=status_code)
    secure_response(response, ctx)
    if new_seed:
        response.set_cookie(
            CSRF_COOKIE,
            seed,
            httponly=True,
            secure=ctx.cookie_secure,
            samesite="strict",
            path=PREFIX,
        )
    return response


def secure_response(response: Response, ctx: ApiContext) -> Response:
    """Security headers and no caching (pages carry a senior's data)."""
    for key, value in SECURITY_HEADERS.items():
        response.headers[key] = value
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response
