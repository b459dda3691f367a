"""What the API's routers share: sessions, auth, the alert engine, the publisher, the clock."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.audit import DenialCoalescer
from cloud.accounts.passwords import Passwords
from cloud.alerts.service import AlertEngine
from cloud.ingest.worker import CommandPublisher
from cloud.netpolicy import IPNetwork, Resolver, system_resolver


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
    max_failures: int = 5  # login limits, see cloud.accounts.ratelimit
    account_max_failures: int = 20
    window_s: float = 60.0
    token_ttl_s: int = 900
    cookie_secure: bool = True
    publisher: CommandPublisher | None = None
    mqtt_connected: Callable[[], bool] | None = None
    ingest_state: Callable[[], str] | None = None  # "ok", "stuck", "dead", "stopped"
    clock: Callable[[], datetime] = utcnow
    sse_poll_s: float = 0.25
    shutdown: threading.Event = field(default_factory=threading.Event)
    trusted_proxies: tuple[IPNetwork, ...] = ()
    webhook_allow: tuple[IPNetwork, ...] = ()
    resolve: Resolver = system_resolver
    denials: DenialCoalescer = field(default_factory=DenialCoalescer)
    # Read-only sessions for reports and exports: DOLBOM_REPORTS_DATABASE_URL, else `sessions`.
    report_sessions: sessionmaker[Session] | None = None

    def reports(self) -> sessionmaker[Session]:
        """Sessions for the research report, summary and exports (the replica if set)."""
        return self.report_sessions or self.sessions
