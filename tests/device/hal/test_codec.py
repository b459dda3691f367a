"""The MCU serial codec: CRC, COBS, every message type, and a decoder no byte stream can break."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.hal.codec import (
    MAX_ENCODED,
    FrameDecoder,
    cobs_decode,
    cobs_encode,
    crc16,
    decode_frame,
    encode_frame,
    encode_payload_frame,
)
from device.hal.messages import (
    MAX_IMU_SAMPLES,
    MESSAGE_TYPES,
    Ack,
    AckStatus,
    BatteryStatus,
    ButtonEvent,
    Heartbeat,
    Hello,
    HelloRequest,
    ImuBand,
    ImuBody,
    LedCommand,
    LedPattern,
    Message,
    MotorCommand,
    MotorPattern,
    PresenceEvent,
    ResetReason,
    SelfTestId,
    SelfTestRequest,
    SelfTestResult,
    TouchEvent,
    TouchKind,
    Zone,
    quantize_imu,
)


def test_crc_is_ccitt_false_on_the_published_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


def _crc_bitwise(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


@given(st.binary(max_size=300))
def test_crc_matches_a_bitwise_reference(data: bytes) -> None:
    assert crc16(data) == _crc_bitwise(data)


@given(st.binary(max_size=1200))
def test_cobs_round_trips_and_never_emits_a_zero(data: bytes) -> None:
    stuffed = cobs_encode(data)
    assert 0 not in stuffed
    assert cobs_decode(stuffed) == data
    assert len(stuffed) <= len(data) + len(data) // 254 + 2


def test_cobs_matches_the_worked_examples_of_the_original_paper() -> None:
    # Cheshire & Baker's examples (also on Wikipedia's COBS page)
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"


u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
imu = st.integers(1, MAX_IMU_SAMPLES).flatmap(
    lambda n: st.lists(st.integers(-32768, 32767), min_size=n * 6, max_size=n * 6).map(
        lambda v: np.array(v, dtype=np.int16).reshape(-1, 6)
    )
)


def _seq(msg: Message, seq: int) -> Message:
    from dataclasses import replace

    return replace(msg, seq=seq)


messages = st.one_of(
    st.builds(Hello, u8, u8, u8, u8, u8, st.sampled_from(ResetReason), u16, u16),
    st.builds(Heartbeat, u32, u8, u16, u16),
    st.builds(ImuBody, u32, imu),
    st.builds(ImuBand, u32, imu),
    st.builds(TouchEvent, st.sampled_from(Zone), st.sampled_from(TouchKind), u16, u8),
    st.builds(PresenceEvent, st.booleans()),
    st.builds(ButtonEvent, st.booleans(), u16),
    st.builds(BatteryStatus, st.integers(0, 100), st.booleans(), u16),
    st.builds(SelfTestResult, st.sampled_from(SelfTestId), st.booleans(), u8),
    st.builds(Ack, u8, u16, st.sampled_from(AckStatus)),
    st.builds(HelloRequest, u8),
    st.builds(LedCommand, st.sampled_from(LedPattern), u8, u8, u8, u16),
    st.builds(MotorCommand, st.sampled_from(MotorPattern), u8, u16),
    st.builds(SelfTestRequest),
).flatmap(lambda m: u16.map(lambda s: _seq(m, s)))


def test_the_strategy_covers_every_message_type() -> None:
    covered = {
        Hello, Heartbeat, ImuBody, ImuBand, TouchEvent, PresenceEvent, ButtonEvent,
        BatteryStatus, SelfTestResult, Ack, HelloRequest, LedCommand, MotorCommand,
        SelfTestRequest,
    }  # fmt: skip
    assert covered == set(MESSAGE_TYPES.values())


@given(messages)
def test_every_message_type_round_trips(msg: Message) -> None:
    wire = encode_frame(msg)
    assert wire[0] == 0
    assert wire[-1] == 0
    assert 0 not in wire[1:-1]
    assert len(wire) <= MAX_ENCODED + 2
    decoder = FrameDecoder()
    assert decoder.feed(wire) == [msg]
    assert decoder.stats.frames == 1
    assert decoder.stats.bad_frames == 0


@settings(max_examples=300)
@given(st.lists(st.one_of(messages, st.binary(max_size=80)), max_size=25), st.data())
def test_every_intact_frame_in_a_corrupted_stream_is_recovered(
    items: list[Message | bytes], data: st.DataObject
) -> None:
    """Garbage of any kind between frames: truncated frames, flipped bits, noise, zeros."""
    stream = bytearray()
    expected: list[Message] = []
    for item in items:
        if isinstance(item, bytes):
            stream += item
            continue
        wire = encode_frame(item)
        damage = data.draw(st.sampled_from(["none", "truncate", "flip"]))
        if damage == "none":
            stream += wire
            expected.append(item)
        elif damage == "truncate":
            stream += wire[: data.draw(st.integers(0, len(wire) - 2))]
        else:
            i = data.draw(st.integers(1, len(wire) - 2))
            bit = data.draw(st.integers(0, 7))
            stream += wire[:i] + bytes([wire[i] ^ (1 << bit)]) + wire[i + 1 :]
    decoder = FrameDecoder()
    got: list[Message] = []
    chunks = data.draw(st.lists(st.integers(1, 64), max_size=40))
    pos = 0
    for size in chunks:
        got += decoder.feed(bytes(stream[pos : pos + size]))
        pos += size
    got += decoder.feed(bytes(stream[pos:]))
    # every intact frame comes out, in order; garbage may (rarely) forge a valid frame
    it = iter(got)
    assert all(any(g == e for g in it) for e in expected)
    assert decoder.stats.frames == len(got)


@settings(max_examples=300)
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash_the_decoder(noise: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(noise)
    frame = encode_frame(Heartbeat(1234, 3, 0, 0, seq=9))
    assert decoder.feed(frame) == [Heartbeat(1234, 3, 0, 0, seq=9)]


def test_a_flipped_bit_is_caught_by_the_crc() -> None:
    frame = bytearray(encode_payload_frame(0x02, 1, bytes(9)))
    frame[5] ^= 0x10
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00" + cobs_encode(bytes(frame)) + b"\x00") == []
    assert decoder.stats.crc == 1


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x01\x02", "too_short"),
        (encode_payload_frame(0x02, 1, b"\x00\x00"), "malformed"),
        (encode_payload_frame(0x7E, 1, b""), "unknown_type"),
        (encode_payload_frame(0x21, 1, b"\x07"), "malformed"),  # presence must be 0 or 1
    ],
)
def test_bad_frames_are_counted_by_reason(frame: bytes, reason: str) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00" + cobs_encode(frame) + b"\x00") == []
    assert decoder.stats.as_dict()[reason] == 1
    assert decoder.stats.bad_frames == 1


def test_a_frame_of_another_protocol_version_is_dropped() -> None:
    body = bytes([2, 0x02, 1, 0]) + bytes(9)
    frame = body + crc16(body).to_bytes(2, "little")
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00" + cobs_encode(frame) + b"\x00") == []
    assert decoder.stats.bad_version == 1


def test_a_run_without_delimiter_is_skipped_and_the_next_frame_decoded() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x05" * (MAX_ENCODED * 3))
    msg = PresenceEvent(True, seq=4)
    assert decoder.feed(encode_frame(msg)) == [msg]
    assert decoder.stats.oversize == 1


def test_trailing_bytes_of_a_newer_minor_revision_are_ignored() -> None:
    payload = ButtonEvent(True, 2500).pack() + b"\x01\x02"
    assert decode_frame(encode_payload_frame(0x22, 7, payload)) == ButtonEvent(True, 2500, seq=7)


def test_imu_counts_use_the_documented_scales_and_saturate() -> None:
    physical = np.array([[1.0, -0.5, 20.0, 100.0, -3000.0, 0.0625]], dtype=np.float32)
    counts = quantize_imu(physical)
    assert counts.tolist() == [[2048, -1024, 32767, 1600, -32768, 1]]
    back = ImuBody(0, counts).to_physical()
    assert back[0, 0] == pytest.approx(1.0)
    assert back[0, 3] == pytest.approx(100.0)
