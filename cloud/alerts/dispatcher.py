"""Delivers stored notifications (webhook, e-mail or Web Push): claimed, sent, retried, or marked
dead."""

import logging
import random
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.email import Mailer, build_message
from cloud.alerts.messages import render
from cloud.alerts.service import AlertEngine
from cloud.alerts.webhook import DELIVERY_HEADER, alert_body, signed_headers
from cloud.metrics import NOTIFICATIONS
from cloud.store.models import Alert, Channel, Contact, Delivery, DeliveryStatus, Senior

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


def retry_delay_s(attempts: int, base_s: float, max_s: float, jitter: float) -> float:
    """Delay after `attempts` failures: base doubling, capped, equal jitter (`jitter` in 0..1)."""
    delay = min(max_s, base_s * 2.0 ** max(0, attempts - 1))
    return delay / 2 + delay / 2 * jitter


@dataclass(frozen=True, slots=True)
class PushResult:
    """One push delivery: how many browsers took it, else why not and whether to stop trying."""

    sent: int
    error: str | None
    permanent: bool = False


class PushChannel(Protocol):
    """Sends an alert by Web Push to one account's browsers (cloud.app.push.PushSender)."""

    def send_to_account(self, alert_id: int, username: str) -> PushResult: ...


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """How hard to try: attempts, backoff, timeout."""

    max_attempts: int = 8
    backoff_s: float = 0.5
    backoff_max_s: float = 300.0
    timeout_s: float = 5.0
    # How long a claimed delivery stays with the node that claimed it; a node that died
    # mid-attempt leaves it to any other once this runs out. None: max(60 s, 4 x timeout).
    lease_s: float | None = None


class WebhookDispatcher:
    """A thread delivering due notifications; pending rows live in the store, so restarts resume."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        secret: str | None,
        policy: DispatchPolicy = DispatchPolicy(),
        engine: AlertEngine | None = None,
        poll_s: float = 0.25,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
        mailer: Mailer | None = None,
        mail_from: str = "dolbom@localhost",
        url_check: Callable[[str], None] | None = None,
        push: PushChannel | None = None,
    ) -> None:
        self._sessions = session_factory
        self._push = push
        self._mailer = mailer
        self._mail_from = mail_from
        # SSRF guard (cloud.netpolicy), run before every webhook POST so DNS rebinding after
        # registration is caught; the operator's own DOLBOM_WEBHOOK_URLS are exempt.
        self._url_check = url_check
        self._secret = secret
        self._policy = policy
        self._engine = engine or AlertEngine()
        self._poll_s = poll_s
        self._clock = clock
        self._jitter = jitter
        # A claimed row is retried by any worker once this lease runs out (crash mid-POST).
        lease_s = policy.lease_s if policy.lease_s is not None else max(60.0, policy.timeout_s * 4)
        self._lease = timedelta(seconds=lease_s)
        self._http = httpx.Client(timeout=policy.timeout_s, follow_redirects=False)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread (after the attempt in flight) and close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._http.close()

    def wake(self) -> None:
        """Look for due deliveries now (a new alert was just stored)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                attempted = self.run_once()
            except Exception:
                log.exception("webhook dispatch pass failed; retrying")
                attempted = 0
            if attempted == 0:
                self._wake.wait(self._poll_s)
                self._wake.clear()

    def run_once(self, limit: int = 20) -> int:
        """Attempt every due delivery once; return how many were attempted."""
        now = self._clock()
        with self._sessions() as session:
            due = session.execute(
                select(Delivery.id, Delivery.attempts)
                .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
            ).all()
        attempted = 0
        for delivery_id, attempts in due:
            if self._stop.is_set():
                break
            if self._claim(delivery_id, attempts, now):
                self._attempt(delivery_id)
                attempted += 1
        return attempted

    def _claim(self, delivery_id: int, attempts: int, now: datetime) -> bool:
        with self._sessions() as session, session.begin():
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.attempts == attempts,
                )
                .values(attempts=attempts + 1, next_attempt_at=now + self._lease)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _attempt(self, delivery_id: int) -> None:
        with self._sessions() as session:
            delivery = session.get_one(Delivery, delivery_id)
            if delivery.channel == Channel.EMAIL.value:
                self._attempt_email(session, delivery)
                return
            if delivery.channel == Channel.PUSH.value:
                alert_id, username = delivery.alert_id, delivery.target
                session.close()  # no transaction open while talking to push services
                self._attempt_push(delivery_id, alert_id, username)
                return
            alert = session.get_one(Alert, delivery.alert_id)
            body = alert_body(alert, delivery.id)
            target = delivery.target
        timestamp = int(self._clock().timestamp())
        headers = signed_headers(self._secret, timestamp, body)
        headers[DELIVERY_HEADER] = str(delivery_id)
        if self._url_check is not None and target not in self._engine.webhook_urls:
            try:
                self._url_check(target)
            except ValueError as e:
                log.warning("alert webhook %d refused: %s", delivery_id, e)
                self._record(delivery_id, "blocked: the target address is not allowed")
                return
        error: str | None = None
        try:
            response = self._http.post(target, content=body, headers=headers)
            if not response.is_success:
                # Only the status: a response body would leak an internal service (SSRF).
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as e:
            error = type(e).__name__
        self._record(delivery_id, error)

    def _attempt_email(self, session: Session, delivery: Delivery) -> None:
        delivery_id, target = delivery.id, delivery.target
        if self._mailer is None:
            self._record(delivery_id, "e-mail is not configured (DOLBOM_SMTP_HOST)", permanent=True)
            return
        alert = session.get_one(Alert, delivery.alert_id)
        senior = session.get(Senior, alert.senior_id) if alert.senior_id else None
        language = session.scalar(
            select(Contact.language).where(
                Contact.senior_id == alert.senior_id,
                Contact.channel == Channel.EMAIL,
                Contact.target == target,
            )
        )
        text = render(
            alert_id=alert.id,
            kind=alert.kind,
            severity=alert.severity,
            at=alert.created_at,
            senior_name=senior.display_name if senior else None,
            timezone=senior.timezone if senior else "Asia/Seoul",
            language=language or (senior.language if senior else "ko"),
        )
        message = build_message(
            self._mail_from, target, text.subject, text.body, self._clock(), alert.id
        )
        session.close()  # no transaction open while talking to the mail server
        error: str | None = None
        try:
            self._mailer.send(message)
        except (OSError, smtplib.SMTPException) as e:
            error = f"{type(e).__name__}: {e}"[:1000]
        self._record(delivery_id, error)

    def _attempt_push(self, delivery_id: int, alert_id: int, username: str) -> None:
        if self._push is None:
            self._record(delivery_id, "Web Push is not configured", permanent=True)
            return
        try:
            result = self._push.send_to_account(alert_id, username)
        except Exception as e:  # a push service's surprise is this delivery's failure only
            log.exception("alert %d: push to %s failed", alert_id, username)
            result = PushResult(0, type(e).__name__)
        self._record(delivery_id, result.error, permanent=result.permanent)

    def _record(self, delivery_id: int, error: str | None, *, permanent: bool = False) -> None:
        now = self._clock()
        with self._sessions() as session, session.begin():
            delivery = session.get_one(Delivery, delivery_id, with_for_update=True)
            if error is None:
                NOTIFICATIONS.labels(delivery.channel, "delivered").inc()
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.last_error = None
                self._engine.mark_notified(
                    session,
                    delivery.alert_id,
                    now,
                    channel=delivery.channel,
                    target=delivery.target,
                )
                log.info("alert %d delivered to %s", delivery.alert_id, delivery.target)
                return
            delivery.last_error = error
            if permanent or delivery.attempts >= self._policy.max_attempts:
                NOTIFICATIONS.labels(delivery.channel, "dead").inc()
                delivery.status = DeliveryStatus.DEAD
                log.error(
                    "alert %d: %s %s is dead after %d attempts: %s",
                    delivery.alert_id,
                    delivery.channel,
                    delivery.target,
                    delivery.attempts,
                    error,
                )
                return
            delay = retry_delay_s(
                delivery.attempts,
                self._policy.backoff_s,
                self._policy.backoff_max_s,
                self._jitter(),
            )
            NOTIFICATIONS.labels(delivery.channel, "retry").inc()
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            log.warning(
                "alert %d: %s %s attempt %d failed (%s); retrying in %.1f s",
                delivery.alert_id,
                delivery.channel,
                delivery.target,
                delivery.attempts,
                error,
                delay,
            )
