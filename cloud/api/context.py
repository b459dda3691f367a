"""What the API's routers share: sessions, auth, the alert engine, the publisher, the clock."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.passwords import Passwords
from cloud.accounts.ratelimit import LoginLimiter
from cloud.alerts.service import AlertEngine
from cloud.ingest.worker import CommandPublisher


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class ApiContext:
    """Set once by `create_app`, read by every request."""

    sessions: sessionmaker[Session]
    api_token: str
    alerts: AlertEngine
    auth_secret: str = ""
    passwords: Passwords = field(default_factory=Passwords)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    token_ttl_s: int = 900
    cookie_secure: bool = True
    publisher: CommandPublisher | None = None
    mqtt_connected: Callable[[], bool] | None = None
    ingest_state: Callable[[], str] | None = None  # "ok", "stuck", "dead", "stopped"
    clock: Callable[[], datetime] = utcnow
    sse_poll_s: float = 0.25
    shutdown: threading.Event = field(default_factory=threading.Event)
