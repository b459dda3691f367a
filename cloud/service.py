"""`CloudService`: one cloud worker in-process: migrate, ingest, send webhooks, serve the API."""

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.dispatcher import DispatchPolicy, WebhookDispatcher
from cloud.alerts.email import SmtpConfig, SmtpMailer
from cloud.alerts.service import AlertChange, AlertEngine
from cloud.alerts.worker import EscalationWorker, utcnow
from cloud.api import create_app
from cloud.app.push import PushNotifier, PushSender
from cloud.errors import CloudError
from cloud.ingest.worker import IngestWorker
from cloud.netpolicy import parse_networks, webhook_url_check
from cloud.settings import CloudSettings
from cloud.store.capacity import sqlite_capacity_warning
from cloud.store.db import make_engine, make_session_factory
from cloud.store.migrate import migrate

log = logging.getLogger(__name__)


class CloudService:
    """Owns the store engine, the ingest worker, the webhook dispatcher and the HTTP server."""

    def __init__(
        self, settings: CloudSettings, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        """`clock`: the time ingest and escalation run on (simulated in scenarios); the webhook
        dispatcher always uses the wall clock (receivers check signature timestamps)."""
        self.settings = settings
        self._clock = clock
        self.ingest_failure: str | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self.worker: IngestWorker | None = None
        self.dispatcher: WebhookDispatcher | None = None
        self.escalation: EscalationWorker | None = None
        self.push: PushNotifier | None = None  # issue 15: the app's Web Push
        self._app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._shutdown = threading.Event()
        self.api_url: str | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The store's session factory (after `start`)."""
        if self._sessions is None:
            raise CloudError("CloudService.start() has not run")
        return self._sessions

    def start(self, mqtt_wait_s: float | None = None) -> None:
        """Migrate the store, start the dispatcher, the escalation worker and MQTT ingest."""
        s = self.settings
        migrate(s.database_url)
        self._engine = make_engine(s.database_url)
        self._sessions = make_session_factory(self._engine)
        too_many = sqlite_capacity_warning(self._sessions)  # issue 16: measured SQLite limit
        if too_many:
            log.warning("%s", too_many)
        self._shutdown.clear()
        alerts = AlertEngine(s.webhook_urls)
        if s.webhook_urls and s.webhook_secret is None:
            log.warning("no DOLBOM_WEBHOOK_SECRET: webhooks are sent unsigned")
        pusher = PushSender(  # the app's Web Push: new alerts, and the escalation's push channel
            self._sessions,
            Path(s.data_dir),
            s.push_subject,
            allow=parse_networks(s.webhook_allow_networks),
        )
        self.dispatcher = WebhookDispatcher(
            self._sessions,
            secret=s.webhook_secret.get_secret_value() if s.webhook_secret else None,
            policy=DispatchPolicy(
                max_attempts=s.webhook_max_attempts,
                backoff_s=s.webhook_backoff_s,
                backoff_max_s=s.webhook_backoff_max_s,
                timeout_s=s.webhook_timeout_s,
            ),
            engine=alerts,
            poll_s=s.dispatcher_poll_s,
            mailer=_mailer(s),
            mail_from=s.smtp_from,
            url_check=webhook_url_check(s.webhook_allow_networks),
            push=pusher,
        )
        self.dispatcher.start()
        dispatcher = self.dispatcher
        clock = self._clock or utcnow
        self.escalation = EscalationWorker(
            self._sessions,
            alerts,
            poll_s=s.escalation_poll_s,
            sweep_s=s.sweep_interval_s,
            on_deliveries=dispatcher.wake,
            clock=clock,
        )
        self.escalation.start()

        self.push = PushNotifier(pusher)
        self.push.start()
        push = self.push

        def wake(change: AlertChange) -> None:
            dispatcher.wake()
            push.notify(change)

        self.worker = IngestWorker(s, self._sessions, alerts=alerts, on_alert=wake, clock=clock)
        self.ingest_failure = None
        try:
            self.worker.start(wait_s=mqtt_wait_s)  # LeaseHeldError: its client id is in use
        except BaseException:
            self.stop()  # the dispatcher and escalation threads must not outlive a failed start
            raise
        log.info("cloud started: store %s, broker %s:%d", _safe_url(s), s.mqtt_host, s.mqtt_port)

    @property
    def app(self) -> FastAPI:
        """The FastAPI app wired to this service (built on first use, after `start`)."""
        if self._app is None:
            self._app = create_app(
                self.settings,
                session_factory=self.sessions,
                publisher=self.worker,
                mqtt_connected=(lambda: self.worker is not None and self.worker.connected),
                ingest_state=(lambda: self.worker.health().state if self.worker else "stopped"),
                shutdown=self._shutdown,
            )
        return self._app

    def _server_for(self) -> tuple[uvicorn.Server, socket.socket]:
        s = self.settings
        sock = socket.socket(socket.AF_INET6 if ":" in s.http_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((s.http_host, s.http_port))
        except OSError as e:
            sock.close()
            where = f"{s.http_host}:{s.http_port}"
            if e.errno == errno.EADDRINUSE:
                raise CloudError(
                    f"{where} 포트를 이미 다른 프로그램이 쓰고 있습니다"
                    " (--port 또는 DOLBOM_HTTP_PORT로 바꾸세요) /"
                    f" port {where} is already in use by another program"
                    " (choose another with --port or DOLBOM_HTTP_PORT)"
                ) from None
            raise CloudError(
                f"{where}에서 API를 열 수 없습니다: {e.strerror} / cannot listen on {where}:"
                f" {e.strerror}"
            ) from None
        host, port = sock.getsockname()[:2]
        self.api_url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        config = uvicorn.Config(
            self.app,
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=3,
            access_log=False,
        )
        return uvicorn.Server(config), sock

    def start_api(self, timeout_s: float = 10.0) -> str:
        """Serve the API from a background thread; return its base URL (port 0 picks one)."""
        server, sock = self._server_for()
        self._server = server
        self._server_thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="cloud-api", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise CloudError(f"the API did not start on {self.api_url}")
            time.sleep(0.02)
        assert self.api_url is not None
        log.info("API listening on %s", self.api_url)
        return self.api_url

    def check_ingest(self) -> str | None:
        """Why this worker must exit (ingest dead, or stuck past `ingest_stuck_exit_s`), or None."""
        if self.worker is None:
            return None
        health = self.worker.health()
        exit_s = self.settings.ingest_stuck_exit_s
        if health.state == "dead":
            return f"ingest died: {health.detail}"
        if health.state == "stuck" and exit_s and health.stuck_for_s >= exit_s:
            return f"ingest stuck: {health.detail}"
        return None

    def _watch(self, server: uvicorn.Server, every_s: float) -> None:
        """Stop the server when ingest fails, so that `serve` exits non-zero (systemd restarts)."""
        while not self._shutdown.wait(every_s):
            failure = self.check_ingest()
            if failure is not None:
                log.critical("%s; stopping so the service manager restarts this worker", failure)
                self.ingest_failure = failure
                server.should_exit = True
                return

    def serve(
        self,
        on_listening: Callable[[str], None] | None = None,
        *,
        watch_s: float = 1.0,
    ) -> None:
        """Start everything and serve the API in the foreground until Ctrl-C / SIGTERM.

        Raises CloudError when ingest died (or stayed stuck), so the process exits non-zero.
        """
        self.start()
        try:
            server, sock = self._server_for()
            self._server = server
            assert self.api_url is not None
            watchdog = threading.Thread(
                target=self._watch, args=(server, watch_s), name="ingest-watch", daemon=True
            )
            watchdog.start()
            if on_listening is not None:
                on_listening(self.api_url)
            server.run(sockets=[sock])
        finally:
            self.stop()
        if self.ingest_failure is not None:
            raise CloudError(
                f"{self.ingest_failure} / 수집(ingest)이 멈췄습니다; 서비스를 재시작해야 합니다"
            )

    def stop(self) -> None:
        """Stop the API, the ingest worker and the dispatcher, joining their threads."""
        self._shutdown.set()  # ends open SSE streams
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(10)
            self._server = None
            self._server_thread = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.escalation is not None:
            self.escalation.stop()
            self.escalation = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
        if self.push is not None:
            self.push.stop()
            self.push = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        log.info("cloud stopped")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


def _mailer(settings: CloudSettings) -> SmtpMailer | None:
    """The SMTP mailer the settings describe, or None when no host is set."""
    s = settings
    if s.smtp_host is None:
        return None
    return SmtpMailer(
        SmtpConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            sender=s.smtp_from,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            starttls=s.smtp_starttls,
            timeout_s=s.smtp_timeout_s,
        )
    )


def _safe_url(settings: CloudSettings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)
