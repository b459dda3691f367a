"""`create_app`: the caregiver API, one router per resource, `{"detail": "..."}` errors."""

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from cloud.accounts.passwords import Passwords
from cloud.accounts.ratelimit import LoginLimiter
from cloud.alerts.service import AlertEngine
from cloud.api.context import ApiContext, utcnow
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
    model_packages,
    reminders,
    research,
    seniors,
    stream,
)
from cloud.errors import AlertNotFoundError, AlertStateError, CloudError, ConfigError
from cloud.ingest.worker import CommandPublisher
from cloud.settings import CloudSettings
from cloud.store.db import make_engine, make_session_factory

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


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _auth_secret(settings: CloudSettings) -> str:
    if settings.auth_secret is not None:
        return settings.auth_secret.get_secret_value()
    log.warning(
        "no DOLBOM_AUTH_SECRET: login tokens are signed with a random per-process secret;"
        " they stop working on restart and are not shared between workers"
    )
    return secrets.token_urlsafe(48)


def create_app(
    settings: CloudSettings,
    *,
    session_factory: sessionmaker[Session] | None = None,
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
    app = FastAPI(title="dolbom cloud", version="0.2.0")
    app.state.ctx = ApiContext(
        sessions=session_factory or make_session_factory(make_engine(settings.database_url)),
        api_token=settings.api_token.get_secret_value(),
        alerts=alerts_engine or AlertEngine(settings.webhook_urls),
        auth_secret=_auth_secret(settings),
        passwords=passwords or Passwords(),
        limiter=LoginLimiter(settings.login_max_failures, settings.login_window_s),
        token_ttl_s=settings.auth_token_ttl_s,
        cookie_secure=settings.auth_cookie_secure,
        publisher=publisher,
        mqtt_connected=mqtt_connected,
        ingest_state=ingest_state,
        clock=clock,
        sse_poll_s=settings.sse_poll_s,
        shutdown=shutdown or threading.Event(),
    )
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(accounts.router)
    app.include_router(stream.router)  # before /alerts/{id} so "stream" is not read as an id
    app.include_router(alerts.router)
    app.include_router(seniors.router)
    app.include_router(caregivers.router)
    app.include_router(devices.router)
    app.include_router(contacts.router)
    app.include_router(escalation.router)
    app.include_router(reminders.router)
    app.include_router(events.router)
    app.include_router(model_packages.router)
    app.include_router(research.router)

    @app.exception_handler(CloudError)
    async def _cloud_error(_request: Request, exc: CloudError) -> JSONResponse:
        code = next((c for t, c in _STATUS.items() if isinstance(exc, t)), None)
        if code is None:
            log.error("unhandled cloud error: %s", exc)
            code = status.HTTP_500_INTERNAL_SERVER_ERROR
        headers = None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after_s)}
        elif isinstance(exc, AuthError):
            headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_request: Request, _exc: Exception) -> JSONResponse:
        # An id or number larger than the store's integers (found by the OpenAPI fuzz test).
        return JSONResponse(
            {"detail": "a number in the request is out of range"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": _describe(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )

    return app
