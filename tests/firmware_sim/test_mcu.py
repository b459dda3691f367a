"""The virtual MCU, without a PTY: its bytes decoded by the host's own codec."""

import itertools
from collections import Counter
from types import MappingProxyType

import numpy as np

from device.hal.codec import FrameDecoder, encode_frame
from device.hal.messages import (
    Ack,
    BatteryStatus,
    ButtonEvent,
    Hello,
    ImuBand,
    ImuBody,
    LedCommand,
    LedPattern,
    Message,
    PresenceEvent,
    ResetReason,
    SelfTestRequest,
    SelfTestResult,
    TouchEvent,
)
from firmware_sim.body import Battery
from firmware_sim.mcu import VirtualMcu
from firmware_sim.world import EventKind, Segment, World, WorldEvent

HOME = [Segment(0.0, 600.0, "tv", "sitting", "living")]


def _run(mcu: VirtualMcu, until_s: float, step_s: float = 1.0) -> list[Message]:
    decoder = FrameDecoder()
    out: list[Message] = []
    t = step_s
    while t <= until_s + 1e-9:
        out += decoder.feed(mcu.advance(t))
        t += step_s
    return out


def _event(at: float, kind: EventKind, **args: object) -> WorldEvent:
    return WorldEvent(at, kind, MappingProxyType(dict(args)))


def test_the_same_seed_sends_the_same_bytes() -> None:
    def run(seed: int) -> bytes:
        events = [_event(20.0, EventKind.TOUCH, zone="head", touch="pat")]
        mcu = VirtualMcu(World(HOME, events), seed)
        return b"".join(mcu.advance(t) for t in range(1, 61))

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_a_minute_at_home_streams_the_band_at_50_hz_with_heartbeats() -> None:
    messages = _run(VirtualMcu(World(HOME), 1), 60.0)
    kinds = Counter(type(m).__name__ for m in messages)
    assert kinds["Hello"] == 1
    assert kinds["Heartbeat"] == 60
    band = [m for m in messages if isinstance(m, ImuBand)]
    assert sum(len(m.samples) for m in band) == 60 * 50
    assert all(b.t0_ms == a.t0_ms + 20 * len(a.samples) for a, b in itertools.pairwise(band))
    # the band is worn on a wrist: gravity is there, ~1 g on average
    g = np.linalg.norm(np.concatenate([m.to_physical() for m in band])[:, :3], axis=1)
    assert 0.8 < float(np.median(g)) < 1.2
    assert [m.present for m in messages if isinstance(m, PresenceEvent)] == [True]
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))


def test_the_body_imu_streams_only_while_the_robot_is_moved() -> None:
    events = [_event(100.0, EventKind.ROBOT, handling="carry", seconds=10.0)]
    messages = _run(VirtualMcu(World(HOME, events), 1), 200.0)
    body = [m for m in messages if isinstance(m, ImuBody)]
    moving = [m for m in body if 100_000 <= m.t0_ms < 112_000]
    resting = [m for m in body if m.t0_ms < 100_000]
    assert sum(len(m.samples) for m in moving) == 12 * 50  # 10 s carried + 2 s after
    assert all(len(m.samples) == 5 for m in resting)  # the keepalive every 30 s
    assert len(resting) == 4


def test_a_robot_knocked_over_ends_up_on_its_side() -> None:
    events = [_event(10.0, EventKind.ROBOT, handling="knock_over")]
    messages = _run(VirtualMcu(World(HOME, events), 1), 50.0)
    body = [m.to_physical() for m in messages if isinstance(m, ImuBody)]
    assert body[0][:, 2].mean() > 0.9  # upright before
    assert np.abs(body[-1][:, 2]).mean() < 0.2  # on its side after
    assert max(float(np.linalg.norm(b[:, :3], axis=1).max()) for b in body) > 2.0  # the impact


def test_a_button_press_is_retried_until_acknowledged() -> None:
    mcu = VirtualMcu(World(HOME, [_event(5.0, EventKind.BUTTON, long=True)]), 1)
    first = [m for m in _run(mcu, 5.5, 0.5) if isinstance(m, ButtonEvent)]
    assert len(first) == 1
    assert first[0].long
    again = [m for m in _run(mcu, 6.0, 0.5) if isinstance(m, ButtonEvent)]
    assert [m.seq for m in again] == [first[0].seq]  # the same frame, once more
    mcu.receive(encode_frame(Ack(ButtonEvent.TYPE, first[0].seq, seq=1)), 6.0)
    assert not [m for m in _run(mcu, 10.0, 0.5) if isinstance(m, ButtonEvent)]


def test_commands_are_acknowledged_and_self_tests_reported() -> None:
    mcu = VirtualMcu(World(HOME), 1)
    _run(mcu, 1.0)
    mcu.receive(encode_frame(LedCommand(LedPattern.BLINK, 255, 0, 0, 500, seq=7)), 1.0)
    mcu.receive(encode_frame(SelfTestRequest(seq=8)), 1.0)
    replies = FrameDecoder().feed(mcu.advance(1.5))
    acks = [(m.acked_type, m.acked_seq) for m in replies if isinstance(m, Ack)]
    assert acks == [(LedCommand.TYPE, 7), (SelfTestRequest.TYPE, 8)]
    assert mcu.stats.led == (LedPattern.BLINK, 255, 0, 0)
    assert len([m for m in replies if isinstance(m, SelfTestResult)]) == 7


def test_a_reboot_cuts_the_frame_in_flight_and_says_hello_again() -> None:
    mcu = VirtualMcu(World(HOME, [_event(10.0, EventKind.REBOOT)]), 1)
    decoder = FrameDecoder()
    messages = [m for t in range(1, 21) for m in decoder.feed(mcu.advance(float(t)))]
    hellos = [m for m in messages if isinstance(m, Hello)]
    assert [(h.boot_count, h.reset_reason) for h in hellos] == [
        (1, ResetReason.POWER_ON),
        (2, ResetReason.WATCHDOG),
    ]
    assert hellos[1].seq == 1  # seq starts again after a reset
    assert decoder.stats.bad_frames == 1  # the heartbeat cut short
    assert mcu.stats.frames_cut == 1


def test_line_noise_corrupts_frames_for_its_duration_only() -> None:
    events = [_event(10.0, EventKind.LINE_NOISE, ber=1e-3, drop=0.01, seconds=20.0)]
    mcu = VirtualMcu(World(HOME, events), 1)
    decoder = FrameDecoder()
    bad_at: list[int] = []
    for t in range(1, 61):
        decoder.feed(mcu.advance(float(t)))
        bad_at.append(decoder.stats.bad_frames)
    assert bad_at[9] == 0
    assert bad_at[30] > 5
    assert bad_at[59] == bad_at[32]  # clean again after the noise
    assert mcu.stats.bits_flipped > 0
    assert mcu.stats.bytes_dropped > 0


def test_a_stuck_sensor_repeats_one_value() -> None:
    events = [_event(10.0, EventKind.STUCK, sensor="band", seconds=5.0)]
    messages = _run(VirtualMcu(World(HOME, events), 1), 20.0)
    band = np.concatenate([m.samples for m in messages if isinstance(m, ImuBand)])
    stuck = band[10 * 50 : 15 * 50]
    assert (stuck == stuck[0]).all()
    assert not (band[15 * 50 : 16 * 50] == stuck[0]).all()


def test_unplugged_the_battery_drains_and_the_robot_dies() -> None:
    events = [_event(60.0, EventKind.POWER, plugged=False)]
    mcu = VirtualMcu(World([Segment(0, 7200, "tv", "sitting", "living", band=False)], events), 1,
                     battery=Battery(percent=3.0))  # fmt: skip
    messages = _run(mcu, 7200.0, 60.0)
    levels = [(m.percent, m.charging) for m in messages if isinstance(m, BatteryStatus)]
    assert levels[0] == (3, True)
    assert (3, False) in levels
    assert levels[-1][0] <= 1
    assert not mcu.powered


def test_touches_are_reported_by_zone_and_kind() -> None:
    events = [_event(3.0, EventKind.ROBOT, handling="hug", seconds=4.0)]
    messages = _run(VirtualMcu(World(HOME, events), 1), 10.0)
    touches = [(m.zone.name, m.kind.name) for m in messages if isinstance(m, TouchEvent)]
    assert touches == [("BACK", "HUG")]
