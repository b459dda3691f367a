"""The hardware layer as an agent stage: MCU frames in, typed readings and events out.

The link's reader thread turns frames into device.sensors readings and hands them to every
stage with `ctx.post` (the agent turns a ButtonPress into the help trigger itself). On the
agent's loop this stage then sums touches into `touch` events, reports the battery,
watches the MCU's health (silent MCU, bad frames, stuck IMU → `device_fault`), drives the
LED and the vibration motor (red blinking while help is called) and reports self-tests.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from device.config import DeviceConfig, HalConfig
from device.errors import ConfigError
from device.hal.codec import DecoderStats
from device.hal.health import BadFrameWatch, FaultChange, SilenceWatch, StuckWatch
from device.hal.link import Delivery, McuLink, Port, open_serial
from device.hal.messages import (
    AckStatus,
    BatteryStatus,
    ButtonEvent,
    Hello,
    ImuBand,
    ImuBody,
    LedCommand,
    LedPattern,
    Message,
    MotorCommand,
    MotorPattern,
    PresenceEvent,
    SelfTestRequest,
    SelfTestResult,
    TouchEvent,
)
from device.sensors import (
    IMU_RATE_HZ,
    BatteryReading,
    ButtonPress,
    HardwareFault,
    ImuBatch,
    ImuSource,
    Presence,
    Touch,
    TouchKind,
)
from device.stages import StageContext
from protocol import Command, CommandResult, EventType
from protocol.events import (
    BatteryPayload,
    DeviceFaultPayload,
    Priority,
    SelfTest,
    TouchPayload,
)

log = logging.getLogger(__name__)

COALESCE_WALL_S = 0.05  # post IMU at most this often (wall time) unless a batch is full
COALESCE_MAX_SAMPLES = 1500  # 30 s at 50 Hz: the largest ImuBatch posted
_TOUCH_KINDS = {0: TouchKind.HUG, 1: TouchKind.PAT, 2: TouchKind.SQUEEZE}


@dataclass(frozen=True)
class McuNote:
    """A frame that is no sensor reading (hello, heartbeat, self-test), for the HAL stage."""

    message: Message
    at_s: float


@dataclass(frozen=True)
class LedState:
    """What the LED should show."""

    pattern: LedPattern
    rgb: tuple[int, int, int]
    period_ms: int = 0


LED_OFF = LedState(LedPattern.OFF, (0, 0, 0))
LED_HELP = LedState(LedPattern.BLINK, (255, 0, 0), 500)
LED_LOW_BATTERY = LedState(LedPattern.BREATHE, (255, 120, 0), 3000)


def led_for(safety_active: bool, battery_low: bool) -> LedState:
    """The LED's state: red blinking while help is called, amber breathing on a low battery."""
    if safety_active:
        return LED_HELP
    if battery_low:
        return LED_LOW_BATTERY
    return LED_OFF


class _ImuCoalescer:
    """Joins consecutive IMU frames of one source into larger ImuBatch readings."""

    def __init__(self, source: ImuSource) -> None:
        self.source = source
        self.parts: list[np.ndarray] = []
        self.t0_s = 0.0
        self.next_s = 0.0
        self.count = 0
        self.last_post_wall = 0.0

    def add(self, t0_s: float, samples: np.ndarray) -> list[ImuBatch]:
        out: list[ImuBatch] = []
        if self.parts and abs(t0_s - self.next_s) > 0.5 / IMU_RATE_HZ:
            out += self.flush()  # a gap or an overlap (MCU reboot, lost frame): start afresh
        if not self.parts:
            self.t0_s = t0_s
        self.parts.append(samples)
        self.count += len(samples)
        self.next_s = t0_s + len(samples) / IMU_RATE_HZ
        if (
            self.count >= COALESCE_MAX_SAMPLES
            or time.monotonic() - self.last_post_wall >= COALESCE_WALL_S
        ):
            out += self.flush()
        return out

    def flush(self) -> list[ImuBatch]:
        if not self.parts:
            return []
        samples = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        batch = ImuBatch(self.source, self.t0_s, samples.astype(np.float32, copy=False))
        self.parts, self.count = [], 0
        self.last_post_wall = time.monotonic()
        return [batch]


class _McuClock:
    """Maps MCU milliseconds to agent seconds: the smallest arrival - send offset seen."""

    def __init__(self) -> None:
        self.offset_s: float | None = None

    def reset(self) -> None:
        self.offset_s = None

    def to_agent(self, mcu_ms: int, arrived_s: float, span_s: float) -> float:
        candidate = arrived_s - (mcu_ms / 1000.0 + span_s)
        if self.offset_s is None or candidate < self.offset_s:
            self.offset_s = candidate
        return mcu_ms / 1000.0 + self.offset_s


class HalStage:
    """The robot's body behind the MCU's serial port."""

    name = "hal"

    def __init__(
        self,
        config: HalConfig,
        *,
        opener: Callable[[str, int], Port] = open_serial,
        port: str | None = None,
    ) -> None:
        url = port or config.port
        if not url:
            raise ConfigError("[hal] enabled needs hal.port (a serial device or pyserial URL)")
        self.config = config
        self.url = url
        self._opener = opener
        self._ctx: StageContext | None = None
        self._link: McuLink | None = None
        self._lock = threading.Lock()  # guards the coalescers and the MCU clock
        self._coalescers = {s: _ImuCoalescer(s) for s in ImuSource}
        self._mcu_clock = _McuClock()
        self._silence: SilenceWatch | None = None
        self._bad = BadFrameWatch()
        rate = round(config.stuck_imu_s * IMU_RATE_HZ)
        self._stuck = {s: StuckWatch(str(s), rate) for s in ImuSource}
        self._faults: dict[tuple[str, str], str] = {}  # active faults → detail
        self._last_frame_s: float | None = None
        self._port_note = ""
        self.hello: Hello | None = None
        self.reboots = 0
        self._self_tests: dict[str, SelfTestResult] = {}
        self._touch = {k: 0 for k in TouchKind}
        self._touch_since_s: float | None = None
        self._battery: BatteryReading | None = None
        self._battery_sent: BatteryReading | None = None
        self._led_sent: LedState | None = None
        self._led_pending = False
        self._was_safety = False
        self.lag_s = 0.0  # how late the last IMU batch reached the stages (agent seconds)

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "HalStage":
        """The stage for a robot's [hal] section."""
        return cls(config.hal)

    # -- the stage protocol ---------------------------------------------------------------
    def start(self, ctx: StageContext) -> None:
        """Open the port on the link's own thread."""
        self._ctx = ctx
        self._silence = SilenceWatch(self.config.silent_timeout_s, ctx.clock.monotonic())
        self._link = McuLink(
            self.url,
            self.config.baudrate,
            self._on_message,
            on_delivery=self._on_delivery,
            on_port=self._on_port,
            opener=self._opener,
        )
        self._link.start()

    def stop(self) -> None:
        """Close the port; the touches of the unfinished period are sent."""
        if self._link is not None:
            self._link.stop()
        if self._ctx is not None:
            self._flush_touch(self._ctx.clock.monotonic())

    def on_command(self, command: Command) -> CommandResult | None:
        """No cloud command is the HAL's."""
        return None

    @property
    def stats(self) -> DecoderStats | None:
        """The serial decoder's counters."""
        return self._link.stats if self._link is not None else None

    def self_tests(self) -> list[SelfTest]:
        """The MCU link, the serial line, and each of the MCU's own self-tests."""
        silent = self._silence is not None and self._silence.silent
        fw = self.hello.firmware if self.hello else "unknown"
        stats = self.stats
        tests = [
            SelfTest(
                name="mcu",
                ok=not silent,
                detail=f"fw {fw}, {self.reboots} restarts{', silent' if silent else ''}",
            ),
            SelfTest(
                name="serial",
                ok=not self._bad.active,
                detail=(f"{stats.bad_frames} bad of {stats.frames + stats.bad_frames} frames")
                if stats
                else "",
            ),
        ]
        for name, result in sorted(self._self_tests.items()):
            stuck = (name, "imu_stuck") in self._faults or (
                name == "imu" and ("body", "imu_stuck") in self._faults
            )
            ok = result.ok and not stuck
            detail = "" if ok else ("stuck" if stuck else f"code {result.code}")
            tests.append(SelfTest(name=f"mcu.{name}", ok=ok, detail=detail))
        return tests

    def handle(self, item: object, now_s: float) -> None:
        """Readings this stage posted (and the notes only it reads)."""
        if isinstance(item, McuNote):
            self._note(item.message, item.at_s)
        elif isinstance(item, Touch):
            if self._touch_since_s is None:
                self._touch_since_s = item.at_s
            self._touch[item.kind] += 1
        elif isinstance(item, BatteryReading):
            self._on_battery(item)
        elif isinstance(item, ImuBatch):
            self.lag_s = now_s - (item.t0_s + len(item.samples) / item.rate_hz)
            change = self._stuck[item.source].samples(item.samples)
            if change is not None:
                self._fault(change, now_s)

    def tick(self, now_s: float) -> None:
        """Health checks, touch periods, IMU left waiting, LED."""
        ctx = self._ctx
        if ctx is None or self._silence is None or self._link is None:
            return
        with self._lock:
            batches = [b for c in self._coalescers.values() for b in c.flush()]
        for batch in batches:
            ctx.post(batch)
        last = self._last_frame_s
        if last is not None:
            change = self._silence.frame(last)
            self._last_frame_s = None
            if change is not None:
                self._fault(change, now_s)
        change = self._silence.check(now_s, self._port_note, self._link.listened_in_vain_s())
        if change is not None:
            self._fault(change, now_s)
        stats = self._link.stats
        change = self._bad.check(now_s, stats.frames, stats.bad_frames)
        if change is not None:
            self._fault(change, now_s)
        if (
            self._touch_since_s is not None
            and now_s - self._touch_since_s >= self.config.touch_period_s
        ):
            self._flush_touch(now_s)
        self._drive_outputs(ctx)

    # -- the link's thread ----------------------------------------------------------------
    def _on_message(self, message: Message) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        now = ctx.clock.monotonic()
        self._last_frame_s = now
        readings: list[object] = []
        if isinstance(message, ImuBand | ImuBody):
            source = ImuSource.BAND if isinstance(message, ImuBand) else ImuSource.BODY
            n = len(message.samples)
            with self._lock:
                t0 = self._mcu_clock.to_agent(message.t0_ms, now, (n - 1) / IMU_RATE_HZ)
                readings += self._coalescers[source].add(t0, message.to_physical())
        elif isinstance(message, TouchEvent):
            zone = message.zone.name.lower()
            readings.append(Touch(_TOUCH_KINDS[message.kind], zone, now))
        elif isinstance(message, PresenceEvent):
            readings.append(Presence(message.present, now))
        elif isinstance(message, ButtonEvent):
            readings.append(ButtonPress(message.long, now))
        elif isinstance(message, BatteryStatus):
            readings.append(BatteryReading(float(message.percent), message.charging, now))
        elif isinstance(message, Hello | SelfTestResult):
            if isinstance(message, Hello):
                with self._lock:
                    self._mcu_clock.reset()
                    for c in self._coalescers.values():
                        readings += c.flush()
                if self._link is not None:
                    self._link.forget_received()
            readings.append(McuNote(message, now))
        for reading in readings:
            ctx.post(reading)

    def _on_delivery(self, delivery: Delivery) -> None:
        if delivery.status is not AckStatus.OK:
            what = "no answer" if delivery.status is None else str(delivery.status.name).lower()
            log.warning("MCU did not take %s: %s", type(delivery.message).__name__, what)
            if isinstance(delivery.message, LedCommand):
                self._led_pending = True  # try again on the next tick

    def _on_port(self, is_open: bool, why: str) -> None:
        self._port_note = "" if is_open else f"serial port {self.url}: {why}"

    # -- on the agent's loop --------------------------------------------------------------
    def _note(self, message: Message, at_s: float) -> None:
        ctx = self._ctx
        assert ctx is not None
        if isinstance(message, Hello):
            before = self.hello
            self.hello = message
            if before is not None and before.boot_count == message.boot_count:
                return  # the answer to our HelloRequest: nothing new
            if before is not None:
                self.reboots += 1
            reason = message.reset_reason.name.lower()
            fw = message.firmware
            ctx.step("mcu", f"hello: firmware {fw}, boot {message.boot_count} ({reason})")
            self._led_sent = None  # the MCU forgot it: send the LED state again
            if self._link is not None:
                self._link.send(SelfTestRequest())
        elif isinstance(message, SelfTestResult):
            name = message.test.name.lower()
            previous = self._self_tests.get(name)
            self._self_tests[name] = message
            if not message.ok and (previous is None or previous.ok):
                detail = f"MCU self-test {name} failed with code {message.code}"
                self._fault(FaultChange(name, "self_test_failed", detail, True), at_s)

    def _fault(self, change: FaultChange, now_s: float) -> None:
        ctx = self._ctx
        assert ctx is not None
        key = (change.component, change.code)
        if change.active:
            self._faults[key] = change.detail
            ctx.emit(
                EventType.DEVICE_FAULT,
                DeviceFaultPayload(
                    component=change.component, code=change.code, detail=change.detail[:200]
                ),
            )
        else:
            self._faults.pop(key, None)
            ctx.step("hal", f"{change.component} {change.code} cleared: {change.detail}")
        ctx.post(HardwareFault(change.component, change.detail, now_s, cleared=not change.active))

    def _on_battery(self, reading: BatteryReading) -> None:
        ctx = self._ctx
        assert ctx is not None
        self._battery = reading
        last = self._battery_sent
        low = self.config.battery_low_pct
        due = (
            last is None
            or reading.charging != last.charging
            or abs(reading.percent - last.percent) >= self.config.battery_step_pct
            or (reading.percent <= low and reading.percent < last.percent)
            or (reading.percent <= low < last.percent)
        )
        if due:
            self._battery_sent = reading
            priority = Priority.HIGH if reading.percent <= low and not reading.charging else None
            ctx.emit(
                EventType.BATTERY,
                BatteryPayload(level_pct=reading.percent, charging=reading.charging),
                priority=priority,
            )

    def _flush_touch(self, now_s: float) -> None:
        ctx = self._ctx
        if ctx is None or self._touch_since_s is None:
            return
        wall = ctx.clock.now()
        start = wall - timedelta(seconds=max(0.0, now_s - self._touch_since_s))
        counts = {k.value: n for k, n in self._touch.items()}
        self._touch = {k: 0 for k in TouchKind}
        self._touch_since_s = None
        try:
            ctx.emit(EventType.TOUCH, TouchPayload(period_start=start, period_end=wall, **counts))
        except Exception:  # at shutdown the outbox may already be closed
            log.exception("could not write the last touch period")

    def _drive_outputs(self, ctx: StageContext) -> None:
        if not self.config.led or self._link is None or not self._link.connected:
            return
        safety = ctx.safety_active
        battery = self._battery
        low = (
            battery is not None
            and not battery.charging
            and battery.percent <= self.config.battery_low_pct
        )
        want = led_for(safety, low)
        if want != self._led_sent or self._led_pending:
            self._led_sent, self._led_pending = want, False
            r, g, b = want.rgb
            self._link.send(LedCommand(want.pattern, r, g, b, want.period_ms))
        if safety and not self._was_safety:
            self._link.send(MotorCommand(MotorPattern.PULSE, 200, 600))
        self._was_safety = safety
