"""MQTT topics of the contract; the device id is also the device's MQTT username."""

import re
from enum import StrEnum

from protocol.errors import ProtocolError

ROOT = "dolbom/v1/devices"
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{2,63}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

SHARED_GROUP = "ingest"
EVENTS_SUBSCRIPTION = f"{ROOT}/+/events"
SHARED_EVENTS_SUBSCRIPTION = f"$share/{SHARED_GROUP}/{EVENTS_SUBSCRIPTION}"
STATUS_SUBSCRIPTION = f"{ROOT}/+/status"
RESULTS_SUBSCRIPTION = f"{ROOT}/+/command-results"

STATUS_ONLINE = b"online"
STATUS_OFFLINE = b"offline"


class TopicKind(StrEnum):
    """The last level of a device topic."""

    EVENTS = "events"
    STATUS = "status"
    COMMANDS = "commands"
    COMMAND_RESULTS = "command-results"
    STORED = "stored"  # cloud → device, retained: what the cloud has stored (protocol/delivery.py)


def validate_device_id(device_id: str) -> str:
    """Return the id unchanged, or raise: lowercase letters, digits, '-' and '_', 3-64 long."""
    if not _DEVICE_ID_RE.match(device_id):
        raise ProtocolError(
            f"invalid device id {device_id!r}: use 3-64 lowercase letters, digits, '-' or '_',"
            " starting with a letter or digit"
        )
    return device_id


def _topic(device_id: str, kind: TopicKind) -> str:
    return f"{ROOT}/{validate_device_id(device_id)}/{kind.value}"


def events_topic(device_id: str) -> str:
    """Where a device publishes its events."""
    return _topic(device_id, TopicKind.EVENTS)


def status_topic(device_id: str) -> str:
    """Where a device's retained online/offline status (and last will) lives."""
    return _topic(device_id, TopicKind.STATUS)


def commands_topic(device_id: str) -> str:
    """Where the cloud sends commands to a device."""
    return _topic(device_id, TopicKind.COMMANDS)


def results_topic(device_id: str) -> str:
    """Where a device reports the outcome of each command."""
    return _topic(device_id, TopicKind.COMMAND_RESULTS)


def stored_topic(device_id: str) -> str:
    """Where the cloud tells a device (retained) which of its events it has stored."""
    return _topic(device_id, TopicKind.STORED)


def parse_topic(topic: str) -> tuple[str, TopicKind]:
    """Split a device topic into (device_id, kind), or raise ProtocolError saying why."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise ProtocolError(f"topic {topic!r} is not under {ROOT}/")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2:
        raise ProtocolError(f"topic {topic!r} must be {ROOT}/<device_id>/<kind>")
    device_id, kind = parts
    validate_device_id(device_id)
    try:
        return device_id, TopicKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in TopicKind)
        raise ProtocolError(f"topic {topic!r} has unknown kind {kind!r} (known: {known})") from None
