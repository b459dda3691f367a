"""GET /alerts/stream: server-sent events of new and changed alerts, polled from the store."""

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cloud.api.context import ApiContext
from cloud.api.deps import Authorized, Ctx
from cloud.api.schemas import AlertOut
from cloud.store.models import Alert

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Authorized])

# Rows committed late with an earlier updated_at are still caught inside this window.
_LOOKBACK = timedelta(seconds=5)
_KEEPALIVE_S = 15.0


def _changed_since(ctx: ApiContext, floor: datetime) -> list[AlertOut]:
    with ctx.sessions() as session:
        rows = session.scalars(
            select(Alert).where(Alert.updated_at >= floor).order_by(Alert.updated_at, Alert.id)
        )
        return [AlertOut.model_validate(a) for a in rows]


def format_event(alert: AlertOut) -> str:
    """One SSE frame: `event: alert`, the alert as JSON."""
    data = json.dumps(alert.model_dump(mode="json"), ensure_ascii=False)
    return f"id: {alert.id}-{alert.revision}\nevent: alert\ndata: {data}\n\n"


async def alert_events(ctx: ApiContext, request: Request, since: datetime) -> AsyncIterator[str]:
    """Frames for every alert created or changed after `since`, until the client leaves."""
    sent: dict[int, tuple[int, datetime]] = {}  # alert id -> (revision, updated_at)
    cursor = since
    quiet_s = 0.0
    yield "retry: 2000\n\n"
    while not ctx.shutdown.is_set() and not await request.is_disconnected():
        floor = max(since, cursor - _LOOKBACK)
        for alert in await run_in_threadpool(_changed_since, ctx, floor):
            cursor = max(cursor, alert.updated_at)
            if sent.get(alert.id, (0,))[0] != alert.revision:
                sent[alert.id] = (alert.revision, alert.updated_at)
                quiet_s = 0.0
                yield format_event(alert)
        sent = {k: v for k, v in sent.items() if v[1] >= floor}
        if quiet_s >= _KEEPALIVE_S:
            quiet_s = 0.0
            yield ": keepalive\n\n"
        await anyio.sleep(ctx.sse_poll_s)
        quiet_s += ctx.sse_poll_s


@router.get("/stream", response_class=StreamingResponse)
async def stream_alerts(
    ctx: Ctx, request: Request, since: datetime | None = None
) -> StreamingResponse:
    """Live alerts as text/event-stream; `since` (RFC 3339) replays changes after that time."""
    start = since if since is not None and since.tzinfo is not None else ctx.clock()
    return StreamingResponse(
        alert_events(ctx, request, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
