"""The wire contract between a dolbom robot and the cloud: topics, envelope, events, commands."""

from protocol.commands import Command, CommandResult, CommandType, decode_command, decode_result
from protocol.envelope import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    Envelope,
    ModelRef,
    decode_envelope,
    encode,
    make_envelope,
)
from protocol.errors import ProtocolError
from protocol.events import DEFAULT_PRIORITY, PAYLOAD_MODELS, EventType, Priority
from protocol.topics import (
    DEVICE_ID_PATTERN,
    SHARED_EVENTS_SUBSCRIPTION,
    STATUS_SUBSCRIPTION,
    TopicKind,
    commands_topic,
    events_topic,
    parse_topic,
    results_topic,
    status_topic,
    validate_device_id,
)

__all__ = [
    "DEFAULT_PRIORITY",
    "DEVICE_ID_PATTERN",
    "MAX_MESSAGE_BYTES",
    "PAYLOAD_MODELS",
    "PROTOCOL_VERSION",
    "SHARED_EVENTS_SUBSCRIPTION",
    "STATUS_SUBSCRIPTION",
    "Command",
    "CommandResult",
    "CommandType",
    "Envelope",
    "EventType",
    "ModelRef",
    "Priority",
    "ProtocolError",
    "TopicKind",
    "commands_topic",
    "decode_command",
    "decode_envelope",
    "decode_result",
    "encode",
    "events_topic",
    "make_envelope",
    "parse_topic",
    "results_topic",
    "status_topic",
    "validate_device_id",
]
