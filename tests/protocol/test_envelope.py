"""The envelope and topic rules of the wire contract."""

import json
from datetime import UTC, datetime

import pytest

from protocol import (
    MAX_MESSAGE_BYTES,
    PAYLOAD_MODELS,
    EventType,
    Priority,
    ProtocolError,
    decode_envelope,
    encode,
    events_topic,
    make_envelope,
    parse_topic,
    status_topic,
)
from protocol.events import BatteryPayload, EmergencyPayload, TriggerSource
from protocol.topics import TopicKind

TS = datetime(2026, 11, 27, 2, 13, 38, 123456, tzinfo=UTC)


def _emergency(device_id: str = "robot-001", seq: int = 7) -> bytes:
    payload = EmergencyPayload(trigger=TriggerSource.VOICE, intent="help", confidence=0.9)
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.EMERGENCY, ts=TS))


def _raw(**changes: object) -> bytes:
    data = json.loads(_emergency())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data).encode()


def test_envelope_round_trips_with_millisecond_utc_timestamp() -> None:
    raw = _emergency()
    assert b'"ts":"2026-11-27T02:13:38.123Z"' in raw
    env = decode_envelope(raw, events_topic("robot-001"))
    assert env.seq == 7
    assert env.priority is Priority.CRITICAL
    assert env.typed_payload() == EmergencyPayload(
        trigger=TriggerSource.VOICE, intent="help", confidence=0.9
    )


def test_unknown_major_version_is_rejected_with_reason() -> None:
    with pytest.raises(ProtocolError, match="unsupported protocol version 2"):
        decode_envelope(_raw(v=2))


def test_device_id_differing_from_topic_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="differs from the topic"):
        decode_envelope(_emergency("robot-001"), events_topic("robot-002"))


@pytest.mark.parametrize("field", ["seq", "ts", "type", "device_id", "payload", "v"])
def test_missing_field_is_rejected_naming_the_field(field: str) -> None:
    with pytest.raises(ProtocolError, match=field):
        decode_envelope(_raw(**{field: None}))


def test_wrong_type_is_rejected_naming_the_field() -> None:
    with pytest.raises(ProtocolError, match="seq"):
        decode_envelope(_raw(seq="seven"))


def test_payload_is_validated_against_its_event_type() -> None:
    with pytest.raises(ProtocolError, match=r"payload\.level_pct|level_pct"):
        decode_envelope(_raw(type="battery", payload={"level_pct": 250, "charging": False}))


def test_payload_with_extra_field_such_as_a_transcript_is_rejected() -> None:
    data = json.loads(_emergency())
    data["payload"]["transcript"] = "살려 주세요"
    with pytest.raises(ProtocolError, match="transcript"):
        decode_envelope(json.dumps(data).encode())


def test_no_payload_model_has_a_field_for_words_or_audio() -> None:
    forbidden = {"text", "transcript", "audio", "words", "utterance", "wav", "speech"}
    for event_type, model in PAYLOAD_MODELS.items():
        assert not forbidden & set(model.model_fields), event_type


def test_oversized_message_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="limit"):
        decode_envelope(b" " * (MAX_MESSAGE_BYTES + 1))


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe", b"not json", b"[1, 2]", b'{"v": true}'], ids=["utf8", "json", "list", "v"]
)
def test_garbage_is_rejected_with_a_reason(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_envelope(raw)


def test_every_event_type_has_a_payload_model() -> None:
    assert set(PAYLOAD_MODELS) == set(EventType)


def test_make_envelope_refuses_a_payload_of_another_type() -> None:
    with pytest.raises(ProtocolError, match="BatteryPayload"):
        make_envelope(
            "robot-001",
            1,
            EmergencyPayload(trigger=TriggerSource.BUTTON),
            event_type=EventType.BATTERY,
            ts=TS,
        )
    make_envelope(
        "robot-001",
        1,
        BatteryPayload(level_pct=50, charging=True),
        event_type=EventType.BATTERY,
        ts=TS,
    )


def test_topics_parse_back_to_device_and_kind() -> None:
    assert parse_topic(status_topic("robot-9x")) == ("robot-9x", TopicKind.STATUS)
    with pytest.raises(ProtocolError, match="unknown kind"):
        parse_topic("dolbom/v1/devices/robot-001/secrets")
    with pytest.raises(ProtocolError, match="not under"):
        parse_topic("other/robot-001/events")


@pytest.mark.parametrize("bad", ["", "ab", "Robot", "a/b", "+", "#", "x" * 65, "robot 1"])
def test_invalid_device_ids_are_refused_for_topics(bad: str) -> None:
    with pytest.raises(ProtocolError, match="invalid device id"):
        events_topic(bad)


def test_seq_beyond_a_64_bit_integer_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="seq"):
        decode_envelope(_raw(seq=2**63))
    assert decode_envelope(_raw(seq=2**63 - 1)).seq == 2**63 - 1


def test_epoch_defaults_to_zero_when_absent_and_round_trips() -> None:
    assert decode_envelope(_raw(epoch=None)).epoch == 0  # robots that predate the epoch
    payload = EmergencyPayload(trigger=TriggerSource.VOICE, intent="help", confidence=0.9)
    env = make_envelope(
        "robot-001", 1, payload, event_type=EventType.EMERGENCY, ts=TS, epoch=2**62 + 5
    )
    assert decode_envelope(encode(env)).epoch == 2**62 + 5


@pytest.mark.parametrize("bad", [-1, 2**63, "1", 1.5])
def test_epoch_outside_a_non_negative_64_bit_integer_is_rejected(bad: object) -> None:
    with pytest.raises(ProtocolError, match="epoch"):
        decode_envelope(_raw(epoch=bad))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"v":1,"seq":1' + b"0" * 5000 + b"}", "number has 5001 characters"),
        (b"[" * 30_000 + b"]" * 30_000, "nests deeper"),
        (b'{"v":1,"payload":' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}", "nests deeper"),
        (b'{"v":1,"seq":1e' + b"9" * 5000 + b"}", "number has"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'"just a string"', "JSON object"),
    ],
    ids=["5000-digit-int", "30000-levels", "deep-payload", "huge-exponent", "utf8", "list", "str"],
)
def test_poison_json_is_a_protocol_error_not_a_crash(raw: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode_envelope(raw)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    name = "[{" * 25 + '"[[[\\'  # 55 characters, an escaped quote and backslash among them
    env = decode_envelope(_raw(model={"name": name, "version": "1"}))
    assert env.model is not None
    assert env.model.name == name


def test_a_nul_in_a_string_is_refused_but_an_escaped_backslash_u0000_is_text() -> None:
    with pytest.raises(ProtocolError, match="U\\+0000"):
        decode_envelope(_raw(model={"name": "a\x00b", "version": "1"}))
    env = decode_envelope(_raw(model={"name": "a\\u0000b", "version": "1"}))  # 8 characters
    assert env.model is not None
    assert env.model.name == "a\\u0000b"


def test_a_number_of_40_characters_is_read_and_one_of_41_refused_wherever_it_stands() -> None:
    # Messages without a run of 41 number characters skip the per-number check: the boundary
    # must not move, whether or not a long run of digits stands elsewhere, in a string.
    for name in ("tiny", "7" * 60):
        raw = _raw(model={"name": name, "version": "1"})
        assert b'"confidence": 0.9' in raw
        env = decode_envelope(raw.replace(b"0.9", b"0." + b"9" * 38))  # 40 characters
        assert env.payload["confidence"] == float("0." + "9" * 38)
        assert env.model is not None
        assert env.model.name == name
        with pytest.raises(ProtocolError, match="number has 41 characters"):
            decode_envelope(raw.replace(b"0.9", b"0." + b"9" * 39))


def _fall(impact: bytes) -> bytes:
    return (
        b'{"v":1,"device_id":"robot-001","seq":3,"ts":"2026-11-27T02:13:38.123Z","type":"fall",'
        b'"priority":"critical","payload":{"confidence":0.9,"countdown":"silence","impact_g":'
        + impact
        + b"}}"
    )


@pytest.mark.parametrize(
    "number",
    [b"Infinity", b"-Infinity", b"NaN", b"1e999", b"1E+400", b"9" * 30 + b"e300", b"-1e309"],
)
@pytest.mark.parametrize("name", ["tiny", "7" * 60])
def test_a_number_that_is_not_finite_is_refused_on_both_paths(number: bytes, name: str) -> None:
    """Infinity, NaN and a float that overflows to infinity pass `impact_g: float >= 0` or any
    unbounded float, and PostgreSQL's jsonb refuses the stored payload (a fall dead-lettered by
    the store, a routine batch sent one message at a time): the parser refuses them, with or
    without a long run of digits elsewhere (the hooked path)."""
    fine = _fall(b"2.5")
    named = b'"model":{"name":"' + name.encode() + b'","version":"1"}}'
    for raw in (fine, fine[:-1] + b"," + named):
        assert decode_envelope(raw).payload["impact_g"] == 2.5
        with pytest.raises(ProtocolError, match="not finite"):
            decode_envelope(raw.replace(b"2.5", number))


def test_an_exponent_that_stays_finite_is_read() -> None:
    for number, value in ((b"1e-999", 0.0), (b"2.5e+002", 250.0), (b"1e308", 1e308)):
        assert decode_envelope(_fall(number)).payload["impact_g"] == value
