"""The virtual MCU: the robot's microcontroller, speaking the serial protocol about a World.

Pure and time-driven: `advance(now_s)` returns the bytes the MCU sent up to simulated time
`now_s`, `receive(data, now_s)` takes the host's bytes. It streams the wrist band's IMU
(relayed from the band in 0.5 s batches while it is worn) and the body IMU (continuously
while the robot is moved, a short batch every 10 s at rest, as an any-motion interrupt
would), reports presence, touches, the help button (retried until acknowledged), the
battery and a heartbeat, obeys LED / motor / self-test commands with acknowledgements,
and suffers the faults the world schedules. Same world and seed → the same bytes.
"""

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from device.hal.codec import FrameDecoder, encode_frame
from device.hal.messages import (
    CAP_ALL,
    HB_BAND_CONNECTED,
    HB_CHARGING,
    HB_IMU_OK,
    PROTOCOL_VERSION,
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
from firmware_sim.band import BandMotion
from firmware_sim.body import Battery, RobotBody
from firmware_sim.world import EventKind, World, WorldEvent
from models.data.imu_synth import Person

log = logging.getLogger(__name__)

FIRMWARE = (1, 2, 0)
HW_REVISION = 2
STEP_S = 0.5  # the MCU's scheduling quantum: one band batch (25 samples)
RATE_HZ = 50
HEARTBEAT_S = 1.0
BATTERY_S = 60.0
BODY_KEEPALIVE_S = 30.0
BODY_KEEPALIVE_SAMPLES = 5
BOOT_S = 0.3
BUTTON_RETRY_S = 0.2
BUTTON_ATTEMPTS = 5
_TOUCH = {
    "hug": (TouchKind.HUG, 2500, 180),
    "pat": (TouchKind.PAT, 300, 120),
    "squeeze": (TouchKind.SQUEEZE, 800, 230),
}


@dataclass
class McuStats:
    """What the MCU did, for the scenario report and tests."""

    frames_sent: int = 0
    bytes_sent: int = 0
    bytes_dropped: int = 0  # by line noise
    bits_flipped: int = 0
    frames_cut: int = 0  # by a reboot in mid-frame
    host_frames: int = 0
    host_bad: int = 0
    boots: int = 1
    acks_sent: int = 0
    led: tuple[int, int, int, int] = (0, 0, 0, 0)  # pattern, r, g, b
    led_changes: list[tuple[float, str]] = field(default_factory=list)
    motor_runs: int = 0


@dataclass
class _Pending:
    frame: bytes
    attempts: int
    next_s: float


class VirtualMcu:
    """The MCU's firmware, simulated; see the module docstring."""

    def __init__(
        self,
        world: World,
        seed: int,
        *,
        battery: Battery | None = None,
        person: Person | None = None,
        on_event: Callable[[float, str], None] | None = None,
    ) -> None:
        self.world = world
        self.seed = seed
        self.band = BandMotion(world, seed, person)
        self.body = RobotBody(seed)
        self.battery = battery or Battery()
        self.stats = McuStats()
        self.on_event = on_event
        self._noise_rng = np.random.default_rng(zlib.crc32(f"line-{seed}".encode()))
        self._t = 0.0
        self._boot_s = 0.0
        self._reset_reason = ResetReason.POWER_ON
        self._seq = 0
        self._out = bytearray()
        self._decoder = FrameDecoder()
        self._hello_due = True
        self._down_until = 0.0  # booting or hung until then
        self._reboot_after_hang = False
        self.powered = True
        self._pending: dict[int, _Pending] = {}
        self._present: bool | None = None
        self._charging: bool | None = None
        self._next_hb = 0.0
        self._next_battery = 0.0
        self._next_keepalive = 0.0
        self._stuck: dict[str, tuple[float, np.ndarray | None]] = {}
        self._noise: tuple[float, float, float] | None = None  # until, ber, drop
        self.serial_down_until = 0.0
        self._event_index = 0

    # -- time -------------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        """Simulated time processed so far."""
        return self._t

    def advance(self, now_s: float) -> bytes:
        """Run the firmware up to `now_s`; return what it sent on the UART meanwhile."""
        while self._t + STEP_S <= now_s:
            self._step(self._t, self._t + STEP_S)
            self._t += STEP_S
        data = bytes(self._out)
        self._out.clear()
        return data

    def serial_connected(self, now_s: float) -> bool:
        """False while the UART cable is pulled."""
        return now_s >= self.serial_down_until

    def _up(self, t_s: float) -> bool:
        return self.powered and t_s >= self._down_until

    def _mcu_ms(self, t_s: float) -> int:
        return round((t_s - self._boot_s) * 1000) & 0xFFFFFFFF

    def _note(self, t_s: float, what: str) -> None:
        log.info("mcu %.1f s: %s", t_s, what)
        if self.on_event is not None:
            self.on_event(t_s, what)

    # -- one quantum ------------------------------------------------------------------------
    def _step(self, t0: float, t1: float) -> None:
        events = self.world.events
        while self._event_index < len(events) and events[self._event_index].at_s < t1:
            event = events[self._event_index]
            self._event_index += 1
            if event.at_s >= t0 - STEP_S:
                self._apply(event, max(event.at_s, t0))
        self.battery.advance(t1 - t0)
        if self.powered and self.battery.empty:
            self.powered = False
            self._out.clear()
            self._note(t0, "battery empty: the robot has no power")
        elif not self.powered and self.battery.plugged and self.battery.dying_factor == 1.0:
            self.powered = True
            self._reboot(t0, ResetReason.POWER_ON, "power is back")
        if self._reboot_after_hang and t0 >= self._down_until:
            self._reboot_after_hang = False
            self._reboot(t0, ResetReason.WATCHDOG, "watchdog restart after the hang")
        if not self._up(t0):
            return
        start = len(self._out)
        if self._hello_due:
            self._hello_due = False
            self._send(self._hello())
        seg = self.world.segment_at(t0)
        i0 = round(t0 * RATE_HZ)
        n = round((t1 - t0) * RATE_HZ)
        if seg.band:
            self._send(
                ImuBand(
                    self._mcu_ms(t0),
                    quantize_imu(self._held("band", self.band.samples(i0, i0 + n), t0)),
                )
            )
        if self.body.moving(t0):
            body = self._held("body", self.body.samples(i0, n), t0)
            self._send(ImuBody(self._mcu_ms(t0), quantize_imu(body)))
            self._next_keepalive = t0 + BODY_KEEPALIVE_S
        elif t0 >= self._next_keepalive:
            body = self._held("body", self.body.samples(i0, BODY_KEEPALIVE_SAMPLES), t0)
            self._send(ImuBody(self._mcu_ms(t0), quantize_imu(body)))
            self._next_keepalive = t0 + BODY_KEEPALIVE_S
        present = self.world.present(t0)
        if present != self._present:
            self._present = present
            self._send(PresenceEvent(present))
        if t0 >= self._next_hb:
            self._next_hb = t0 + HEARTBEAT_S
            flags = HB_IMU_OK | (HB_BAND_CONNECTED if seg.band else 0)
            flags |= HB_CHARGING if self.battery.charging else 0
            uptime = self._mcu_ms(t0)
            self._send(Heartbeat(uptime, flags, 0, self._decoder.stats.bad_frames & 0xFFFF))
        if t0 >= self._next_battery or self.battery.charging != self._charging:
            self._next_battery = t0 + BATTERY_S
            self._charging = self.battery.charging
            b = self.battery
            self._send(BatteryStatus(round(b.percent), b.charging, b.millivolts))
        for seq, pending in list(self._pending.items()):
            if pending.next_s <= t0:
                if pending.attempts >= BUTTON_ATTEMPTS:
                    del self._pending[seq]
                    self._note(t0, f"button frame {seq} never acknowledged")
                    continue
                pending.attempts += 1
                pending.next_s = t0 + BUTTON_RETRY_S
                self._out += pending.frame
        if self._noise is not None:
            until, ber, drop = self._noise
            if t0 >= until:
                self._noise = None
                self._note(t0, "line noise over")
            else:
                self._out[start:] = self._corrupt(bytes(self._out[start:]), ber, drop)

    def _held(self, sensor: str, samples: np.ndarray, t0: float) -> np.ndarray:
        stuck = self._stuck.get(sensor)
        if stuck is None:
            return samples
        until, value = stuck
        if t0 >= until:
            del self._stuck[sensor]
            self._note(t0, f"{sensor} IMU reads again")
            return samples
        if value is None:
            value = samples[0].copy()
            self._stuck[sensor] = (until, value)
        return np.tile(value, (len(samples), 1))

    def _apply(self, event: WorldEvent, t: float) -> None:
        kind = event.kind
        if kind is EventKind.TOUCH:
            self._touch(str(event.arg("zone", "head")), str(event.arg("touch", "pat")), t)
        elif kind is EventKind.BUTTON:
            if self._up(t):
                long = bool(event.arg("long", False))
                msg = self._numbered(ButtonEvent(long, 2500 if long else 200))
                frame = encode_frame(msg)
                self._pending[msg.seq] = _Pending(frame, 1, t + BUTTON_RETRY_S)
                self._emit(frame)
            self._note(t, "help button " + ("long press" if event.arg("long") else "press"))
        elif kind is EventKind.ROBOT:
            handling = str(event.arg("handling", "hug"))
            self.body.handle(handling, t, float(event.arg("seconds", 5.0)))
            if handling == "hug":
                self._touch("back", "hug", t)
            self._note(t, f"the robot: {handling}")
        elif kind is EventKind.POWER:
            self.battery.plugged = bool(event.arg("plugged", True))
            self._note(t, "power cable " + ("plugged in" if self.battery.plugged else "pulled"))
        elif kind is EventKind.LINE_NOISE:
            ber, drop = float(event.arg("ber", 1e-3)), float(event.arg("drop", 0.0))
            self._noise = (t + float(event.arg("seconds", 30.0)), ber, drop)
            self._note(t, f"line noise: bit error rate {ber:g}, dropped bytes {drop:g}")
        elif kind is EventKind.REBOOT:
            self._reboot(t, ResetReason.WATCHDOG, "MCU restarts")
        elif kind is EventKind.HANG:
            self._down_until = t + float(event.arg("seconds", 10.0))
            self._reboot_after_hang = True
            self._note(t, f"MCU hangs for {event.arg('seconds', 10.0)} s")
        elif kind is EventKind.STUCK:
            sensor = str(event.arg("sensor", "band"))
            self._stuck[sensor] = (t + float(event.arg("seconds", 60.0)), None)
            self._note(t, f"{sensor} IMU stuck")
        elif kind is EventKind.BATTERY_DYING:
            self.battery.dying_factor = float(event.arg("factor", 20.0))
            self._note(t, "battery dying")
        elif kind is EventKind.UNPLUG_SERIAL:
            self.serial_down_until = t + float(event.arg("seconds", 10.0))
            self._note(t, f"UART cable pulled for {event.arg('seconds', 10.0)} s")
        elif kind is EventKind.FALL:
            self._note(t, f"the senior falls ({event.arg('fall', 'forward')})")

    def _touch(self, zone: str, touch: str, t: float) -> None:
        if not self._up(t):
            return
        kind, duration, strength = _TOUCH[touch]
        self._send(TouchEvent(Zone[zone.upper()], kind, duration, strength))

    def _reboot(self, t: float, reason: ResetReason, why: str) -> None:
        if self._up(t):  # the frame in flight is cut short
            self._seq = (self._seq + 1) & 0xFFFF
            frame = encode_frame(Heartbeat(self._mcu_ms(t), HB_IMU_OK, 0, 0), self._seq)
            self._out += frame[: int(self._noise_rng.integers(2, len(frame) - 1))]
            self.stats.frames_cut += 1
        self._boot_s = t
        self._reset_reason = reason
        self._seq = 0
        self._pending.clear()
        self._down_until = t + BOOT_S
        self._hello_due = True
        self._present = None
        self._charging = None
        self.stats.boots += 1
        self.stats.led = (0, 0, 0, 0)
        self._decoder.reset()
        self._note(t, f"{why} ({reason.name.lower()})")

    def _hello(self) -> Hello:
        major, minor, patch = FIRMWARE
        return Hello(
            major,
            minor,
            patch,
            PROTOCOL_VERSION,
            HW_REVISION,
            self._reset_reason,
            self.stats.boots,
            CAP_ALL,
        )

    # -- the host's side --------------------------------------------------------------------
    def receive(self, data: bytes, now_s: float) -> None:
        """Bytes from the host; answers go out with the next advance."""
        if not self._up(now_s):
            return
        before = self._decoder.stats.bad_frames
        for msg in self._decoder.feed(data):
            self.stats.host_frames += 1
            self._command(msg, now_s)
        self.stats.host_bad += self._decoder.stats.bad_frames - before

    def _command(self, msg: Message, now_s: float) -> None:
        if isinstance(msg, Ack):
            self._pending.pop(msg.acked_seq, None)
        elif isinstance(msg, HelloRequest):
            self._send(self._hello())
            # a host that asks who we are has (re)connected: re-announce the level states it
            # may have missed (sent before it opened the port)
            self._present = None
            self._charging = None
        elif isinstance(msg, LedCommand):
            self._ack(msg)
            led = (int(msg.pattern), msg.red, msg.green, msg.blue)
            if led != self.stats.led:
                self.stats.led = led
                what = f"{msg.pattern.name.lower()} rgb({msg.red},{msg.green},{msg.blue})"
                self.stats.led_changes.append((now_s, what))
                self._note(now_s, f"LED {what}")
        elif isinstance(msg, MotorCommand):
            self._ack(msg)
            if msg.pattern is not MotorPattern.OFF:
                self.stats.motor_runs += 1
                self._note(now_s, f"motor {msg.pattern.name.lower()} {msg.duration_ms} ms")
        elif isinstance(msg, SelfTestRequest):
            self._ack(msg)
            for test in SelfTestId:
                ok = not (test is SelfTestId.BATTERY and self.battery.dying_factor != 1.0)
                self._send(SelfTestResult(test, ok, 0 if ok else 2))
        else:
            self._send(Ack(msg.TYPE, msg.seq, AckStatus.UNSUPPORTED))

    def _ack(self, msg: Message) -> None:
        self.stats.acks_sent += 1
        self._send(Ack(msg.TYPE, msg.seq, AckStatus.OK))

    # -- frames out -------------------------------------------------------------------------
    def _numbered(self, msg: Message) -> Message:
        self._seq = (self._seq + 1) & 0xFFFF
        return replace(msg, seq=self._seq)

    def _send(self, msg: Message) -> None:
        self._seq = (self._seq + 1) & 0xFFFF
        self._emit(encode_frame(msg, self._seq))

    def _emit(self, frame: bytes) -> None:
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(frame)
        self._out += frame

    def _corrupt(self, data: bytes, ber: float, drop: float) -> bytes:
        arr = np.frombuffer(data, np.uint8).copy()
        if ber > 0:
            flips = self._noise_rng.random(arr.size * 8) < ber
            if flips.any():
                bits = np.packbits(flips.reshape(-1, 8), axis=1).reshape(-1)
                arr ^= bits
                self.stats.bits_flipped += int(flips.sum())
        if drop > 0:
            keep = self._noise_rng.random(arr.size) >= drop
            self.stats.bytes_dropped += int((~keep).sum())
            arr = arr[keep]
        return arr.tobytes()
