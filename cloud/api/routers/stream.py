"""GET /alerts/stream: server-sent events of the caller's new and changed alerts, polled."""

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal, alert_senior_column, senior_filter, visible_seniors
from cloud.accounts.audit import audit
from cloud.api.context import ApiContext
from cloud.api.deps import CARE_ROLES, Caller, Ctx, request_source, roles
from cloud.api.schemas import AlertOut
from cloud.store.models import Alert, Device

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Depends(roles(*CARE_ROLES))])

# Rows committed late with an earlier updated_at are still caught inside this window.
_LOOKBACK = timedelta(seconds=5)
_KEEPALIVE_S = 15.0


def _changed_since(ctx: ApiContext, caller: Principal, floor: datetime) -> list[AlertOut]:
    with ctx.sessions() as session:
        senior = alert_senior_column()
        rows = session.execute(
            select(Alert, senior)
            .outerjoin(Device, Device.id == Alert.device_id)
            .where(
                Alert.updated_at >= floor,
                senior_filter(senior, visible_seniors(session, caller)),
            )
            .order_by(Alert.updated_at, Alert.id)
        )
        return [AlertOut.model_validate(a).model_copy(update={"senior_id": s}) for a, s in rows]


def format_event(alert: AlertOut) -> str:
    """One SSE frame: `event: alert`, the alert as JSON."""
    data = json.dumps(alert.model_dump(mode="json"), ensure_ascii=False)
    return f"id: {alert.id}-{alert.revision}\nevent: alert\ndata: {data}\n\n"


async def alert_events(
    ctx: ApiContext, caller: Principal, request: Request, since: datetime
) -> AsyncIterator[str]:
    """Frames for every alert created or changed after `since`, until the client leaves."""
    sent: dict[int, tuple[int, datetime]] = {}  # alert id -> (revision, updated_at)
    cursor = since
    quiet_s = 0.0
    yield "retry: 2000\n\n"
    while not ctx.shutdown.is_set() and not await request.is_disconnected():
        floor = max(since, cursor - _LOOKBACK)
        for alert in await run_in_threadpool(_changed_since, ctx, caller, floor):
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


def _audit_subscription(ctx: ApiContext, caller: Principal, source: str, since: datetime) -> None:
    """Who subscribed to the live alerts, when, from where (one row per subscription)."""
    with ctx.sessions() as session, session.begin():
        audit(
            session,
            caller,
            "subscribe",
            "alert_stream",
            ctx.clock(),
            resource_id=source,
            detail=f"since {since.isoformat()}",
        )


@router.get("/stream", response_class=StreamingResponse)
async def stream_alerts(
    ctx: Ctx, caller: Caller, request: Request, since: datetime | None = None
) -> StreamingResponse:
    """Live alerts as text/event-stream; `since` (RFC 3339) replays changes after that time."""
    start = since if since is not None and since.tzinfo is not None else ctx.clock()
    await run_in_threadpool(_audit_subscription, ctx, caller, request_source(ctx, request), start)
    return StreamingResponse(
        alert_events(ctx, caller, request, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
