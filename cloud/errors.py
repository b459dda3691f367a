"""The cloud's one error hierarchy; every message says what was wrong, in Korean and English."""

import re

from protocol.bilingual import HANGUL


class CloudError(Exception):
    """Base of every error the cloud raises on purpose."""


class ConfigError(CloudError):
    """A setting is missing or invalid."""


class StoreError(CloudError):
    """The store could not be opened or migrated."""


class AlertNotFoundError(CloudError):
    """No alert has the given id."""


class AlertStateError(CloudError):
    """The alert's status does not allow the requested transition."""


class CommandNotSentError(CloudError):
    """A command could not be handed to the MQTT client."""


def both(ko: str, en: str, *, at: str | None = None) -> str:
    """A user-facing message in the house form "한국어 / English", after its field path if any
    (`body.target: ...`, kept first so clients can still read where the error is)."""
    text = f"{ko} / {en}"
    return at_field(at, text) if at else text


def at_field(at: str, message: str) -> str:
    """An already bilingual message (another error's) placed at a field path."""
    return f"{at}: {message}"


def is_bilingual(message: str) -> bool:
    """True when a message has Korean (Hangul) and English (a Latin word) in it."""
    return bool(HANGUL.search(message)) and re.search(r"[A-Za-z]{2,}", message) is not None
