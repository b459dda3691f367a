"""The senior's world: generated ordinary days, falls laid into the timeline, presence."""

import itertools
import re
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import numpy as np
import pytest

from firmware_sim.console import ConsoleError, parse_command
from firmware_sim.world import EventKind, Segment, World, WorldEvent, plan_days

KST = timezone(timedelta(hours=9))


def test_a_planned_day_has_the_routine_of_a_senior() -> None:
    start = datetime(2026, 11, 23, 0, 0, tzinfo=KST)
    segments, touches = plan_days(start, 24, np.random.default_rng(2))
    labels = {s.label for s in segments}
    for label in (
        "sleep",
        "breakfast",
        "tv",
        "walk",
        "nap",
        "lunch",
        "dinner",
        "bathroom at night",
    ):
        assert label in labels
    # the timeline covers the day without gaps or overlaps
    assert segments[0].start_s == 0.0
    assert segments[-1].end_s == 24 * 3600
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(segments))
    night = next(s for s in segments if s.label == "bathroom at night")
    assert 1 * 3600 <= night.start_s <= 4.5 * 3600
    assert touches
    assert all(e.kind is EventKind.TOUCH for e in touches)


def test_a_day_started_in_the_morning_is_in_local_time() -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=KST)
    segments, _ = plan_days(start, 3, np.random.default_rng(2))
    assert segments[0].start_s == 0.0
    assert any(s.label in ("lunch", "nap") for s in segments[:2])


def test_a_fall_lays_the_senior_on_the_floor_where_they_were() -> None:
    segments = [
        Segment(0, 100, "tv", "sitting", "living"),
        Segment(100, 300, "cook", "standing", "kitchen"),
    ]
    fall = WorldEvent(150.0, EventKind.FALL, MappingProxyType({"fall": "sideways", "down_s": 60.0}))
    world = World(segments, [fall])
    assert [(s.start_s, s.end_s, s.label) for s in world.segments] == [
        (0, 100, "tv"),
        (100, 150, "cook"),
        (150, 210, "on the floor after a fall"),
        (210, 300, "cook"),
    ]
    down = world.segment_at(160)
    assert (down.activity, down.room, down.fall) == ("lying", "kitchen", "sideways")


def test_presence_is_seen_in_the_robots_room_only() -> None:
    world = World(
        [
            Segment(0, 10, "tv", "sitting", "living"),
            Segment(10, 20, "sleep", "lying", "bedroom"),
            Segment(20, 30, "visitor", "sitting", "bedroom", visitors=True),
        ]
    )
    assert [world.present(t) for t in (5, 15, 25)] == [True, False, True]


def test_console_commands_become_world_events() -> None:
    assert parse_command("fall slump 120") == (
        EventKind.FALL,
        MappingProxyType({"fall": "slump", "down_s": 120.0}),
    )
    assert parse_command("button long") == (EventKind.BUTTON, MappingProxyType({"long": True}))
    assert parse_command("knock") == (
        EventKind.ROBOT,
        MappingProxyType({"handling": "knock_over", "seconds": 5.0}),
    )
    noise = parse_command("noise 1e-3 0.01 30")
    assert noise == (
        EventKind.LINE_NOISE,
        MappingProxyType({"ber": 1e-3, "drop": 0.01, "seconds": 30.0}),
    )
    assert parse_command("  ") is None
    assert parse_command("quit") == "quit"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fly", "unknown command"),
        ("fall down", "fall kinds"),
        ("touch nose", "zones are"),
        ("noise lots", "BER must be a number"),
        ("stuck arm 3", "stuck band|body"),
    ],
)
def test_a_bad_console_command_says_how_to_write_it(line: str, message: str) -> None:
    with pytest.raises(ConsoleError, match=re.escape(message)):
        parse_command(line)
