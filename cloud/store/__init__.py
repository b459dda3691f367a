"""The store: typed tables, engines for SQLite and PostgreSQL, packaged migrations."""

from cloud.store.db import make_engine, make_session_factory
from cloud.store.migrate import current_revision, head_revision, migrate
from cloud.store.models import (
    ACTIVE_ALERT_STATUSES,
    Alert,
    AlertKind,
    AlertStatus,
    AlertTransition,
    Base,
    DeadLetter,
    Delivery,
    DeliveryStatus,
    Device,
    Event,
    Severity,
)

__all__ = [
    "ACTIVE_ALERT_STATUSES",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "AlertTransition",
    "Base",
    "DeadLetter",
    "Delivery",
    "DeliveryStatus",
    "Device",
    "Event",
    "Severity",
    "current_revision",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "migrate",
]
