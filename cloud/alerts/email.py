"""The e-mail channel: build a UTF-8 message (pure) and send it over SMTP (stdlib smtplib)."""

import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol


class Mailer(Protocol):
    """Something that sends one e-mail or raises (OSError / smtplib.SMTPException)."""

    def send(self, message: EmailMessage) -> None:
        """Send `message` to its `To` address."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to hand mail over: `DOLBOM_SMTP_*`."""

    host: str
    port: int = 587
    sender: str = "dolbom@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 10.0


def build_message(
    sender: str, to: str, subject: str, body: str, at: datetime, alert_id: int
) -> EmailMessage:
    """A plain-text UTF-8 e-mail; the alert id rides in a header for mail filters."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Dolbom-Alert"] = str(alert_id)
    message.set_content(body, charset="utf-8")
    return message


class SmtpMailer:
    """Sends each message on a fresh SMTP connection (notifications are rare; no pooling)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, message: EmailMessage) -> None:
        """Connect, optionally STARTTLS and log in, send, quit."""
        c = self.config
        with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
            if c.starttls:
                smtp.starttls()
            if c.username:
                smtp.login(c.username, c.password or "")
            smtp.send_message(message)
