"""GET /metrics: Prometheus metrics of this process and of the store (no auth, like /healthz:
counts only, nothing about a senior; keep it on the operators' network)."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from cloud.api.deps import Ctx
from cloud.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(ctx: Ctx) -> Response:
    """Ingest rate and lag, batch sizes, store time, alert latency, notification outcomes,
    open alerts by severity, robots online."""
    return Response(exposition(ctx.sessions), media_type=CONTENT_TYPE_LATEST)
