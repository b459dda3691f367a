"""The messages of the MCU serial protocol (firmware_sim/PROTOCOL.md), as frozen values.

Each message knows its type code and how to pack its payload; the framing (header, CRC,
COBS) is in device.hal.codec. Multi-byte fields are little-endian. IMU samples travel as
int16 counts with fixed scales (ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS); `to_physical` turns
them into the float32 units of device.sensors.
"""

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, TypeVar

import numpy as np

PROTOCOL_VERSION = 1
"""The version byte of every frame; a frame of another version is counted and dropped."""

ACCEL_LSB_PER_G = 2048.0  # ±16 g full scale
GYRO_LSB_PER_DPS = 16.0  # ±2048 dps full scale
MAX_IMU_SAMPLES = 32  # per frame
ACCEL_MAX_G = 32767 / ACCEL_LSB_PER_G
GYRO_MAX_DPS = 32767 / GYRO_LSB_PER_DPS


class MalformedPayload(ValueError):
    """A frame passed its CRC but its payload does not fit its message type."""


class MsgType(IntEnum):
    """Type codes: 0x01-0x7F travel MCU → host, 0x80-0xFF host → MCU; ACK goes both ways."""

    HELLO = 0x01
    HEARTBEAT = 0x02
    IMU_BODY = 0x10
    IMU_BAND = 0x11
    TOUCH = 0x20
    PRESENCE = 0x21
    BUTTON = 0x22
    BATTERY = 0x23
    SELF_TEST_RESULT = 0x30
    ACK = 0x40
    HELLO_REQUEST = 0x80
    LED = 0x81
    MOTOR = 0x82
    SELF_TEST_REQUEST = 0x83


class ResetReason(IntEnum):
    """Why the MCU (re)started."""

    POWER_ON = 0
    WATCHDOG = 1
    BROWN_OUT = 2
    SOFTWARE = 3
    UNKNOWN = 255


class Zone(IntEnum):
    """Touch zones of the robot's body (names as in device.sensors.Touch.zone)."""

    HEAD = 0
    BACK = 1
    BELLY = 2
    LEFT_HAND = 3
    RIGHT_HAND = 4


class TouchKind(IntEnum):
    """What the MCU's touch classifier recognised."""

    HUG = 0
    PAT = 1
    SQUEEZE = 2


class SelfTestId(IntEnum):
    """The MCU's self-tests."""

    IMU = 0
    BAND = 1
    TOUCH = 2
    PIR = 3
    BATTERY = 4
    LED = 5
    MOTOR = 6


class AckStatus(IntEnum):
    """The outcome in an ACK."""

    OK = 0
    BAD_ARGUMENT = 1
    UNSUPPORTED = 2
    BUSY = 3


class LedPattern(IntEnum):
    """LED patterns the MCU animates itself."""

    OFF = 0
    SOLID = 1
    BLINK = 2
    BREATHE = 3


class MotorPattern(IntEnum):
    """Vibration patterns."""

    OFF = 0
    BUZZ = 1
    PULSE = 2
    HEARTBEAT = 3


# Heartbeat flags
HB_BAND_CONNECTED = 0x01
HB_IMU_OK = 0x02
HB_CHARGING = 0x04

# Capability bits in HELLO
CAP_BODY_IMU = 0x0001
CAP_BAND = 0x0002
CAP_TOUCH = 0x0004
CAP_PIR = 0x0008
CAP_BUTTON = 0x0010
CAP_BATTERY = 0x0020
CAP_LED = 0x0040
CAP_MOTOR = 0x0080
CAP_ALL = 0x00FF

E = TypeVar("E", bound=IntEnum)


def _enum(cls: type[E], value: int, what: str) -> E:
    try:
        return cls(value)
    except ValueError:
        raise MalformedPayload(f"unknown {what} {value}") from None


@dataclass(frozen=True)
class Message:
    """Base of every message; `seq` is the sender's frame counter (uint16, wraps)."""

    TYPE: ClassVar[MsgType]
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<")
    seq: int = field(default=0, kw_only=True)

    def pack(self) -> bytes:
        """The payload bytes (without header or CRC)."""
        return self.FORMAT.pack(*self._fields())

    def _fields(self) -> tuple[int, ...]:
        return ()

    @classmethod
    def unpack(cls, payload: bytes, seq: int) -> "Message":
        """Parse a payload; trailing bytes from a newer minor revision are ignored."""
        if len(payload) < cls.FORMAT.size:
            raise MalformedPayload(
                f"{cls.TYPE.name} payload is {len(payload)} bytes, needs {cls.FORMAT.size}"
            )
        return cls._build(cls.FORMAT.unpack_from(payload), payload, seq)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        return cls(*values, seq=seq)


@dataclass(frozen=True)
class Hello(Message):
    """The MCU introduces itself after every (re)start and when asked."""

    TYPE: ClassVar[MsgType] = MsgType.HELLO
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBBBBBHH")
    fw_major: int
    fw_minor: int
    fw_patch: int
    protocol_version: int
    hw_revision: int
    reset_reason: ResetReason
    boot_count: int
    capabilities: int

    def _fields(self) -> tuple[int, ...]:
        return (
            self.fw_major,
            self.fw_minor,
            self.fw_patch,
            self.protocol_version,
            self.hw_revision,
            self.reset_reason,
            self.boot_count,
            self.capabilities,
        )

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        major, minor, patch, proto, hw, reason, boots, caps = values
        reset = _enum(ResetReason, reason, "reset reason")
        return cls(major, minor, patch, proto, hw, reset, boots, caps, seq=seq)

    @property
    def firmware(self) -> str:
        """ "major.minor.patch"."""
        return f"{self.fw_major}.{self.fw_minor}.{self.fw_patch}"


@dataclass(frozen=True)
class Heartbeat(Message):
    """Once a second: the MCU is alive, with its own health counters."""

    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<IBHH")
    uptime_ms: int
    flags: int
    tx_dropped: int  # frames the MCU dropped because its transmit buffer was full
    rx_bad: int  # bad frames the MCU received from the host

    def _fields(self) -> tuple[int, ...]:
        return (self.uptime_ms, self.flags, self.tx_dropped, self.rx_bad)


@dataclass(frozen=True)
class _Imu(Message):
    """Consecutive IMU samples at 50 Hz: int16 counts, (n, 6) in device.sensors.IMU_COLUMNS."""

    FORMAT: ClassVar[struct.Struct] = struct.Struct("<IB")
    t0_ms: int  # MCU time of the first sample
    samples: np.ndarray = field(repr=False)  # (n, 6) int16

    def __post_init__(self) -> None:
        arr = np.ascontiguousarray(self.samples, dtype=np.int16)
        if arr.ndim != 2 or arr.shape[1] != 6 or not 1 <= arr.shape[0] <= MAX_IMU_SAMPLES:
            raise ValueError(f"IMU samples must be (1..{MAX_IMU_SAMPLES}, 6), not {arr.shape}")
        object.__setattr__(self, "samples", arr)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, _Imu)
            and (self.t0_ms, self.seq) == (other.t0_ms, other.seq)
            and np.array_equal(self.samples, other.samples)
        )

    def __hash__(self) -> int:
        return hash((self.TYPE, self.t0_ms, self.seq, self.samples.tobytes()))

    def pack(self) -> bytes:
        """Header then n × 6 little-endian int16."""
        head = self.FORMAT.pack(self.t0_ms, self.samples.shape[0])
        return head + self.samples.astype("<i2", copy=False).tobytes()

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        t0_ms, n = values
        need = cls.FORMAT.size + n * 12
        if not 1 <= n <= MAX_IMU_SAMPLES or len(payload) < need:
            raise MalformedPayload(f"{cls.TYPE.name}: {n} samples in {len(payload)} bytes")
        raw = np.frombuffer(payload, dtype="<i2", count=n * 6, offset=cls.FORMAT.size)
        return cls(t0_ms, raw.reshape(n, 6).astype(np.int16), seq=seq)

    def to_physical(self) -> np.ndarray:
        """(n, 6) float32: acceleration in g, angular rate in degrees per second."""
        out = self.samples.astype(np.float32)
        out[:, :3] /= ACCEL_LSB_PER_G
        out[:, 3:] /= GYRO_LSB_PER_DPS
        return out


def quantize_imu(physical: np.ndarray) -> np.ndarray:
    """(n, 6) g and dps → int16 counts, saturating at full scale as a real IMU does."""
    scale = np.array([ACCEL_LSB_PER_G] * 3 + [GYRO_LSB_PER_DPS] * 3, dtype=np.float64)
    counts = np.rint(np.asarray(physical, dtype=np.float64) * scale)
    return np.clip(counts, -32768, 32767).astype(np.int16)


@dataclass(frozen=True, eq=False)
class ImuBody(_Imu):
    """The robot's own IMU (picked up, carried, knocked over)."""

    TYPE: ClassVar[MsgType] = MsgType.IMU_BODY


@dataclass(frozen=True, eq=False)
class ImuBand(_Imu):
    """The paired wrist band's IMU, relayed by the MCU in batches."""

    TYPE: ClassVar[MsgType] = MsgType.IMU_BAND


@dataclass(frozen=True)
class TouchEvent(Message):
    """The touch sensors recognised a gesture (sent when it ends)."""

    TYPE: ClassVar[MsgType] = MsgType.TOUCH
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBHB")
    zone: Zone
    kind: TouchKind
    duration_ms: int
    strength: int  # 0-255, peak of the capacitive/pressure signal

    def _fields(self) -> tuple[int, ...]:
        return (self.zone, self.kind, self.duration_ms, self.strength)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        zone, kind, duration_ms, strength = values
        return cls(
            _enum(Zone, zone, "touch zone"),
            _enum(TouchKind, kind, "touch kind"),
            duration_ms,
            strength,
            seq=seq,
        )


@dataclass(frozen=True)
class PresenceEvent(Message):
    """The PIR sensor changed state."""

    TYPE: ClassVar[MsgType] = MsgType.PRESENCE
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<B")
    present: bool

    def _fields(self) -> tuple[int, ...]:
        return (int(self.present),)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        if values[0] > 1:
            raise MalformedPayload(f"presence must be 0 or 1, not {values[0]}")
        return cls(bool(values[0]), seq=seq)


@dataclass(frozen=True)
class ButtonEvent(Message):
    """The help button was released (long: held ≥ 2 s). Reliable: the host acknowledges it."""

    TYPE: ClassVar[MsgType] = MsgType.BUTTON
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BH")
    long: bool
    duration_ms: int

    def _fields(self) -> tuple[int, ...]:
        return (int(self.long), self.duration_ms)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        if values[0] > 1:
            raise MalformedPayload(f"button long must be 0 or 1, not {values[0]}")
        return cls(bool(values[0]), values[1], seq=seq)


@dataclass(frozen=True)
class BatteryStatus(Message):
    """Battery level (every 10 s and on change of charging)."""

    TYPE: ClassVar[MsgType] = MsgType.BATTERY
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBH")
    percent: int  # 0-100
    charging: bool
    millivolts: int

    def _fields(self) -> tuple[int, ...]:
        return (self.percent, int(self.charging), self.millivolts)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        percent, charging, mv = values
        if percent > 100 or charging > 1:
            raise MalformedPayload(f"battery {percent} % charging={charging} is out of range")
        return cls(percent, bool(charging), mv, seq=seq)


@dataclass(frozen=True)
class SelfTestResult(Message):
    """One self-test's result, answering SELF_TEST_REQUEST (and sent once after boot)."""

    TYPE: ClassVar[MsgType] = MsgType.SELF_TEST_RESULT
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBB")
    test: SelfTestId
    ok: bool
    code: int  # 0 when ok; a test-specific failure code otherwise

    def _fields(self) -> tuple[int, ...]:
        return (self.test, int(self.ok), self.code)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        test, ok, code = values
        if ok > 1:
            raise MalformedPayload(f"self-test ok must be 0 or 1, not {ok}")
        return cls(_enum(SelfTestId, test, "self-test"), bool(ok), code, seq=seq)


@dataclass(frozen=True)
class Ack(Message):
    """Acknowledges one reliable frame of the other side by its type and seq."""

    TYPE: ClassVar[MsgType] = MsgType.ACK
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BHB")
    acked_type: int
    acked_seq: int
    status: AckStatus = AckStatus.OK

    def _fields(self) -> tuple[int, ...]:
        return (self.acked_type, self.acked_seq, self.status)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        t, s, status = values
        return cls(t, s, _enum(AckStatus, status, "ack status"), seq=seq)


@dataclass(frozen=True)
class HelloRequest(Message):
    """The host asks the MCU to introduce itself (sent when the host (re)opens the port)."""

    TYPE: ClassVar[MsgType] = MsgType.HELLO_REQUEST
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<B")
    host_protocol_version: int = PROTOCOL_VERSION

    def _fields(self) -> tuple[int, ...]:
        return (self.host_protocol_version,)


@dataclass(frozen=True)
class LedCommand(Message):
    """Set the LED: pattern, colour, period of the animation. Reliable: the MCU acknowledges."""

    TYPE: ClassVar[MsgType] = MsgType.LED
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBBBH")
    pattern: LedPattern
    red: int
    green: int
    blue: int
    period_ms: int = 0

    def _fields(self) -> tuple[int, ...]:
        return (self.pattern, self.red, self.green, self.blue, self.period_ms)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        p, r, g, b, period = values
        return cls(_enum(LedPattern, p, "LED pattern"), r, g, b, period, seq=seq)


@dataclass(frozen=True)
class MotorCommand(Message):
    """Vibrate. Reliable: the MCU acknowledges."""

    TYPE: ClassVar[MsgType] = MsgType.MOTOR
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBH")
    pattern: MotorPattern
    intensity: int  # 0-255
    duration_ms: int

    def _fields(self) -> tuple[int, ...]:
        return (self.pattern, self.intensity, self.duration_ms)

    @classmethod
    def _build(cls, values: tuple[int, ...], payload: bytes, seq: int) -> "Message":
        p, i, d = values
        return cls(_enum(MotorPattern, p, "motor pattern"), i, d, seq=seq)


@dataclass(frozen=True)
class SelfTestRequest(Message):
    """Run every self-test; the MCU acknowledges, then sends one SELF_TEST_RESULT each."""

    TYPE: ClassVar[MsgType] = MsgType.SELF_TEST_REQUEST


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Heartbeat,
        ImuBody,
        ImuBand,
        TouchEvent,
        PresenceEvent,
        ButtonEvent,
        BatteryStatus,
        SelfTestResult,
        Ack,
        HelloRequest,
        LedCommand,
        MotorCommand,
        SelfTestRequest,
    )
}

RELIABLE_TYPES = frozenset({MsgType.BUTTON, MsgType.LED, MsgType.MOTOR, MsgType.SELF_TEST_REQUEST})
"""Frames the receiver acknowledges and the sender retries (same seq) until it does."""
