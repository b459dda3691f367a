"""Fuzz: the serial frame decoder never raises outside its error types and always resyncs.

Random bytes almost never pass the CRC, so besides raw noise these tests build frames with a
valid header and CRC around arbitrary payloads: every message type's parser then sees any
payload, and may only refuse it (FrameError "malformed"), never crash. The streaming decoder
counts every delimited chunk as one good frame or exactly one bad one, and recovers the next
intact frame whatever came before (noise, a run with no delimiter, a frame cut by a reboot).

Seeded (tests/helpers/fuzz.py): the seed is in pytest's header; re-running reproduces a
failure, and the printed `@reproduce_failure` blob replays it exactly.
"""

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from device.hal.codec import (
    HEADER,
    MAX_ENCODED,
    MAX_PAYLOAD,
    CobsError,
    FrameDecoder,
    FrameError,
    cobs_decode,
    cobs_encode,
    crc16,
    decode_frame,
    encode_frame,
    encode_payload_frame,
)
from device.hal.messages import MESSAGE_TYPES, PROTOCOL_VERSION, Heartbeat, Message
from tests.helpers.fuzz import fuzz

MARKER = Heartbeat(4321, 3, 0, 0, seq=77)
TYPES = sorted(MESSAGE_TYPES)


def _wire(frame: bytes) -> bytes:
    return b"\x00" + cobs_encode(frame) + b"\x00"


@fuzz(400)
@given(st.sampled_from(TYPES) | st.integers(0, 255), st.binary(max_size=MAX_PAYLOAD))
def test_any_payload_with_a_valid_crc_is_a_message_or_a_malformed_frame(
    msg_type: int, payload: bytes
) -> None:
    frame = encode_payload_frame(msg_type, 1, payload)
    try:
        msg: Message | str = decode_frame(frame)
    except FrameError as e:
        msg = e.reason
    if isinstance(msg, str):
        assert msg == ("malformed" if msg_type in MESSAGE_TYPES else "unknown_type")
    else:
        assert isinstance(msg, MESSAGE_TYPES[msg_type])
        assert msg.seq == 1


@fuzz(300)
@given(st.integers(0, 255), st.sampled_from(TYPES), st.binary(max_size=64))
def test_any_protocol_version_is_decoded_or_refused_by_reason(
    version: int, msg_type: int, payload: bytes
) -> None:
    body = HEADER.pack(version, msg_type, 5) + payload
    frame = body + crc16(body).to_bytes(2, "little")
    try:
        reason = type(decode_frame(frame)).__name__
    except FrameError as e:
        reason = e.reason
    if version != PROTOCOL_VERSION:
        assert reason == "bad_version"
    else:
        assert reason in ("malformed", MESSAGE_TYPES[msg_type].__name__)


@fuzz(400)
@given(st.binary(max_size=MAX_ENCODED + 16))
def test_cobs_and_frame_decoding_raise_only_their_own_errors(raw: bytes) -> None:
    try:
        frame = cobs_decode(raw)
    except CobsError:
        frame = raw
    with contextlib.suppress(FrameError):
        decode_frame(frame)


@fuzz(200)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),  # noise, zeros included
            st.tuples(st.sampled_from(TYPES), st.binary(max_size=80)).map(
                lambda t: _wire(encode_payload_frame(t[0], 3, t[1]))  # well framed, any payload
            ),
            st.binary(min_size=MAX_ENCODED + 1, max_size=MAX_ENCODED + 50).map(
                lambda b: b.replace(b"\x00", b"\x01")  # a run with no delimiter at all
            ),
        ),
        max_size=12,
    ),
    st.lists(st.integers(1, 300), max_size=30),
)
def test_after_any_garbage_the_next_intact_frame_is_recovered(
    garbage: list[bytes], chunks: list[int]
) -> None:
    stream = b"".join(garbage) + encode_frame(MARKER)
    decoder = FrameDecoder()
    got: list[Message] = []
    pos = 0
    for size in chunks:  # the line delivers the bytes in any pieces
        got += decoder.feed(stream[pos : pos + size])
        pos += size
    got += decoder.feed(stream[pos:])
    assert got
    assert got[-1] == MARKER
    stats = decoder.stats
    assert stats.bytes_in == len(stream)
    assert stats.frames == len(got)
    assert stats.bad_frames >= 0


@fuzz(300)
@given(st.integers(1, 200), st.binary(max_size=40))
def test_a_frame_cut_short_by_a_reboot_costs_only_itself(cut: int, noise: bytes) -> None:
    first = encode_frame(Heartbeat(1, 3, 0, 0, seq=1))
    cut = min(cut, len(first) - 2)
    decoder = FrameDecoder()
    got = decoder.feed(first[:cut] + noise.replace(b"\x00", b"") + encode_frame(MARKER))
    assert got[-1] == MARKER
    assert decoder.stats.frames == len(got)


@fuzz(300)
@given(st.binary(max_size=4000))
def test_every_delimited_chunk_counts_as_exactly_one_good_or_bad_frame(noise: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(noise + b"\x00")  # the trailing delimiter closes the last chunk
    pieces = [p for p in noise.split(b"\x00") if p]
    oversize = decoder.stats.oversize
    assert decoder.stats.frames + decoder.stats.bad_frames == len(pieces) or oversize
    assert decoder.stats.frames + decoder.stats.bad_frames <= len(pieces) + oversize
