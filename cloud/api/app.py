"""`create_app`: the caregiver API, one router per resource, `{"detail": "..."}` errors."""

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.accounts.access import Principal
from cloud.accounts.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from cloud.accounts.passwords import Passwords
from cloud.alerts.service import AlertEngine
from cloud.api.context import ApiContext, utcnow
from cloud.api.deps import audit_denial, request_source
from cloud.api.routers import (
    accounts,
    alerts,
    auth,
    caregivers,
    contacts,
    devices,
    escalation,
    events,
    health,
    messages,
    metrics,
    model_packages,
    organisations,
    reminders,
    research,
    seniors,
    stream,
)
from cloud.api.validation import describe
from cloud.app import install as install_app
from cloud.errors import (
    AlertNotFoundError,
    AlertStateError,
    CloudError,
    ConfigError,
    both,
    is_bilingual,
)
from cloud.ingest.worker import CommandPublisher
from cloud.netpolicy import parse_networks
from cloud.settings import CloudSettings
from cloud.store.db import make_engine, make_reports_engine, make_session_factory
from protocol.release import version

log = logging.getLogger(__name__)

_STATUS: dict[type[CloudError], int] = {
    AuthError: status.HTTP_401_UNAUTHORIZED,
    ForbiddenError: status.HTTP_403_FORBIDDEN,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    AlertNotFoundError: status.HTTP_404_NOT_FOUND,
    AlertStateError: status.HTTP_409_CONFLICT,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidInputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    RateLimitedError: status.HTTP_429_TOO_MANY_REQUESTS,
}


def _auth_secret(settings: CloudSettings) -> str:
    if settings.auth_secret is not None:
        return settings.auth_secret.get_secret_value()
    log.warning(
        "no DOLBOM_AUTH_SECRET: login tokens are signed with a random per-process secret;"
        " they stop working on restart and are not shared between workers"
    )
    return secrets.token_urlsafe(48)


_TOO_DEEP = both("요청 본문이 너무 깊게 중첩되었습니다", "the request body is nested too deeply")
_OUT_OF_RANGE = both("요청의 숫자가 범위를 벗어났습니다", "a number in the request is out of range")
# Starlette's own errors (an unknown path, a wrong method): its English phrase after the Korean.
_PHRASES_KO = {
    status.HTTP_401_UNAUTHORIZED: "로그인이 필요합니다",
    status.HTTP_403_FORBIDDEN: "권한이 없습니다",
    status.HTTP_404_NOT_FOUND: "찾을 수 없습니다",
    status.HTTP_405_METHOD_NOT_ALLOWED: "이 주소에서 쓸 수 없는 메서드입니다",
    status.HTTP_406_NOT_ACCEPTABLE: "받을 수 있는 형식으로 응답할 수 없습니다",
    status.HTTP_413_CONTENT_TOO_LARGE: "요청이 너무 큽니다",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "지원하지 않는 형식입니다",
}


def _in_both(exc: StarletteHTTPException) -> StarletteHTTPException:
    """The same error with a bilingual detail (unchanged when it already is one)."""
    if not isinstance(exc.detail, str) or is_bilingual(exc.detail):
        return exc
    korean = _PHRASES_KO.get(exc.status_code, "요청을 처리할 수 없습니다")
    return StarletteHTTPException(exc.status_code, both(korean, exc.detail), headers=exc.headers)


_AUDITED = (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND)


def _write_denial(
    ctx: ApiContext, principal: Principal | None, source: str, code: int, what: str
) -> None:
    try:
        with ctx.sessions() as session, session.begin():
            audit_denial(ctx, session, principal, source, f"http_{code}", what)
    except SQLAlchemyError as e:  # the audit must not turn a 4xx into a 500
        log.warning("denial not audited: %s", e)


async def _audit_denial(request: Request, code: int) -> None:
    """Audit a 401/403/404-by-scope (coalesced per source and minute)."""
    ctx: ApiContext = request.app.state.ctx
    principal: Principal | None = getattr(request.state, "principal", None)
    what = f"{request.method} {request.url.path}"[:300]
    source = request_source(ctx, request)
    await run_in_threadpool(_write_denial, ctx, principal, source, code, what)


_ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "Every error: one message, '한국어 / English', after its field path if any.",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}


def _errors_as_documented(app: FastAPI) -> None:
    """The spec documents 422 as FastAPI's list of errors; this API answers `{"detail": str}`
    (found by the schemathesis response-conformance check), so the spec says that."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            spec.setdefault("components", {}).setdefault("schemas", {})["HTTPValidationError"] = (
                _ERROR_SCHEMA
            )
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _report_sessions(settings: CloudSettings) -> sessionmaker[Session] | None:
    """Read-only sessions on DOLBOM_REPORTS_DATABASE_URL (a replica); None: the primary's."""
    if not settings.reports_database_url:
        return None
    return make_session_factory(make_reports_engine(settings.reports_database_url))


def create_app(
    settings: CloudSettings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    report_session_factory: sessionmaker[Session] | None = None,
    publisher: CommandPublisher | None = None,
    mqtt_connected: Callable[[], bool] | None = None,
    ingest_state: Callable[[], str] | None = None,
    alerts_engine: AlertEngine | None = None,
    clock: Callable[[], datetime] = utcnow,
    shutdown: threading.Event | None = None,
    passwords: Passwords | None = None,
) -> FastAPI:
    """Build the API; without a session factory it opens `settings.database_url` (migrated)."""
    if settings.api_token is None or not settings.api_token.get_secret_value():
        raise ConfigError("the API needs a token: set DOLBOM_API_TOKEN")
    app = FastAPI(title="dolbom cloud", version=version())
    app.state.ctx = ApiContext(
        sessions=session_factory or make_session_factory(make_engine(settings.database_url)),
        api_token=settings.api_token.get_secret_value(),
        alerts=alerts_engine or AlertEngine(settings.webhook_urls),
        auth_secret=_auth_secret(settings),
        passwords=passwords or Passwords(),
        max_failures=settings.login_max_failures,
        account_max_failures=settings.login_account_max_failures,
        window_s=settings.login_window_s,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        webhook_allow=parse_networks(settings.webhook_allow_networks),
        token_ttl_s=settings.auth_token_ttl_s,
        cookie_secure=settings.auth_cookie_secure,
        publisher=publisher,
        mqtt_connected=mqtt_connected,
        ingest_state=ingest_state,
        clock=clock,
        sse_poll_s=settings.sse_poll_s,
        shutdown=shutdown or threading.Event(),
        report_sessions=report_session_factory or _report_sessions(settings),
    )
    app.include_router(health.router)
    app.include_router(metrics.router)  # issue 16: Prometheus
    app.include_router(auth.router)
    app.include_router(accounts.router)
    app.include_router(stream.router)  # before /alerts/{id} so "stream" is not read as an id
    app.include_router(alerts.router)
    app.include_router(seniors.router)
    app.include_router(caregivers.router)
    app.include_router(organisations.router)  # issue 15: agencies, regions, staff
    app.include_router(devices.router)
    app.include_router(contacts.router)
    app.include_router(escalation.router)
    app.include_router(escalation.quiet_router)
    app.include_router(reminders.router)
    app.include_router(messages.router)
    app.include_router(events.router)
    app.include_router(model_packages.router)
    app.include_router(research.router)
    install_app(app, settings)  # issue 15: the caregivers' pages under /app

    _errors_as_documented(app)

    @app.exception_handler(CloudError)
    async def _cloud_error(request: Request, exc: CloudError) -> JSONResponse:
        code = next((c for t, c in _STATUS.items() if isinstance(exc, t)), None)
        if code is None:
            log.error("unhandled cloud error: %s", exc)
            code = status.HTTP_500_INTERNAL_SERVER_ERROR
        if code in _AUDITED:
            await _audit_denial(request, code)
        headers = None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after_s)}
        elif isinstance(exc, AuthError):
            headers = {"WWW-Authenticate": "Bearer"}
        detail = str(exc)
        if code == status.HTTP_500_INTERNAL_SERVER_ERROR and not is_bilingual(detail):
            detail = both("서버가 요청을 처리하지 못했습니다", detail)
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_request: Request, _exc: Exception) -> JSONResponse:
        # An id or number larger than the store's integers (found by the OpenAPI fuzz test).
        return JSONResponse(
            {"detail": _OUT_OF_RANGE},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # 401/403 from the auth dependencies; a 404 for an unknown path is not a denial.
        if exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            await _audit_denial(request, exc.status_code)
        return await http_exception_handler(request, _in_both(exc))

    @app.exception_handler(RecursionError)
    async def _too_deep(_request: Request, _exc: Exception) -> JSONResponse:
        # Deeply nested JSON (found by the schemathesis fuzz test): a client error, never a 500.
        return JSONResponse(
            {"detail": _TOO_DEEP},
            status_code=status.HTTP_400_BAD_REQUEST,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": describe(exc.errors())}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )

    return app
