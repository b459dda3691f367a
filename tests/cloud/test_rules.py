"""The pure alert rules."""

import pytest

from cloud.alerts import AlertDecision, decide
from cloud.store import AlertKind, Severity
from protocol import decode_envelope
from tests.cloud.helpers import emergency, fall, heartbeat


def test_emergency_is_critical() -> None:
    env = decode_envelope(emergency("dev-1", 1))
    assert decide(env) == AlertDecision(AlertKind.EMERGENCY, Severity.CRITICAL)


@pytest.mark.parametrize("countdown", ["silence", "help_requested", "skipped"])
def test_fall_is_critical_unless_cancelled(countdown: str) -> None:
    env = decode_envelope(fall("dev-1", 1, countdown=countdown))
    assert decide(env) == AlertDecision(AlertKind.FALL, Severity.CRITICAL)


def test_cancelled_countdown_raises_nothing() -> None:
    assert decide(decode_envelope(fall("dev-1", 1, countdown="cancelled"))) is None
    assert decide(decode_envelope(emergency("dev-1", 1, countdown="cancelled"))) is None


def test_heartbeat_raises_nothing() -> None:
    assert decide(decode_envelope(heartbeat("dev-1", 1))) is None
