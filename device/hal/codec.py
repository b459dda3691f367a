"""Framing of the MCU serial protocol: header + payload + CRC-16, COBS-stuffed, 0x00-delimited.

Pure functions and a streaming decoder with no I/O (firmware_sim/PROTOCOL.md has the byte
layout). On the wire every frame is `0x00 COBS(frame) 0x00`: the leading delimiter ends
whatever garbage came before (a half-sent frame from a rebooting MCU, line noise), so any
frame whose own bytes arrive intact is recovered. The CRC is CRC-16/CCITT-FALSE (poly
0x1021, init 0xFFFF, no reflection, no final XOR; "123456789" → 0x29B1), computed by
`binascii.crc_hqx`, which is that CRC when started at 0xFFFF.
"""

import binascii
import struct
from dataclasses import dataclass, fields

from device.hal.messages import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    MalformedPayload,
    Message,
)

HEADER = struct.Struct("<BBH")  # version, type, seq
CRC_BYTES = 2
MAX_PAYLOAD = 512
MAX_FRAME = HEADER.size + MAX_PAYLOAD + CRC_BYTES
MAX_ENCODED = MAX_FRAME + MAX_FRAME // 254 + 1  # COBS adds one byte per 254
DELIMITER = 0x00


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of `data`."""
    return binascii.crc_hqx(data, crc)


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result has no 0x00 byte."""
    out = bytearray()
    for part in data.split(b"\x00"):
        while len(part) >= 254:
            out.append(0xFF)
            out += part[:254]
            part = part[254:]
        out.append(len(part) + 1)
        out += part
    return bytes(out)


class CobsError(ValueError):
    """The bytes between two delimiters are not valid COBS."""


def cobs_decode(data: bytes) -> bytes:
    """Undo cobs_encode; raises CobsError on a zero byte or a block running past the end."""
    out = bytearray()
    idx, n = 0, len(data)
    while idx < n:
        code = data[idx]
        if code == 0:
            raise CobsError("zero byte inside a COBS block")
        end = idx + code
        if end > n:
            raise CobsError("COBS block runs past the end of the frame")
        block = data[idx + 1 : end]
        if 0 in block:
            raise CobsError("zero byte inside a COBS block")
        out += block
        idx = end
        if code != 0xFF and idx < n:
            out.append(0)
    return bytes(out)


def encode_payload_frame(msg_type: int, seq: int, payload: bytes) -> bytes:
    """Header + payload + CRC, before stuffing (also used to forge frames in tests)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    body = HEADER.pack(PROTOCOL_VERSION, msg_type, seq & 0xFFFF) + payload
    return body + crc16(body).to_bytes(CRC_BYTES, "little")


def encode_frame(msg: Message, seq: int | None = None) -> bytes:
    """One message as it goes on the wire: 0x00, COBS(header payload crc), 0x00.

    `seq` overrides the message's own (a sender numbering its frames as they go out).
    """
    frame = encode_payload_frame(msg.TYPE, msg.seq if seq is None else seq, msg.pack())
    return b"\x00" + cobs_encode(frame) + b"\x00"


def decode_frame(frame: bytes) -> Message:
    """Parse one unstuffed frame; raises FrameError saying what is wrong with it."""
    if len(frame) < HEADER.size + CRC_BYTES:
        raise FrameError("too_short", f"{len(frame)} bytes")
    body, crc = frame[:-CRC_BYTES], int.from_bytes(frame[-CRC_BYTES:], "little")
    if crc16(body) != crc:
        raise FrameError("crc", f"CRC {crc:#06x}, computed {crc16(body):#06x}")
    version, msg_type, seq = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise FrameError("bad_version", f"protocol version {version}")
    cls = MESSAGE_TYPES.get(msg_type)
    if cls is None:
        raise FrameError("unknown_type", f"message type {msg_type:#04x}")
    try:
        return cls.unpack(body[HEADER.size :], seq)
    except MalformedPayload as e:
        raise FrameError("malformed", str(e)) from None


class FrameError(ValueError):
    """A frame that could not be used; `reason` is a DecoderStats counter name."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class DecoderStats:
    """What the decoder saw; every bad frame is counted under exactly one reason."""

    frames: int = 0  # good frames
    bytes_in: int = 0
    cobs: int = 0
    too_short: int = 0
    crc: int = 0
    bad_version: int = 0
    unknown_type: int = 0
    malformed: int = 0
    oversize: int = 0  # no delimiter within MAX_ENCODED bytes: skipped to the next one

    @property
    def bad_frames(self) -> int:
        """Every frame that was dropped."""
        counts = self.as_dict()
        return sum(counts.values()) - self.frames - self.bytes_in

    def as_dict(self) -> dict[str, int]:
        """The counters, for logs and self-tests."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


class FrameDecoder:
    """Streaming decoder: feed any bytes, get every good message; never raises on bad input."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skipping = False  # inside an oversize run: drop bytes until a delimiter
        self.stats = DecoderStats()
        self.last_error: str | None = None

    def feed(self, data: bytes) -> list[Message]:
        """Take bytes from the line; return the messages completed by them."""
        self.stats.bytes_in += len(data)
        out: list[Message] = []
        start = 0
        n = len(data)
        while start < n:
            zero = data.find(b"\x00", start)
            if zero < 0:
                self._append(data[start:])
                break
            self._append(data[start:zero])
            if self._skipping:
                self._skipping = False
            elif self._buf:
                self._frame(bytes(self._buf), out)
            self._buf.clear()
            start = zero + 1
        return out

    def _append(self, chunk: bytes) -> None:
        if self._skipping:
            return
        self._buf += chunk
        if len(self._buf) > MAX_ENCODED:
            self.stats.oversize += 1
            self.last_error = f"oversize: no delimiter within {MAX_ENCODED} bytes"
            self._buf.clear()
            self._skipping = True

    def _frame(self, stuffed: bytes, out: list[Message]) -> None:
        try:
            frame = cobs_decode(stuffed)
            msg = decode_frame(frame)
        except CobsError as e:
            self.stats.cobs += 1
            self.last_error = f"cobs: {e}"
            return
        except FrameError as e:
            setattr(self.stats, e.reason, getattr(self.stats, e.reason) + 1)
            self.last_error = str(e)
            return
        self.stats.frames += 1
        out.append(msg)

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened); the counters stay."""
        self._buf.clear()
        self._skipping = False
