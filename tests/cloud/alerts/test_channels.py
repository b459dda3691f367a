"""Channels end to end: a real SMTP server gets the Korean e-mail, a real receiver the webhook."""

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine, WebhookDispatcher, verify
from cloud.alerts.email import SmtpConfig, SmtpMailer
from cloud.alerts.messages import render
from cloud.store.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    Severity,
)
from protocol import EventType
from protocol.events import CountdownOutcome, FallPayload
from tests.cloud.alerts.care import FakeClock, make_care, send
from tests.cloud.helpers import WebhookReceiver, wait_until

NOW = datetime(2026, 11, 27, 2, 13, tzinfo=UTC)  # 11:13 in Seoul


class Inbox:
    """An aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1."""
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's start-up check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_a_korean_email_and_a_signed_webhook_reach_the_first_tier(
    sessions: sessionmaker[Session], smtp: tuple[Inbox, int], receiver: WebhookReceiver
) -> None:
    inbox, port = smtp
    care = make_care(
        sessions,
        NOW,
        contacts={
            "딸": (Channel.EMAIL, "daughter@example.org"),
            "hook": (Channel.WEBHOOK, receiver.url),
        },
        tiers=[{"contacts": ["딸", "hook"], "timeout_s": 600}],
        display_name="김순자",
    )
    send(
        sessions,
        care,
        EventType.FALL,
        FallPayload(confidence=0.9, countdown=CountdownOutcome.SILENCE),
        NOW,
    )
    clock = FakeClock(NOW)
    mailer = SmtpMailer(SmtpConfig("127.0.0.1", port, sender="alerts@dolbom.test", starttls=False))
    dispatcher = WebhookDispatcher(
        sessions, secret="s3cret", mailer=mailer, mail_from="alerts@dolbom.test", clock=clock
    )
    try:
        assert dispatcher.run_once() == 2
    finally:
        dispatcher.stop()
    [message] = inbox.messages
    assert message["To"] == "daughter@example.org"
    assert message["Subject"] == "[돌봄] 긴급: 긴급: 어르신이 넘어지신 것 같습니다 (김순자 어르신)"
    body = message.get_content()
    assert "김순자 어르신에 관한 알림입니다." in body
    assert "시각: 2026-11-27 11:13 (Asia/Seoul)" in body
    [hook] = receiver.received
    headers = {k.lower(): v for k, v in hook.headers.items()}
    assert verify(
        "s3cret", headers["x-dolbom-timestamp"], hook.body, headers["x-dolbom-signature"], NOW
    )
    with sessions() as s:
        [alert] = s.query(Alert).filter(Alert.device_id == care.device_id).all()
        assert alert.status is AlertStatus.NOTIFIED


def test_an_email_without_smtp_settings_is_dead_at_once(
    sessions: sessionmaker[Session],
) -> None:
    care = make_care(
        sessions,
        NOW,
        contacts={"son": (Channel.EMAIL, "son@example.org")},
        tiers=[{"contacts": ["son"]}],
    )
    send(
        sessions,
        care,
        EventType.FALL,
        FallPayload(confidence=0.9, countdown=CountdownOutcome.SILENCE),
        NOW,
    )
    dispatcher = WebhookDispatcher(sessions, secret=None, clock=FakeClock(NOW))
    try:
        dispatcher.run_once()
    finally:
        dispatcher.stop()
    with sessions() as s:
        [d] = s.query(Delivery).all()
        assert d.status is DeliveryStatus.DEAD
        assert d.last_error == "e-mail is not configured (DOLBOM_SMTP_HOST)"


def test_english_template_names_the_senior_kind_severity_and_local_time() -> None:
    m = render(
        alert_id=7,
        kind=AlertKind.MOOD_DECLINE,
        severity=Severity.WARNING,
        at=NOW,
        senior_name="Kim Sunja",
        timezone="Asia/Seoul",
        language="en",
    )
    assert m.subject == (
        "[dolbom] Warning: The senior's mood this week is well below their usual (Kim Sunja)"
    )
    assert "When: 2026-11-27 11:13 (Asia/Seoul)" in m.body


def test_every_kind_has_both_languages() -> None:
    for kind in AlertKind:
        for language in ("ko", "en"):
            m = render(
                alert_id=1,
                kind=kind,
                severity=Severity.INFO,
                at=NOW,
                senior_name=None,
                timezone="Asia/Seoul",
                language=language,
            )
            assert m.subject
            assert m.body


def test_webhook_fallback_without_a_policy_still_works(
    sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    care = make_care(sessions, NOW)
    send(
        sessions,
        care,
        EventType.FALL,
        FallPayload(confidence=0.9, countdown=CountdownOutcome.SILENCE),
        NOW,
        engine=AlertEngine([receiver.url]),
    )
    dispatcher = WebhookDispatcher(sessions, secret=None, poll_s=0.02)
    dispatcher.start()
    try:
        wait_until(lambda: receiver.received, what="the fallback webhook")
    finally:
        dispatcher.stop()
