"""The HAL stage against the virtual MCU over a real PTY: faults, recovery, resync, outputs."""

import itertools
from collections.abc import Callable

from device.hal.messages import LedPattern
from device.sensors import (
    BatteryReading,
    ButtonPress,
    HardwareFault,
    ImuBatch,
    ImuSource,
    Presence,
    Touch,
    TouchKind,
)
from firmware_sim.world import EventKind, Segment, WorldEvent
from protocol import EventType
from protocol.events import BatteryPayload, DeviceFaultPayload
from tests.device.hal.conftest import Rig

Make = Callable[..., Rig]
WORN = [Segment(0.0, 1e6, "tv", "sitting", "living", band=True)]


def _faults(rig: Rig, code: str) -> list[DeviceFaultPayload]:
    return [
        p
        for p in rig.ctx.events(EventType.DEVICE_FAULT)
        if isinstance(p, DeviceFaultPayload) and p.code == code
    ]


def _cleared(rig: Rig, component: str) -> bool:
    return any(
        isinstance(x, HardwareFault) and x.component == component and x.cleared
        for x in rig.ctx.seen
    )


def _band_samples(rig: Rig) -> int:
    return sum(
        len(x.samples)
        for x in rig.ctx.seen
        if isinstance(x, ImuBatch) and x.source is ImuSource.BAND
    )


def test_readings_arrive_typed_with_band_imu_at_50_hz(make_rig: Make) -> None:
    rig = make_rig(WORN, speed=4.0)
    assert rig.run_until(lambda: rig.clock.monotonic() >= 6.0)
    assert rig.run_until(lambda: _band_samples(rig) >= 250)
    # presence and battery readings arrive in their own frames; wait for them rather than
    # assume the host kept pace with simulated time (it need not, on a loaded machine)
    assert rig.run_until(lambda: any(isinstance(x, Presence) and x.present for x in rig.ctx.seen))
    assert rig.run_until(lambda: any(isinstance(x, BatteryReading) for x in rig.ctx.seen))
    batches = [x for x in rig.ctx.seen if isinstance(x, ImuBatch) and x.source is ImuSource.BAND]
    assert all(b.samples.shape[1] == 6 and b.rate_hz == 50.0 for b in batches)
    # consecutive batches join up in time once the HAL has learnt the MCU's clock offset
    for a, b in itertools.pairwise(batches[3:]):
        assert abs(b.t0_s - (a.t0_s + len(a.samples) / 50.0)) < 0.05
    assert any(isinstance(x, Presence) and x.present for x in rig.ctx.seen)
    assert any(isinstance(x, BatteryReading) for x in rig.ctx.seen)
    battery = rig.ctx.events(EventType.BATTERY)
    assert [p.level_pct for p in battery if isinstance(p, BatteryPayload)] == [80.0]
    assert rig.stage.hello is not None
    assert rig.stage.hello.firmware == "1.2.0"


def test_a_silent_mcu_raises_a_fault_that_clears_when_it_answers_again(make_rig: Make) -> None:
    rig = make_rig(speed=2.0, silent_timeout_s=1.0)
    assert rig.run_until(lambda: rig.stage.hello is not None)
    rig.at(0.5, WorldEvent(0.0, EventKind.HANG, {"seconds": 4.0}))
    assert rig.run_until(lambda: bool(_faults(rig, "mcu_silent")))
    assert not next(t for t in rig.stage.self_tests() if t.name == "mcu").ok
    # the watchdog restarts it: a new hello, and the fault clears
    assert rig.run_until(lambda: _cleared(rig, "mcu") and rig.stage.reboots == 1)
    assert next(t for t in rig.stage.self_tests() if t.name == "mcu").ok
    assert len(_faults(rig, "mcu_silent")) == 1


def test_an_mcu_reboot_mid_frame_is_survived(make_rig: Make) -> None:
    rig = make_rig(WORN, speed=2.0)
    assert rig.run_until(lambda: _band_samples(rig) >= 50)
    rig.at(0.2, WorldEvent(0.0, EventKind.REBOOT))
    assert rig.run_until(lambda: rig.stage.reboots == 1)
    before = _band_samples(rig)
    assert rig.run_until(lambda: _band_samples(rig) >= before + 100)
    assert rig.mcu.stats.frames_cut == 1
    assert not _faults(rig, "mcu_silent")


def test_a_corrupted_line_resynchronises_and_reports_the_bad_frame_rate(make_rig: Make) -> None:
    rig = make_rig(WORN, speed=4.0)
    assert rig.run_until(lambda: _band_samples(rig) >= 50)
    rig.at(0.5, WorldEvent(0.0, EventKind.LINE_NOISE, {"ber": 2e-3, "drop": 2e-3, "seconds": 20}))
    assert rig.run_until(lambda: bool(_faults(rig, "bad_frames")), timeout_s=20)
    stats = rig.stage.stats
    assert stats is not None
    assert stats.bad_frames > 0
    # frames keep coming through the noise and after it
    assert rig.run_until(lambda: _cleared(rig, "serial"), timeout_s=30)
    before = _band_samples(rig)
    assert rig.run_until(lambda: _band_samples(rig) >= before + 100)


def test_a_button_press_is_delivered_once_despite_retransmissions(make_rig: Make) -> None:
    rig = make_rig(speed=2.0)
    assert rig.run_until(lambda: rig.stage.hello is not None)
    rig.at(0.5, WorldEvent(0.0, EventKind.BUTTON, {"long": True}))
    rig.at(1.5, WorldEvent(0.0, EventKind.TOUCH, {"zone": "head", "touch": "pat"}))
    assert rig.run_until(lambda: any(isinstance(x, Touch) for x in rig.ctx.seen))
    rig.run_until(lambda: False, timeout_s=1.0)
    presses = [x for x in rig.ctx.seen if isinstance(x, ButtonPress)]
    assert len(presses) == 1
    assert presses[0].long
    touch = next(x for x in rig.ctx.seen if isinstance(x, Touch))
    assert (touch.kind, touch.zone) == (TouchKind.PAT, "head")


def test_the_led_blinks_red_while_help_is_called(make_rig: Make) -> None:
    rig = make_rig(speed=2.0)
    assert rig.run_until(lambda: rig.stage.hello is not None)
    rig.ctx.safety_active = True
    assert rig.run_until(lambda: rig.mcu.stats.led == (LedPattern.BLINK, 255, 0, 0))
    assert rig.run_until(lambda: rig.mcu.stats.motor_runs == 1)
    rig.ctx.safety_active = False
    assert rig.run_until(lambda: rig.mcu.stats.led == (LedPattern.OFF, 0, 0, 0))


def test_a_stuck_band_imu_is_reported(make_rig: Make) -> None:
    rig = make_rig(WORN, speed=4.0)
    assert rig.run_until(lambda: _band_samples(rig) >= 50)
    rig.at(0.5, WorldEvent(0.0, EventKind.STUCK, {"sensor": "band", "seconds": 6.0}))
    assert rig.run_until(lambda: bool(_faults(rig, "imu_stuck")))
    assert _faults(rig, "imu_stuck")[0].component == "band"
    assert rig.run_until(lambda: _cleared(rig, "band"))


def test_a_pulled_uart_cable_is_reconnected(make_rig: Make) -> None:
    rig = make_rig(WORN, speed=2.0, silent_timeout_s=1.0)
    assert rig.run_until(lambda: _band_samples(rig) >= 50)
    rig.at(0.2, WorldEvent(0.0, EventKind.UNPLUG_SERIAL, {"seconds": 3.0}))
    assert rig.run_until(lambda: bool(_faults(rig, "mcu_silent")))
    assert rig.run_until(lambda: _cleared(rig, "mcu"), timeout_s=20)
    assert rig.pty.replugs == 1
    before = _band_samples(rig)
    assert rig.run_until(lambda: _band_samples(rig) >= before + 50)
