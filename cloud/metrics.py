"""Operators' metrics (Prometheus text format at GET /metrics), process-wide.

Counted where the work happens: ingest (messages by outcome, batch sizes, store time per batch,
receipt-to-commit time of critical events, messages received and not yet stored, broker
connection), the dispatcher (notification outcomes by channel). Read from the store at scrape
time: open alerts by severity, robots online. Every name starts `dolbom_`.
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import ACTIVE_ALERT_STATUSES, Alert, Device

REGISTRY = CollectorRegistry(auto_describe=True)

INGEST_MESSAGES = Counter(
    "dolbom_ingest_messages",
    "Messages ingest finished with, by outcome (stored, duplicate, dead_lettered, status, ...).",
    ["outcome"],
    registry=REGISTRY,
)
INGEST_BATCH_SIZE = Histogram(
    "dolbom_ingest_batch_size",
    "Messages per stored batch (one transaction).",
    buckets=(1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000),
    registry=REGISTRY,
)
INGEST_STORE_SECONDS = Histogram(
    "dolbom_ingest_store_seconds",
    "Time to store one batch, commit included.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
ALERT_LATENCY_SECONDS = Histogram(
    "dolbom_alert_latency_seconds",
    "Critical events: from the worker receiving the message to its alert committed.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
    registry=REGISTRY,
)
INGEST_WAITING = Gauge(
    "dolbom_ingest_waiting",
    "Messages received from the broker and not yet stored (the lag this worker can see).",
    registry=REGISTRY,
)
INGEST_CONNECTED = Gauge(
    "dolbom_ingest_broker_connected", "1 while the broker connection is up.", registry=REGISTRY
)
NOTIFICATIONS = Counter(
    "dolbom_notifications",
    "Notification attempts by channel and outcome (delivered, retry, dead).",
    ["channel", "outcome"],
    registry=REGISTRY,
)


class StoreCollector(Collector):
    """Open alerts by severity and robots online, read from the store at each scrape."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterable[GaugeMetricFamily]:
        alerts = GaugeMetricFamily(
            "dolbom_alerts_open", "Open or notified alerts by severity.", labels=["severity"]
        )
        online = GaugeMetricFamily("dolbom_robots_online", "Robots whose last status is online.")
        try:
            with self._sessions() as s:
                rows = s.execute(
                    select(Alert.severity, func.count())
                    .where(Alert.status.in_(ACTIVE_ALERT_STATUSES))
                    .group_by(Alert.severity)
                ).all()
                robots = s.scalar(select(func.count()).select_from(Device).where(Device.online))
        except SQLAlchemyError:
            return  # the store is down: /healthz says so; no made-up numbers here
        for severity, n in rows:
            alerts.add_metric([str(severity)], float(n))
        online.add_metric([], float(robots or 0))
        yield alerts
        yield online


def exposition(sessions: sessionmaker[Session] | None) -> bytes:
    """The process-wide metrics, then the store's, in the Prometheus text format."""
    out = generate_latest(REGISTRY)
    if sessions is not None:
        store = CollectorRegistry(auto_describe=False)
        store.register(StoreCollector(sessions))
        out += generate_latest(store)
    return out
