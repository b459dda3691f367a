"""Web Push for the app: the server's VAPID key (made on first use, kept in the data dir), the
browsers' subscriptions, an alert's notification sent to the seniors' caregivers, and the
escalation's `push` channel (one contact's account, or each member of the organisation's staff
a group contact names; sent by the alert dispatcher)."""

import base64
import binascii
import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pywebpush import WebPushException, webpush
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.access import Principal, alert_senior_column, visible_seniors
from cloud.alerts import audience
from cloud.alerts.dispatcher import PushResult
from cloud.alerts.service import AlertChange
from cloud.app.i18n import Lang, message
from cloud.errors import both
from cloud.netpolicy import (
    BlockedAddressError,
    IPNetwork,
    Resolver,
    check_webhook_url,
    system_resolver,
)
from cloud.store.models import (
    Account,
    Alert,
    CaregiverLink,
    Channel,
    Contact,
    Device,
    PushSubscription,
    Senior,
)

log = logging.getLogger(__name__)

KEY_FILE = "vapid_private.pem"
PUSH_TTL_S = 24 * 3600
_lock = threading.Lock()

_B64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+={0,2}$", max_length=200)]


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SubscriptionKeys(BaseModel):
    """The browser's ECDH public key (P-256, uncompressed) and its 16-byte auth secret."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    p256dh: _B64
    auth: _B64

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        raw = _unb64(value)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("p256dh must be an uncompressed P-256 point (65 bytes)")
        return value

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        if len(_unb64(value)) != 16:
            raise ValueError("auth must be 16 bytes")
        return value


class SubscriptionIn(BaseModel):
    """`PushSubscription.toJSON()` from the browser (expirationTime and the rest ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    endpoint: str = Field(min_length=10, max_length=2000, pattern=r"^https?://\S+$")
    keys: SubscriptionKeys


def parse_subscription(body: bytes) -> SubscriptionIn | None:
    """The subscription in a JSON body, or None when it is not a valid one."""
    if len(body) > 4096:
        return None
    try:
        return SubscriptionIn.model_validate(json.loads(body))
    except (ValueError, RecursionError, binascii.Error):  # ValidationError is a ValueError
        return None


def vapid_key(data_dir: Path) -> Vapid:
    """The server's VAPID key: read from `data_dir`, or made and saved (0600) on first use."""
    path = data_dir / KEY_FILE
    with _lock:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            key = Vapid()
            key.generate_keys()
            pem: bytes = key.private_pem()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            log.info("made a new VAPID key in %s", path)
        return Vapid.from_file(str(path))


def public_key(key: Vapid) -> str:
    """The applicationServerKey a browser subscribes with (base64url, no padding)."""
    raw = key.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check_endpoint(
    endpoint: str, allow: Sequence[IPNetwork], resolve: Resolver, *, registering: bool
) -> None:
    """BlockedAddressError unless the endpoint is https (or in the allow-list) and public."""
    if not endpoint.startswith("https://") and not allow:
        raise BlockedAddressError(
            both("푸시 엔드포인트는 https여야 합니다", "push endpoint must be https")
        )
    check_webhook_url(endpoint, allow, resolve, allow_unresolved=registering)


def save_subscription(
    session: Session, account_id: int, sub: SubscriptionIn, now: datetime
) -> PushSubscription:
    """Store (or move to this account, or refresh the keys of) the browser's subscription."""
    row = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == sub.endpoint))
    if row is None:
        row = PushSubscription(endpoint=sub.endpoint, created_at=now, account_id=account_id)
        session.add(row)
    row.account_id = account_id
    row.p256dh = sub.keys.p256dh
    row.auth = sub.keys.auth
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class PushTarget:
    """One browser to notify."""

    id: int
    endpoint: str
    p256dh: str
    auth: str


def alert_payload(alert: Alert, senior_name: str, lang: Lang) -> dict[str, str]:
    """What the notification says: the kind and the senior's name, never any words."""
    kind, status = f"kind_{alert.kind.value}", f"st_{alert.status.value}"  # msgids.py
    return {
        "title": f"{message(lang, kind)} — {senior_name}",
        "body": message(lang, status),
        "url": f"/app/alerts/{alert.id}",
        "tag": f"alert-{alert.id}",
        "alert_id": str(alert.id),
    }


Post = Callable[..., Any]


class PushSender:
    """Sends an alert to every browser subscribed by a caregiver linked to its senior."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path,
        subject: str,
        *,
        allow: Sequence[IPNetwork] = (),
        resolve: Resolver | None = None,
        post: Post = webpush,
        lang: Lang = "ko",
        timeout_s: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._data_dir = data_dir
        self._subject = subject
        self._allow = tuple(allow)
        self._resolve = resolve or system_resolver
        self._post = post
        self._lang = lang
        self._timeout_s = timeout_s

    def _alert(self, session: Session, alert_id: int) -> tuple[Alert, str, str] | None:
        """The alert, its senior's id and name; None when it has no senior."""
        row = session.execute(
            select(Alert, alert_senior_column())
            .outerjoin(Device, Device.id == Alert.device_id)
            .where(Alert.id == alert_id)
        ).one_or_none()
        if row is None or row[1] is None:
            return None
        alert, senior_id = row[0], str(row[1])
        senior = session.get(Senior, senior_id)
        return alert, senior_id, senior.display_name if senior else senior_id

    def _targets(self, alert_id: int) -> tuple[dict[str, str], list[PushTarget]] | None:
        with self._sessions() as session:
            found = self._alert(session, alert_id)
            if found is None:
                return None
            alert, senior_id, name = found
            payload = alert_payload(alert, name, self._lang)
            # A push contact of the senior, or a member of a group a push contact names, hears
            # through the escalation (the dispatcher), once.
            escalated = set(
                session.scalars(
                    select(Contact.account_id).where(
                        Contact.senior_id == senior_id,
                        Contact.channel == Channel.PUSH,
                        Contact.account_id.is_not(None),
                    )
                )
            )
            for group in session.scalars(
                select(Contact.target).where(
                    Contact.senior_id == senior_id,
                    Contact.channel == Channel.PUSH,
                    Contact.target.in_(audience.GROUPS),
                )
            ):
                escalated.update(i for i, _ in audience.members(session, senior_id, group))
            subs = session.scalars(
                select(PushSubscription)
                .join(CaregiverLink, CaregiverLink.account_id == PushSubscription.account_id)
                .where(CaregiverLink.senior_id == senior_id)
                .order_by(PushSubscription.id)
            )
            return payload, [
                PushTarget(s.id, s.endpoint, s.p256dh, s.auth)
                for s in subs
                if s.account_id not in escalated
            ]

    def _post_all(
        self, payload: dict[str, str], targets: Sequence[PushTarget]
    ) -> tuple[int, list[str], bool]:
        """Post to each browser: (how many accepted, why the others failed, any worth a retry).
        Subscriptions the push service says are gone (404/410) are dropped."""
        key = vapid_key(self._data_dir)
        data = json.dumps(payload, ensure_ascii=False)
        sent, gone, errors, retry = 0, [], [], False
        for target in targets:
            try:
                check_endpoint(target.endpoint, self._allow, self._resolve, registering=False)
                self._post(
                    subscription_info={
                        "endpoint": target.endpoint,
                        "keys": {"p256dh": target.p256dh, "auth": target.auth},
                    },
                    data=data,
                    vapid_private_key=key,
                    vapid_claims={"sub": self._subject},
                    ttl=PUSH_TTL_S,
                    timeout=self._timeout_s,
                )
                sent += 1
            except WebPushException as e:
                status = e.response.status_code if e.response is not None else None
                if status is None:  # refused before sending (e.g. an invalid p256dh key)
                    errors.append(f"subscription {target.id}: unusable keys")
                elif status in (404, 410):
                    gone.append(target.id)
                    errors.append(f"subscription {target.id}: gone (HTTP {status})")
                else:
                    retry = retry or status == 429 or status >= 500
                    errors.append(f"subscription {target.id}: HTTP {status}")
                log.warning("push to subscription %d failed: %s", target.id, status or e)
            except BlockedAddressError as e:
                errors.append(f"subscription {target.id}: blocked: the address is not allowed")
                log.warning("push to subscription %d not sent: %s", target.id, e)
            except requests.RequestException as e:
                retry = True
                errors.append(f"subscription {target.id}: {type(e).__name__}")
                log.warning("push to subscription %d not sent: %s", target.id, e)
            except (ValueError, TypeError) as e:  # a stored key the encryption cannot use
                errors.append(f"subscription {target.id}: unusable keys")
                log.warning("push to subscription %d not sent: %s", target.id, e)
        if gone:
            with self._sessions() as session, session.begin():
                session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
        return sent, errors, retry

    def send_alert(self, alert_id: int) -> int:
        """Push the alert; return how many browsers accepted it. Gone subscriptions are dropped."""
        found = self._targets(alert_id)
        if found is None:
            return 0
        payload, targets = found
        return self._post_all(payload, targets)[0]

    def send_to_account(self, alert_id: int, username: str) -> PushResult:
        """The escalation's push channel: the alert to every browser of `username`, when that
        account is enabled and may still see the alert's senior (never another senior's)."""
        with self._sessions() as session:
            found = self._alert(session, alert_id)
            if found is None:
                return PushResult(0, "the alert has no senior", permanent=True)
            alert, senior_id, name = found
            account = session.scalar(select(Account).where(Account.username == username))
            if account is None or account.disabled:
                return PushResult(0, "no enabled account of that username", permanent=True)
            who = Principal(account.role, account.id, account.username, account.display_name)
            visible = visible_seniors(session, who)
            if visible is not None and senior_id not in visible:
                return PushResult(0, "the account may not see this senior", permanent=True)
            # The language of the contact naming the account, else of a group contact.
            languages = dict(
                session.execute(
                    select(Contact.target, Contact.language).where(
                        Contact.senior_id == senior_id,
                        Contact.channel == Channel.PUSH,
                        Contact.target.in_((username, *audience.GROUPS)),
                    )
                ).all()
            )
            language = languages.get(username) or next(iter(languages.values()), None)
            lang: Lang = "en" if language == "en" else "ko" if language else self._lang
            payload = alert_payload(alert, name, lang)
            subs = session.scalars(
                select(PushSubscription)
                .where(PushSubscription.account_id == account.id)
                .order_by(PushSubscription.id)
            )
            targets = [PushTarget(s.id, s.endpoint, s.p256dh, s.auth) for s in subs]
        if not targets:
            return PushResult(0, "no browser of this account is subscribed", permanent=True)
        sent, errors, retry = self._post_all(payload, targets)
        if sent:
            return PushResult(sent, None)
        return PushResult(0, "; ".join(errors)[:1000], permanent=not retry)


class PushNotifier:
    """Pushes each newly opened alert from a thread of its own, so ingest never waits on a
    push service; a full queue drops the push (logged), never an event."""

    def __init__(self, sender: PushSender, queue_max: int = 1000) -> None:
        self._sender = sender
        self._queue: queue.Queue[int] = queue.Queue(maxsize=queue_max)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self, change: AlertChange) -> None:
        """Queue a push for an alert the change opened (repeats and closings are not pushed)."""
        if not change.created:
            return
        try:
            self._queue.put_nowait(change.alert_id)
        except queue.Full:
            log.warning("push queue full: alert %d not pushed", change.alert_id)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dolbom-push", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                alert_id = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                self._sender.send_alert(alert_id)
            except Exception:  # a push must never end the thread
                log.exception("push of alert %d failed", alert_id)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
