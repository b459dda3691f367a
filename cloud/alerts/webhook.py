"""Signed webhook bodies: HMAC-SHA256 over `"{timestamp}." + body`, and its check for receivers."""

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from cloud.alerts.messages import message_for
from cloud.store.models import Alert

TIMESTAMP_HEADER = "X-Dolbom-Timestamp"
SIGNATURE_HEADER = "X-Dolbom-Signature"
DELIVERY_HEADER = "X-Dolbom-Delivery"
SIGNATURE_PREFIX = "sha256="


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `f"{timestamp}.".encode() + body` under `secret`."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes,
    timestamp: int | str,
    body: bytes,
    signature: str,
    now: datetime,
    tolerance_s: float = 300,
) -> bool:
    """True when the signature matches and the timestamp is within `tolerance_s` of `now`."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    given = signature.removeprefix(SIGNATURE_PREFIX)
    return hmac.compare_digest(given, sign(secret, ts, body))


def signed_headers(secret: str | None, timestamp: int, body: bytes) -> dict[str, str]:
    """Content type, timestamp and (when a secret is set) signature headers."""
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp)}
    if secret is not None:
        headers[SIGNATURE_HEADER] = SIGNATURE_PREFIX + sign(secret, timestamp, body)
    return headers


def alert_body(alert: Alert, delivery_id: int) -> bytes:
    """The JSON a webhook receives for an alert."""
    doc: dict[str, Any] = {
        "delivery_id": delivery_id,
        "alert_id": alert.id,
        "device_id": alert.device_id,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "created_at": alert.created_at.isoformat().replace("+00:00", "Z"),
        "event_seq": alert.event_seq,
        "repeat_count": alert.repeat_count,
        "message": message_for(alert.kind),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
