"""GET /alerts/stream: server-sent events of the caller's new and changed alerts, polled."""

import asyncio
import json
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import (
    Principal,
    alert_senior_column,
    may_see,
    senior_filter,
    viewers,
    visible_seniors,
)
from cloud.accounts.audit import audit
from cloud.api.context import ApiContext
from cloud.api.deps import CARE_ROLES, Caller, Ctx, request_source, roles
from cloud.api.schemas import AlertOut
from cloud.store.models import Alert, Device

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Depends(roles(*CARE_ROLES))])

# Rows committed late with an earlier updated_at are still caught inside this window.
_LOOKBACK = timedelta(seconds=5)
_KEEPALIVE_S = 15.0
_WAKE_S = 1.0  # a stream with nothing new checks this often that its client is still there
_HISTORY = 240  # batches kept for slow streams (a minute at the default 0.25 s)
log = logging.getLogger(__name__)


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


def _changed_for_all(
    ctx: ApiContext, floor: datetime
) -> list[tuple[AlertOut, frozenset[int] | None]]:
    """Every alert created or changed since `floor`, with the accounts that may see its senior
    (None: no senior), in two queries whatever the number of streams."""
    with ctx.sessions() as session:
        senior = alert_senior_column()
        rows = session.execute(
            select(Alert, senior)
            .outerjoin(Device, Device.id == Alert.device_id)
            .where(Alert.updated_at >= floor)
            .order_by(Alert.updated_at, Alert.id)
        ).all()
        who = viewers(session, [s for _, s in rows if s is not None])
        return [
            (
                AlertOut.model_validate(a).model_copy(update={"senior_id": s}),
                who.get(s) if s is not None else None,
            )
            for a, s in rows
        ]


Batch = list[tuple[AlertOut, frozenset[int] | None]]


class AlertFeed:
    """One poll of the alerts for every open stream of this event loop: N streams used to send
    N queries per `sse_poll_s` (1,000 caregivers' pages: 4,000 a second); now one poll, each
    alert with who may see it (`viewers`), kept for the streams a while (`_HISTORY` batches),
    so a stream slowed by its client catches up on every batch it did not see yet."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._streams = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.version = 0  # batches published so far
        # (version, the batch's floor: every change since it is in the batch, the batch)
        self._history: deque[tuple[int, datetime, Batch]] = deque(maxlen=_HISTORY)

    @contextmanager
    def subscribed(self) -> Iterator[None]:
        """Keep the poll running while a stream is open (it stops after the last one)."""
        self._streams += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll(self._ctx.clock()))
        try:
            yield
        finally:
            self._streams -= 1

    async def wait(self, after: int, wait_s: float) -> None:
        """Return once a batch newer than version `after` is out, or after `wait_s`."""
        if self.version <= after:
            with anyio.move_on_after(wait_s):
                await self._ready.wait()

    def since(self, after: int) -> list[tuple[int, datetime, Batch]] | None:
        """The batches newer than version `after`, oldest first; None when some of them are
        no longer kept (the stream must read the store itself)."""
        newer = [h for h in self._history if h[0] > after]
        if newer and newer[0][0] != after + 1:
            return None
        return newer

    async def _poll(self, cursor: datetime) -> None:
        while self._streams and not self._ctx.shutdown.is_set():
            floor = cursor - _LOOKBACK
            try:
                batch = await run_in_threadpool(_changed_for_all, self._ctx, floor)
            except Exception:  # the store away: the streams stay, the next poll retries
                log.exception("live alert feed: the poll failed")
            else:
                for alert, _ in batch:
                    cursor = max(cursor, alert.updated_at)
                self.version += 1
                self._history.append((self.version, floor, batch))
                ready, self._ready = self._ready, asyncio.Event()
                ready.set()
            await anyio.sleep(self._ctx.sse_poll_s)


def alert_feed(request: Request, ctx: ApiContext) -> AlertFeed:
    """The app's feed for the running event loop (created on the first stream)."""
    feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AlertFeed] | None = getattr(
        request.app.state, "alert_feeds", None
    )
    if feeds is None:
        feeds = weakref.WeakKeyDictionary()
        request.app.state.alert_feeds = feeds
    loop = asyncio.get_running_loop()
    if loop not in feeds:
        feeds[loop] = AlertFeed(ctx)
    return feeds[loop]


def format_event(alert: AlertOut) -> str:
    """One SSE frame: `event: alert`, the alert as JSON."""
    data = json.dumps(alert.model_dump(mode="json"), ensure_ascii=False)
    return f"id: {alert.id}-{alert.revision}\nevent: alert\ndata: {data}\n\n"


async def alert_events(
    ctx: ApiContext, caller: Principal, request: Request, since: datetime, feed: AlertFeed
) -> AsyncIterator[str]:
    """Frames for every alert created or changed after `since`, until the client leaves: the
    changes since `since` from the store (scoped there), then the shared feed's batches,
    each alert kept when the caller may see its senior."""
    sent: dict[int, tuple[int, datetime]] = {}  # alert id -> (revision, updated_at) sent
    quiet_s = 0.0
    with feed.subscribed():
        version = feed.version
        replay: list[AlertOut] | None = await run_in_threadpool(_changed_since, ctx, caller, since)
        yield "retry: 2000\n\n"
        caught_up = since  # the floor of the last batch handled: every change since was in it
        while not ctx.shutdown.is_set():
            batches: list[Batch] = []
            if replay is None:  # fell behind the kept batches: read the store from there
                version = feed.version
                replay = await run_in_threadpool(_changed_since, ctx, caller, caught_up)
            if replay:  # scoped by the store's query itself
                batches.append([(a, None) for a in replay])
            newer = feed.since(version)
            if newer is None:
                replay = None
                continue
            scoped, replay = bool(batches), []
            for v, floor, batch in newer:
                version, caught_up = v, floor
                batches.append(batch)
            for k, batch in enumerate(batches):
                for alert, who in batch:
                    if alert.updated_at < since or sent.get(alert.id, (0,))[0] == alert.revision:
                        continue
                    if not (scoped and k == 0) and not may_see(caller, who):
                        continue
                    sent[alert.id] = (alert.revision, alert.updated_at)
                    quiet_s = 0.0
                    yield format_event(alert)
            # Changed before the newest batch's floor: no later batch holds it again.
            sent = {k: v for k, v in sent.items() if v[1] >= caught_up}
            if await request.is_disconnected():
                return
            if quiet_s >= _KEEPALIVE_S:
                quiet_s = 0.0
                yield ": keepalive\n\n"
            waited = time.monotonic()
            await feed.wait(version, _WAKE_S)
            quiet_s += time.monotonic() - waited


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
        alert_events(ctx, caller, request, start, alert_feed(request, ctx)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
