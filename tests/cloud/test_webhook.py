"""Webhook signing and the retry schedule (pure)."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from cloud.alerts import retry_delay_s, sign, verify

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
BODY = '{"alert_id":1,"message":"긴급"}'.encode()


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", TS, BODY) == expected


def test_verify_accepts_a_fresh_signature_with_or_without_prefix() -> None:
    sig = sign("s3cret", TS, BODY)
    assert verify("s3cret", str(TS), BODY, f"sha256={sig}", NOW)
    assert verify("s3cret", TS, BODY, sig, NOW + timedelta(seconds=299))


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("other", BODY, NOW),
        ("s3cret", BODY + b" ", NOW),
        ("s3cret", BODY, NOW + timedelta(seconds=301)),
        ("s3cret", BODY, NOW - timedelta(seconds=301)),
    ],
)
def test_verify_rejects_wrong_secret_changed_body_or_stale_timestamp(
    secret: str, body: bytes, now: datetime
) -> None:
    assert not verify(secret, TS, body, "sha256=" + sign("s3cret", TS, BODY), now)


def test_verify_rejects_a_garbage_timestamp() -> None:
    assert not verify("s3cret", "soon", BODY, sign("s3cret", TS, BODY), NOW)


def test_retry_delay_doubles_with_jitter_and_is_capped() -> None:
    assert retry_delay_s(1, 0.5, 300, jitter=1.0) == 0.5
    assert retry_delay_s(2, 0.5, 300, jitter=1.0) == 1.0
    assert retry_delay_s(3, 0.5, 300, jitter=0.0) == 1.0
    assert retry_delay_s(30, 0.5, 300, jitter=1.0) == 300
    assert 150 <= retry_delay_s(30, 0.5, 300, jitter=0.5) <= 300
