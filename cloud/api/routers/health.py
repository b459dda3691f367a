"""GET /healthz: is the store reachable, is the broker link up, is ingest alive and progressing
(no auth, for probes)."""

import logging

from fastapi import APIRouter, Response, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.deps import Ctx
from cloud.api.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(ctx: Ctx, response: Response) -> Health:
    """200 when the store answers, MQTT is connected and ingest progresses; 503 otherwise."""
    try:
        with ctx.sessions() as session:
            session.execute(text("SELECT 1"))
        db_ok = True
    except SQLAlchemyError as e:
        log.warning("health check: store unreachable: %s", e)
        db_ok = False
    mqtt = ctx.mqtt_connected() if ctx.mqtt_connected is not None else None
    ingest = ctx.ingest_state() if ctx.ingest_state is not None else None
    ok = db_ok and mqtt is not False and ingest in (None, "ok")
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if ok else "degraded", db=db_ok, mqtt=mqtt, ingest=ingest)


@router.get("/readyz")
def readyz(ctx: Ctx, response: Response) -> Health:
    """Ready for traffic (issue 16): the same checks as /healthz; 503 while any fails."""
    return healthz(ctx, response)


@router.get("/livez")
def livez(ctx: Ctx, response: Response) -> Health:
    """Alive (issue 16): 503 only when a loop of this process ended (ingest `dead`), the case a
    restart cures; a store or broker outage is not one (the process waits and retries)."""
    mqtt = ctx.mqtt_connected() if ctx.mqtt_connected is not None else None
    ingest = ctx.ingest_state() if ctx.ingest_state is not None else None
    ok = ingest != "dead"
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if ok else "dead", db=True, mqtt=mqtt, ingest=ingest)
