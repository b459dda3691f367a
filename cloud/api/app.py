"""`create_app`: the caregiver API, one router per resource, `{"detail": "..."}` errors."""

import threading
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.service import AlertEngine
from cloud.api.context import ApiContext, utcnow
from cloud.api.routers import alerts, devices, health, stream
from cloud.errors import AlertNotFoundError, AlertStateError, ConfigError
from cloud.ingest.worker import CommandPublisher
from cloud.settings import CloudSettings
from cloud.store.db import make_engine, make_session_factory


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(
    settings: CloudSettings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    publisher: CommandPublisher | None = None,
    mqtt_connected: Callable[[], bool] | None = None,
    alerts_engine: AlertEngine | None = None,
    clock: Callable[[], datetime] = utcnow,
    shutdown: threading.Event | None = None,
) -> FastAPI:
    """Build the API; without a session factory it opens `settings.database_url` (migrated)."""
    if settings.api_token is None or not settings.api_token.get_secret_value():
        raise ConfigError("the API needs a token: set DOLBOM_API_TOKEN")
    app = FastAPI(title="dolbom cloud", version="0.1.0")
    app.state.ctx = ApiContext(
        sessions=session_factory or make_session_factory(make_engine(settings.database_url)),
        api_token=settings.api_token.get_secret_value(),
        alerts=alerts_engine or AlertEngine(settings.webhook_urls),
        publisher=publisher,
        mqtt_connected=mqtt_connected,
        clock=clock,
        sse_poll_s=settings.sse_poll_s,
        shutdown=shutdown or threading.Event(),
    )
    app.include_router(health.router)
    app.include_router(stream.router)  # before /alerts/{id} so "stream" is not read as an id
    app.include_router(alerts.router)
    app.include_router(devices.router)

    @app.exception_handler(AlertNotFoundError)
    async def _not_found(_request: Request, exc: AlertNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(AlertStateError)
    async def _conflict(_request: Request, exc: AlertStateError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": _describe(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )

    return app
