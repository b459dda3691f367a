"""The one envelope every event travels in; encode/decode are pure functions."""

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_serializer

from protocol.errors import ProtocolError
from protocol.events import DEFAULT_PRIORITY, PAYLOAD_MODELS, EventType, Payload, Priority
from protocol.topics import DEVICE_ID_PATTERN, TopicKind, parse_topic

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32  # the deepest valid envelope nests 4 levels
MAX_NUMBER_CHARS = 40  # a 64-bit integer has 20 digits; a float's repr at most ~25 characters
# A run of characters a JSON number is made of, longer than a number may be (in a string or not):
# without one no number can exceed MAX_NUMBER_CHARS, and the parse needs no hook per number.
# Found by mapping those characters to "0" and the rest to " " (C speed: 0.5 us a message,
# where a regex took 3 us and the hooks 3.4 us).
_NUMBER_CHARS = bytes(0x30 if bytes([b]) in b"-+.0123456789eE" else 0x20 for b in range(256))
_LONG_NUMBER_RUN = b"0" * (MAX_NUMBER_CHARS + 1)
# A float of at most MAX_NUMBER_CHARS characters overflows to infinity only with an exponent of
# three digits or more: "e" then digits, a sign between them mapped to "+". Without one (or a
# false alarm in a string: the hooked path) json's own float is finite. NaN and Infinity are
# refused by `parse_constant` on both paths: PostgreSQL's jsonb cannot store them.
_EXPONENT_CHARS = bytes(
    0x65 if b in b"eE" else 0x30 if b in b"0123456789" else 0x2B if b in b"+-" else 0x20
    for b in range(256)
)
# a string runs to its closing quote or, unterminated, to the end (a failed string match
# retried from every later quote made `"\"\"\"…` quadratic: 37 s of CPU for one 64 KiB message)
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.S)


class ModelRef(BaseModel):
    """Which model produced an event's numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)


class Envelope(BaseModel):
    """One event: `{"v", "device_id", "epoch", "seq", "ts", "type", "priority", "payload", ...}`.

    `epoch` is the incarnation of the robot's outbox: chosen once when the robot creates a new
    outbox file (its seq then restarts at 1). The cloud's idempotency key is
    `(device_id, epoch, seq)`, so a robot that starts over is heard. Absent means 0 (robots that
    predate it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: int
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    epoch: int = Field(default=0, ge=0, le=2**63 - 1, strict=True)  # fits the store's BIGINT
    seq: int = Field(ge=1, le=2**63 - 1)  # fits the store's BIGINT
    ts: AwareDatetime
    type: EventType
    priority: Priority
    payload: dict[str, Any]
    model: ModelRef | None = None

    @field_serializer("ts")
    def _ts_rfc3339_ms(self, ts: datetime) -> str:
        return format_ts(ts)

    def typed_payload(self) -> Payload:
        """The payload as its type's model (already validated by decode)."""
        return PAYLOAD_MODELS[self.type].model_validate(self.payload)


def format_ts(ts: datetime) -> str:
    """RFC 3339 UTC with milliseconds: 2026-11-27T02:13:38.123Z."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def make_envelope(
    device_id: str,
    seq: int,
    payload: Payload,
    *,
    event_type: EventType,
    ts: datetime,
    priority: Priority | None = None,
    model: ModelRef | None = None,
    epoch: int = 0,
) -> Envelope:
    """Build a valid envelope from a typed payload."""
    expected = PAYLOAD_MODELS[event_type]
    if not isinstance(payload, expected):
        raise ProtocolError(f"a {event_type} event needs a {expected.__name__} payload")
    return Envelope(
        v=PROTOCOL_VERSION,
        device_id=device_id,
        epoch=epoch,
        seq=seq,
        ts=ts,
        type=event_type,
        priority=priority or DEFAULT_PRIORITY[event_type],
        payload=payload.model_dump(mode="json"),
        model=model,
    )


def encode(envelope: Envelope) -> bytes:
    """Compact UTF-8 JSON."""
    return envelope.model_dump_json().encode("utf-8")


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "message"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def _json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, strings skipped (cheap: one regex pass)."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(raw):
        c = m.group()[0]
        if c in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        elif c in b"]}":
            depth -= 1
    return deepest


def _bounded_number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ProtocolError(f"a number has {len(text)} characters; the limit is {MAX_NUMBER_CHARS}")
    if text.lstrip("-").isdigit():
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise ProtocolError(f"a number is not finite: {text} overflows")
    return number


def _refuse_constant(name: str) -> float:
    raise ProtocolError(f"a number is not finite: {name} (JSON has no such number)")


def _may_overflow(raw: bytes) -> bool:
    """True when an exponent of three digits or more may stand in `raw` (C speed)."""
    exponents = raw.translate(_EXPONENT_CHARS)
    return b"e000" in exponents or b"e+000" in exponents


# Built once: json.loads with any hook builds a decoder per call (4-5 us a message).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_BOUNDED_DECODER = json.JSONDecoder(
    parse_int=_bounded_number, parse_float=_bounded_number, parse_constant=_refuse_constant
)


def _parse_json(raw: bytes) -> Any:
    """JSON with bounds: no unbounded recursion, no huge numbers; every failure a ProtocolError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("message is not UTF-8") from None
    # Depth is at most the number of opening brackets: count them (C speed) before scanning.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _json_depth(raw) > MAX_JSON_DEPTH:
        raise ProtocolError(f"message nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        if _LONG_NUMBER_RUN not in raw.translate(_NUMBER_CHARS) and not _may_overflow(raw):
            data = _DECODER.decode(text)  # json's own int and float
        else:
            data = _BOUNDED_DECODER.decode(text)
    except ProtocolError:
        raise
    except json.JSONDecodeError as e:
        raise ProtocolError(f"message is not JSON: {e.msg} at position {e.pos}") from None
    except (ValueError, RecursionError) as e:  # a parser limit, whatever the input found
        raise ProtocolError(f"message is not acceptable JSON: {type(e).__name__}") from None
    if b"\\u0000" in raw and _holds_nul(data):
        raise ProtocolError("a string holds U+0000 (NUL), which the store cannot keep")
    return data


def _holds_nul(data: Any) -> bool:
    """True when a string (key or value) anywhere in `data` holds U+0000 (depth already bounded)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def decode_envelope(raw: bytes, topic: str | None = None) -> Envelope:
    """Parse and validate an event message; raise ProtocolError with the reason."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    data = _parse_json(raw)
    if not isinstance(data, dict):
        raise ProtocolError("message must be a JSON object")
    v = data.get("v")
    if v is None:
        raise ProtocolError("v: field required (the protocol version)")
    if not isinstance(v, int) or isinstance(v, bool):
        raise ProtocolError(f"v: must be an integer, got {v!r}")
    if v != PROTOCOL_VERSION:
        raise ProtocolError(
            f"v: unsupported protocol version {v}; this cloud speaks {PROTOCOL_VERSION}"
        )
    try:
        env = Envelope.model_validate(data)
        PAYLOAD_MODELS[env.type].model_validate(env.payload)
    except ValidationError as e:
        raise ProtocolError(_describe(e)) from None
    if topic is not None:
        check_topic(env, *parse_topic(topic))
    return env


def check_topic(env: Envelope, topic_device: str, kind: TopicKind) -> None:
    """Raise ProtocolError unless `env` belongs on a topic of this device and kind (parsed)."""
    if kind is not TopicKind.EVENTS:
        raise ProtocolError(f"events must be published on an events topic, not {kind}")
    if topic_device != env.device_id:
        raise ProtocolError(
            f"device_id {env.device_id!r} differs from the topic's device {topic_device!r}"
        )
