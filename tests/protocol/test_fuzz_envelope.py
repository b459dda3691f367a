"""Fuzz: the cloud's MQTT payload parser, bytes → Envelope or a dead-letter reason, never a crash.

`decode_envelope` may only return an Envelope or raise ProtocolError (its own error type);
the ingest's `parse_message` turns every input into an envelope or a reason, and a reason
that starts with "internal error" is a bug caught by the safety net, not a refusal: the
fuzz fails on it too. Inputs: arbitrary bytes, arbitrary JSON (huge integers, NaN/Infinity,
deep nesting, huge strings, duplicate keys, invalid UTF-8) and mutations of valid envelopes.

Seeded (tests/helpers/fuzz.py): the seed is in pytest's header; re-running reproduces a
failure, and the printed `@reproduce_failure` blob replays it exactly.
"""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.ingest.handler import parse_message
from protocol import (
    MAX_MESSAGE_BYTES,
    EventType,
    ProtocolError,
    decode_envelope,
    encode,
    events_topic,
    make_envelope,
)
from protocol.envelope import Envelope
from protocol.events import EmergencyPayload, TriggerSource
from tests.helpers.fuzz import fuzz

TOPIC = events_topic("robot-001")
TS = datetime(2026, 11, 27, 2, 13, 38, 123000, tzinfo=UTC)
VALID = json.loads(
    encode(
        make_envelope(
            "robot-001",
            7,
            EmergencyPayload(trigger=TriggerSource.VOICE, intent="help", confidence=0.9),
            event_type=EventType.EMERGENCY,
            ts=TS,
        )
    )
)


def _decode(raw: bytes) -> Envelope | None:
    """decode_envelope, with any exception but ProtocolError failing the test."""
    try:
        return decode_envelope(raw, TOPIC)
    except ProtocolError:
        return None


def _parse(raw: bytes) -> None:
    parsed = parse_message(TOPIC, raw)
    assert parsed.envelope is not None or parsed.error
    assert not (parsed.error or "").startswith("internal error"), parsed.error


def _check(raw: bytes) -> None:
    env = _decode(raw)
    _parse(raw)
    if env is not None:  # what is accepted round-trips to the same envelope
        assert decode_envelope(encode(env), TOPIC) == env


# -- JSON values, including the ones parsers trip on -------------------------------------------
# 10**4000: under str()'s 4300-digit limit (the 5000 digits of issue 14 are a raw poison below)
_huge_ints = st.integers(min_value=-(10**60), max_value=10**60) | st.just(10**4000)
_scalars = (
    st.none()
    | st.booleans()
    | _huge_ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


def _dumps(value: Any) -> bytes:
    """JSON as a robot might send it: NaN/Infinity allowed, non-ASCII as UTF-8."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


@fuzz(250)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_an_envelope_or_a_protocol_error(raw: bytes) -> None:
    _check(raw)


@fuzz(250)
@given(_json)
def test_arbitrary_json_is_an_envelope_or_a_protocol_error(value: Any) -> None:
    _check(_dumps(value))


_FIELDS = [*sorted(VALID), "extra"]


@fuzz(150)
@given(
    st.dictionaries(st.sampled_from(_FIELDS), _json, min_size=1, max_size=3),
    st.dictionaries(st.sampled_from([*sorted(VALID["payload"]), "x"]), _json, max_size=2),
)
def test_a_valid_envelope_with_any_fields_replaced_never_crashes(
    changes: dict[str, Any], payload_changes: dict[str, Any]
) -> None:
    data = {**VALID, **changes}
    if payload_changes and isinstance(data.get("payload"), dict):
        data["payload"] = {**data["payload"], **payload_changes}
    _check(_dumps(data))


@fuzz(250)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_a_valid_envelope_with_bytes_cut_or_inserted_never_crashes(at: int, junk: bytes) -> None:
    raw = encode(decode_envelope(_dumps(VALID)))
    at = min(at, len(raw))
    _check(raw[:at] + junk + raw[at:])
    _check(raw[:at])


@fuzz(150)
@given(st.sampled_from(_FIELDS), _json)
def test_duplicate_keys_never_crash(key: str, value: Any) -> None:
    body = _dumps(VALID)[:-1] + b"," + json.dumps(key).encode() + b":" + _dumps(value) + b"}"
    _check(body)


# -- the poisons of issue 14, and a few more, as named cases -------------------------------
_HEAD = b'{"v":1,"device_id":"robot-001","seq":'
POISONS = {
    "5000-digit integer": _HEAD + b"1" + b"0" * 5000 + b"}",
    "1e999 (a float overflow)": _HEAD + b"1e999}",
    "-0 as seq": _HEAD + b"-0}",
    "30000 levels of nesting": b'{"v":1,"x":' + b"[" * 30000 + b"]" * 30000 + b"}",
    "30000 unclosed levels": b"[" * 30000,
    "invalid UTF-8": b'{"v":1,"device_id":"robot-\xff\xfe"}',
    "a lone surrogate escape": _dumps({**VALID, "payload": {"intent": "\\ud800"}}).replace(
        b"\\\\ud800", b"\\ud800"
    ),
    "NaN": _HEAD + b"NaN}",
    "Infinity": _HEAD + b"Infinity}",
    "-Infinity as confidence": _dumps(VALID).replace(b"0.9", b"-Infinity"),
    "a 64 KiB string": _dumps({**VALID, "payload": {"intent": "x" * (MAX_MESSAGE_BYTES - 300)}}),
    "over the size limit": b'{"v":1,"x":"' + b"x" * MAX_MESSAGE_BYTES + b'"}',
    "quadratic string scan": b'{"v":1,"x":"' + b'\\"' * 30000,
    "quadratic string scan, backslash last": b'{"v":1,"x":"' + b'"\\' * 30000,
    "a bare string": b'"robot"',
    "an empty message": b"",
    "whitespace": b" \n\t ",
    "a JSON array": b"[1,2,3]",
    "null": b"null",
    "seq over 64 bits": _dumps({**VALID, "seq": 2**64}),
    "epoch negative": _dumps({**VALID, "epoch": -1}),
    "epoch as a string": _dumps({**VALID, "epoch": "1"}),
    "v as true": _dumps({**VALID, "v": True}),
    "ts without a zone": _dumps({**VALID, "ts": "2026-11-27T02:13:38"}),
    "ts year 10000": _dumps({**VALID, "ts": "10000-01-01T00:00:00Z"}),
}


@pytest.mark.parametrize("raw", [pytest.param(v, id=k) for k, v in POISONS.items()])
def test_a_poison_message_is_refused_with_a_reason(raw: bytes) -> None:
    assert _decode(raw) is None
    parsed = parse_message(TOPIC, raw)
    assert parsed.envelope is None
    assert parsed.error
    assert not parsed.error.startswith("internal error"), parsed.error


def test_an_unterminated_string_is_one_token_to_the_end() -> None:
    """Why the quadratic poison above is linear now: a failed string match is never retried
    from the next quote (each retry scanned to the end: 37 s of CPU for one 64 KiB message)."""
    from protocol.envelope import _JSON_TOKENS

    for tail in (b'\\"' * 50, b'"\\' * 50, b"abc\\"):
        tokens = [m.span() for m in _JSON_TOKENS.finditer(b'{"x":"' + tail)]
        assert tokens[-1][1] == len(b'{"x":"' + tail), tail  # the last token reaches the end
        assert len(tokens) <= 3 + tail.count(b'"'), tokens


def test_a_nul_character_in_a_payload_string_is_refused_by_the_parser() -> None:
    fault = {"component": "mcu", "code": "mcu_silent", "detail": "no frame\x00"}
    raw = _dumps({**VALID, "type": "device_fault", "priority": "high", "payload": fault})
    assert b"\\u0000" in raw
    assert _decode(raw.replace(b"\\u0000", b"")) is not None  # the same without the NUL is fine
    assert _decode(raw) is None


# -- the parser's fast path (no per-number hook) refuses exactly what the hooks refuse ------
def _reference_number(text: str) -> int | float:
    """Every number checked: at most MAX_NUMBER_CHARS characters, and finite."""
    import math

    from protocol.envelope import MAX_NUMBER_CHARS

    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(text)
    number = int(text) if text.lstrip("-").isdigit() else float(text)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(text)
    return number


def _reference_constant(name: str) -> float:
    raise ValueError(name)


_number_chars = st.text(alphabet="0123456789eE+-.", min_size=1, max_size=60)
_token = st.one_of(
    _number_chars,
    _number_chars.map(json.dumps),  # the same characters inside a string
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e308", "1e309", "1e-400", "true"]),
    st.integers(min_value=-(10**45), max_value=10**45).map(str),
    st.integers(min_value=10**37, max_value=10**43).map(lambda n: f"-{n}"),  # 39-45 characters
    st.text(alphabet="0123456789", min_size=36, max_size=42).map(lambda d: f"0.{d}"),
    st.floats(allow_nan=False).map(repr),
)


@fuzz(400)
@given(st.lists(_token, min_size=1, max_size=6), st.sampled_from([",", ", ", ",\n"]))
def test_the_fast_path_refuses_exactly_what_the_per_number_checks_refuse(
    tokens: list[str], sep: str
) -> None:
    from protocol.envelope import _parse_json

    text = "[" + sep.join(tokens) + "]"
    try:
        expected: Any = json.loads(
            text,
            parse_int=_reference_number,
            parse_float=_reference_number,
            parse_constant=_reference_constant,
        )
    except ValueError:  # JSONDecodeError included
        expected = ProtocolError
    try:
        got: Any = _parse_json(text.encode())
    except ProtocolError:
        got = ProtocolError
    assert got == expected, text
