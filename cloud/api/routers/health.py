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
