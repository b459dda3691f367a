"""The senior's world as the robot's sensors meet it: where they are, what they do, and when.

A `World` is a timeline of `Segment`s (a stretch of one activity in one room, with or
without the wrist band) and point `WorldEvent`s (a fall, a touch, the help button, the
robot hugged or knocked over, the power cable, faults). Times are simulated seconds from
the start of the run. `plan_days` makes a senior's ordinary days from a seed: sleep with
a bathroom visit at night, meals, TV, a walk, visitors, a nap.
"""

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

ACTIVITIES = ("lying", "sitting", "standing", "walking", "transition")
ROOMS = ("bedroom", "living", "kitchen", "bathroom", "out")
ROBOT_ROOMS = frozenset({"living", "kitchen"})  # the robot's PIR sees the open-plan living room
FALL_KINDS = ("forward", "backward", "sideways", "from_bed", "slump")
ZONES = ("head", "back", "belly", "left_hand", "right_hand")
TOUCHES = ("hug", "pat", "squeeze")
HANDLING = ("hug", "carry", "knock_over", "upright")
SENSORS = ("band", "body")


class EventKind(StrEnum):
    """What can happen at a point in time."""

    FALL = "fall"  # the senior falls (band IMU), then lies on the floor for `down_s`
    TOUCH = "touch"  # the senior touches the robot: zone, touch
    BUTTON = "button"  # the help button: long (bool)
    ROBOT = "robot"  # the robot is handled: handling, seconds
    POWER = "power"  # the robot's power cable: plugged (bool)
    LINE_NOISE = "line_noise"  # bit errors / dropped bytes on the UART: ber, drop, seconds
    REBOOT = "reboot"  # the MCU restarts (watchdog), cutting the frame it was sending
    HANG = "hang"  # the MCU stops answering for `seconds`, then its watchdog restarts it
    STUCK = "stuck"  # a sensor repeats one value: sensor (band/body), seconds
    BATTERY_DYING = "battery_dying"  # the cell ages: drains `factor` times faster
    UNPLUG_SERIAL = "unplug_serial"  # the UART cable is pulled for `seconds`
    SAY = "say"  # the senior speaks: text (espeak-ng) or clip (a WAV file)


@dataclass(frozen=True)
class Segment:
    """A stretch of the senior's life: one activity in one room."""

    start_s: float
    end_s: float
    label: str  # what it is, for people: "sleep", "breakfast", "tv", "walk", ...
    activity: str  # one of ACTIVITIES (the band's motion)
    room: str  # one of ROOMS
    band: bool = True  # the wrist band is worn
    visitors: bool = False  # someone else is in the robot's room
    fall: str | None = None  # this segment starts with a fall of this kind


@dataclass(frozen=True)
class WorldEvent:
    """Something that happens at one instant; `args` depend on the kind."""

    at_s: float
    kind: EventKind
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    id: str | None = None

    def arg(self, name: str, default: Any = None) -> Any:
        """One argument."""
        return self.args.get(name, default)


class World:
    """The timeline the virtual MCU senses; events can be added while it runs."""

    def __init__(self, segments: Iterable[Segment], events: Iterable[WorldEvent] = ()) -> None:
        self.segments: list[Segment] = sorted(segments, key=lambda s: s.start_s)
        self.events: list[WorldEvent] = sorted(events, key=lambda e: e.at_s)
        self._starts = [s.start_s for s in self.segments]
        for e in list(self.events):
            if e.kind is EventKind.FALL:
                self._insert_fall(e)

    def segment_at(self, t_s: float) -> Segment:
        """The segment running at `t_s` (the first one before the start, the last one after)."""
        i = bisect_right(self._starts, t_s) - 1
        return self.segments[max(0, min(i, len(self.segments) - 1))]

    def segment_index(self, t_s: float) -> int:
        """Index of segment_at(t_s)."""
        i = bisect_right(self._starts, t_s) - 1
        return max(0, min(i, len(self.segments) - 1))

    def present(self, t_s: float) -> bool:
        """What an ideal PIR in the robot's room would say."""
        seg = self.segment_at(t_s)
        return seg.visitors or (seg.room in ROBOT_ROOMS and seg.label != "sleep")

    def events_between(self, t0_s: float, t1_s: float) -> list[WorldEvent]:
        """Events with t0 <= at < t1."""
        return [e for e in self.events if t0_s <= e.at_s < t1_s]

    def add(self, event: WorldEvent) -> None:
        """An event on demand (the console of `dolbom sim robot`)."""
        self.events.append(event)
        self.events.sort(key=lambda e: e.at_s)
        if event.kind is EventKind.FALL:
            self._insert_fall(event)

    def _insert_fall(self, event: WorldEvent) -> None:
        """The senior lies on the floor from the fall for `down_s`, where they fell."""
        t = event.at_s
        down_s = float(event.arg("down_s", 3600.0))
        where = self.segment_at(t)
        fallen = Segment(
            t,
            t + down_s,
            "on the floor after a fall",
            "lying",
            where.room,
            band=where.band,
            visitors=where.visitors,
            fall=str(event.arg("fall", "forward")),
        )
        out: list[Segment] = []
        for s in self.segments:
            if s.end_s <= t or s.start_s >= fallen.end_s:
                out.append(s)
                continue
            if s.start_s < t:
                out.append(_clip(s, s.start_s, t))
            if s.end_s > fallen.end_s:
                out.append(_clip(s, fallen.end_s, s.end_s))
        out.append(fallen)
        self.segments = sorted(out, key=lambda s: s.start_s)
        self._starts = [s.start_s for s in self.segments]

    @property
    def end_s(self) -> float:
        """Where the timeline ends."""
        return self.segments[-1].end_s if self.segments else 0.0


def _clip(s: Segment, start_s: float, end_s: float) -> Segment:
    return Segment(start_s, end_s, s.label, s.activity, s.room, s.band, s.visitors, None)


# -- a senior's ordinary days -----------------------------------------------------------------

# (label, activity, room, start hour, minutes, jitter minutes); each runs until the next
_ROUTINE: tuple[tuple[str, str, str, float, float], ...] = (
    ("sleep", "lying", "bedroom", 0.0, 0.0),
    ("wake up", "transition", "bedroom", 6.5, 15.0),
    ("wash", "standing", "bathroom", 6.55, 10.0),
    ("make breakfast", "standing", "kitchen", 6.8, 10.0),
    ("breakfast", "sitting", "kitchen", 7.1, 10.0),
    ("tv", "sitting", "living", 7.6, 15.0),
    ("walk", "walking", "out", 9.0, 20.0),
    ("rest", "sitting", "living", 9.8, 10.0),
    ("housework", "standing", "kitchen", 10.6, 15.0),
    ("lunch", "sitting", "kitchen", 12.0, 10.0),
    ("nap", "lying", "living", 12.8, 15.0),
    ("tv", "sitting", "living", 14.0, 10.0),
    ("make dinner", "standing", "kitchen", 17.6, 15.0),
    ("dinner", "sitting", "kitchen", 18.2, 10.0),
    ("tv", "sitting", "living", 19.0, 10.0),
    ("wash", "standing", "bathroom", 21.4, 10.0),
    ("sleep", "lying", "bedroom", 21.8, 15.0),
)


def plan_days(
    start: datetime, hours: float, rng: np.random.Generator, *, visitors_per_week: float = 3.0
) -> tuple[list[Segment], list[WorldEvent]]:
    """Ordinary days covering [start, start + hours), in the start's local time.

    Returns segments and the touches the senior gives the robot (a pat in the morning,
    hugs and pats during TV, more with visitors). Same generator state, same days.
    """
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset_s = (start - midnight).total_seconds()
    segments: list[Segment] = []
    events: list[WorldEvent] = []
    days = int(np.ceil((offset_s + hours * 3600) / 86400)) + 1
    for day in range(days):
        base = day * 86400.0 - offset_s
        times = [
            base + (h * 3600 + (rng.uniform(-j, j) * 60 if h > 0 else 0.0))
            for _, _, _, h, j in _ROUTINE
        ]
        times = list(np.maximum.accumulate(times))
        visitor = rng.random() < visitors_per_week / 7
        for i, (label, activity, room, _, _) in enumerate(_ROUTINE):
            t0 = times[i]
            t1 = times[i + 1] if i + 1 < len(times) else base + 86400.0
            if t1 <= t0:
                continue
            segments.append(Segment(t0, t1, label, activity, room))
        # a bathroom visit at night, and the way there and back
        night = base + rng.uniform(1.5, 4.0) * 3600
        segments += _trip(night, rng)
        if visitor:
            v0 = base + rng.uniform(14.3, 15.5) * 3600
            segments.append(
                Segment(
                    v0, v0 + rng.uniform(40, 90) * 60, "visitor", "sitting", "living", visitors=True
                )
            )
        events += _touches(segments, base, rng, visitor)
    segments = _flatten(segments)
    end = hours * 3600
    kept = [
        _clip(s, max(0.0, s.start_s), min(end, s.end_s))
        for s in segments
        if s.end_s > 0 and s.start_s < end
    ]
    return kept, [e for e in events if 0 <= e.at_s < end]


def _trip(t: float, rng: np.random.Generator) -> list[Segment]:
    stay = rng.uniform(3, 8) * 60
    return [
        Segment(t, t + 20, "get up at night", "transition", "bedroom"),
        Segment(t + 20, t + 45, "to the bathroom", "walking", "bedroom"),
        Segment(t + 45, t + 45 + stay, "bathroom at night", "standing", "bathroom"),
        Segment(t + 45 + stay, t + 70 + stay, "back to bed", "walking", "bedroom"),
        Segment(t + 70 + stay, t + 90 + stay, "lie down", "transition", "bedroom"),
    ]


def _flatten(segments: list[Segment]) -> list[Segment]:
    """Later-listed overlays (trips, visitors) cut the routine segments under them."""
    out: list[Segment] = []
    for s in segments:
        cut: list[Segment] = []
        for o in out:
            if o.end_s <= s.start_s or o.start_s >= s.end_s:
                cut.append(o)
                continue
            if o.start_s < s.start_s:
                cut.append(_clip(o, o.start_s, s.start_s))
            if o.end_s > s.end_s:
                cut.append(_clip(o, s.end_s, o.end_s))
        cut.append(s)
        out = cut
    return sorted(out, key=lambda s: s.start_s)


def _touches(
    segments: list[Segment], base: float, rng: np.random.Generator, visitor: bool
) -> list[WorldEvent]:
    events: list[WorldEvent] = []
    for s in segments:
        if s.start_s < base or s.start_s >= base + 86400 or s.room != "living":
            continue
        minutes = (s.end_s - s.start_s) / 60
        n = rng.poisson(minutes / (20 if s.label in ("tv", "visitor") else 60))
        for t in np.sort(rng.uniform(s.start_s, s.end_s, n)):
            kind = str(rng.choice(TOUCHES, p=[0.35, 0.5, 0.15]))
            zone = "back" if kind == "hug" else str(rng.choice(ZONES))
            events.append(
                WorldEvent(
                    float(t), EventKind.TOUCH, MappingProxyType({"zone": zone, "touch": kind})
                )
            )
    return events


def local_time(start: datetime, t_s: float) -> datetime:
    """A simulated offset as the start's local time."""
    return start + timedelta(seconds=t_s)
