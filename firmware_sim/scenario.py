"""Scenario files (firmware_sim/scenarios/*.toml): a scripted stretch of a senior's life.

A scenario names its start (a local date and time), how long it lasts, the default speed
and seed, the senior's timeline (an ordinary generated day and/or explicit segments),
point events (falls, touches, the button, faults, spoken lines) and the expectations the
platform must meet. `load_scenario` checks everything and raises ScenarioError with the
file, the entry and what is wrong. The format is documented in firmware_sim/scenarios/README.md.
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from firmware_sim.world import (
    ACTIVITIES,
    FALL_KINDS,
    HANDLING,
    ROOMS,
    SENSORS,
    TOUCHES,
    ZONES,
    EventKind,
    Segment,
    World,
    WorldEvent,
    plan_days,
)

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# per event kind: its arguments, with (type, check) per argument
_EVENT_ARGS: dict[EventKind, dict[str, tuple[type | str, Any]]] = {
    EventKind.FALL: {"fall": (str, FALL_KINDS), "down": ("duration", None)},
    EventKind.TOUCH: {"zone": (str, ZONES), "touch": (str, TOUCHES)},
    EventKind.BUTTON: {"long": (bool, None)},
    EventKind.ROBOT: {"handling": (str, HANDLING), "seconds": (float, None)},
    EventKind.POWER: {"plugged": (bool, None)},
    EventKind.LINE_NOISE: {"ber": (float, None), "drop": (float, None), "seconds": (float, None)},
    EventKind.REBOOT: {},
    EventKind.HANG: {"seconds": (float, None)},
    EventKind.STUCK: {"sensor": (str, SENSORS), "seconds": (float, None)},
    EventKind.BATTERY_DYING: {"factor": (float, None)},
    EventKind.UNPLUG_SERIAL: {"seconds": (float, None)},
    EventKind.SAY: {"text": (str, None), "clip": (str, None), "language": (str, ("ko", "en"))},
}
_REQUIRED = {
    EventKind.FALL: ("fall",),
    EventKind.TOUCH: ("zone", "touch"),
    EventKind.ROBOT: ("handling",),
}
EXPECT_KINDS = ("alert", "no_alert", "event", "no_event", "heard")
FILTERS = ("code", "component", "countdown", "trigger", "charging")  # payload fields to match


def _text(value: object) -> str:
    """A filter value as the payload's str() shows it (TOML true → "True")."""
    return str(value)


class ScenarioError(ValueError):
    """A scenario file is missing or wrong; the message names the file and the entry."""


def parse_duration(value: object, where: str) -> float:
    """Seconds from 90, 90.5, "90s", "10m", "1h30m", "2d"."""
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: a duration, not {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ScenarioError(f"{where}: a duration can't be negative ({value})")
        return float(value)
    if isinstance(value, str) and value.strip():
        m = _DURATION.match(value)
        if m and any(m.groups()):
            d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return d * 86400 + h * 3600 + mi * 60 + s
    raise ScenarioError(
        f'{where}: {value!r} is not a duration (like 90, "45s", "10m", "1h30m", "2d")'
    )


@dataclass(frozen=True)
class Expectation:
    """One check on what the platform did, evaluated after the run."""

    kind: str  # one of EXPECT_KINDS
    what: str  # an alert kind, an event type, or "any" ("heard": "speech")
    after: str | None = None  # an event id: the window starts at that event
    within_s: float | None = None  # the window's length (None: to the end of the run)
    filters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    note: str = ""

    def describe(self) -> str:
        """A line for people."""
        verb = {
            "alert": "an alert of kind",
            "no_alert": "no alert of kind",
            "event": "an event",
            "no_event": "no event",
            "heard": "the robot heard speech",
        }[self.kind]
        text = verb if self.kind == "heard" else f"{verb} {self.what}"
        if self.filters:
            text += " (" + ", ".join(f"{k}={v}" for k, v in self.filters.items()) + ")"
        if self.after:
            text += (
                f" within {_fmt(self.within_s)} of {self.after}"
                if self.within_s
                else f" after {self.after}"
            )
        elif self.within_s:
            text += f" within the first {_fmt(self.within_s)}"
        return text


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "the end"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


@dataclass(frozen=True)
class RobotSettings:
    """What the scenario changes in the robot's config."""

    countdown_s: float = 30.0
    heartbeat_interval_s: float = 60.0
    silent_timeout_s: float = 3.0
    battery_pct: float = 80.0
    plugged: bool = True


@dataclass(frozen=True)
class Scenario:
    """A loaded, checked scenario."""

    path: Path
    name: str
    description: str
    start: datetime
    duration_s: float
    speed: float
    seed: int
    language: str
    routine: str  # "day": ordinary generated days under the explicit segments; "none"
    segments: tuple[Segment, ...]
    events: tuple[WorldEvent, ...]
    expectations: tuple[Expectation, ...]
    robot: RobotSettings
    incident_speed: float = 30.0
    incident_window_s: float = 90.0

    def world(self, seed: int | None = None) -> World:
        """The world the virtual MCU senses: routine days overlaid with the explicit segments."""
        seed = self.seed if seed is None else seed
        segments: list[Segment] = []
        events = [e for e in self.events if e.kind is not EventKind.SAY]
        if self.routine == "day":
            rng = np.random.default_rng(seed)
            days, touches = plan_days(self.start, self.duration_s / 3600, rng)
            segments += days
            events += touches
        world_segments = _overlay(segments, list(self.segments))
        if not world_segments:
            world_segments = [Segment(0.0, self.duration_s, "at home", "sitting", "living")]
        return World(world_segments, events)

    def event_time(self, event_id: str) -> float:
        """When the event with this id happens."""
        for e in self.events:
            if e.id == event_id:
                return e.at_s
        raise KeyError(event_id)

    @property
    def spoken(self) -> list[WorldEvent]:
        """The senior's spoken lines, in order."""
        return [e for e in self.events if e.kind is EventKind.SAY]


def _overlay(base: list[Segment], top: list[Segment]) -> list[Segment]:
    out = list(base)
    for s in top:
        kept: list[Segment] = []
        for o in out:
            if o.end_s <= s.start_s or o.start_s >= s.end_s:
                kept.append(o)
                continue
            if o.start_s < s.start_s:
                kept.append(
                    Segment(o.start_s, s.start_s, o.label, o.activity, o.room, o.band, o.visitors)
                )
            if o.end_s > s.end_s:
                kept.append(
                    Segment(s.end_s, o.end_s, o.label, o.activity, o.room, o.band, o.visitors)
                )
        kept.append(s)
        out = kept
    return sorted(out, key=lambda s: s.start_s)


def _table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where} must be a table")
    return raw


def _keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _choice(value: Any, options: tuple[str, ...] | frozenset[str], where: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise ScenarioError(f"{where}: {value!r} is not one of {', '.join(sorted(options))}")
    return value


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {path} does not exist") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path} is a directory, not a scenario file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None
    return scenario_from_dict(raw, path)


def scenario_from_dict(raw: dict[str, Any], path: Path) -> Scenario:
    """Check parsed TOML; `path` is named in errors and anchors relative clip paths."""
    w = str(path)
    _keys(
        raw,
        {"name", "description", "start", "duration", "speed", "seed", "language", "routine",
         "incident_speed", "incident_window", "robot", "segment", "event", "expect"},
        w,
    )  # fmt: skip
    for key in ("name", "start", "duration"):
        if key not in raw:
            raise ScenarioError(f"{w}: `{key}` is required")
    name = raw["name"]
    if not isinstance(name, str) or not _ID.match(name):
        raise ScenarioError(
            f'{w}: name must be a short lowercase id like "fall-no-response", not {name!r}'
        )
    start = raw["start"]
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise ScenarioError(
            f"{w}: start must be a TOML date-time with a UTC offset, like 2026-11-23T09:00:00+09:00"
        )
    duration = parse_duration(raw["duration"], f"{w}: duration")
    if duration <= 0:
        raise ScenarioError(f"{w}: duration must be positive")
    speed = raw.get("speed", 60)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed <= 100_000:
        raise ScenarioError(f"{w}: speed must be a number in (0, 100000], not {speed!r}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"{w}: seed must be a non-negative integer, not {seed!r}")
    language = _choice(raw.get("language", "ko"), ("ko", "en"), f"{w}: language")
    routine = _choice(raw.get("routine", "none"), ("day", "none"), f"{w}: routine")
    robot = _robot(_table(raw.get("robot", {}), f"{w}: [robot]"), f"{w}: [robot]")
    segments = _segments(raw.get("segment", []), duration, w)
    events = _events(raw.get("event", []), duration, path)
    ids = [e.id for e in events if e.id]
    if len(ids) != len(set(ids)):
        raise ScenarioError(f"{w}: event ids must be unique ({', '.join(sorted(ids))})")
    expectations = _expectations(raw.get("expect", []), set(ids), w)
    incident_speed = raw.get("incident_speed", 30.0)
    if (
        isinstance(incident_speed, bool)
        or not isinstance(incident_speed, int | float)
        or incident_speed <= 0
    ):
        raise ScenarioError(f"{w}: incident_speed must be a positive number")
    return Scenario(
        path=path,
        name=name,
        description=str(raw.get("description", "")),
        start=start,
        duration_s=duration,
        speed=float(speed),
        seed=seed,
        language=language,
        routine=routine,
        segments=tuple(segments),
        events=tuple(sorted(events, key=lambda e: e.at_s)),
        expectations=tuple(expectations),
        robot=robot,
        incident_speed=float(incident_speed),
        incident_window_s=parse_duration(raw.get("incident_window", 90), f"{w}: incident_window"),
    )


def _robot(raw: dict[str, Any], where: str) -> RobotSettings:
    _keys(
        raw, {"countdown", "heartbeat_interval", "silent_timeout", "battery_pct", "plugged"}, where
    )
    battery = raw.get("battery_pct", 80.0)
    if isinstance(battery, bool) or not isinstance(battery, int | float) or not 0 < battery <= 100:
        raise ScenarioError(f"{where}: battery_pct must be in (0, 100]")
    plugged = raw.get("plugged", True)
    if not isinstance(plugged, bool):
        raise ScenarioError(f"{where}: plugged must be true or false")
    return RobotSettings(
        countdown_s=parse_duration(raw.get("countdown", 30), f"{where} countdown"),
        heartbeat_interval_s=parse_duration(
            raw.get("heartbeat_interval", 60), f"{where} heartbeat_interval"
        ),
        silent_timeout_s=parse_duration(raw.get("silent_timeout", 3), f"{where} silent_timeout"),
        battery_pct=float(battery),
        plugged=plugged,
    )


def _segments(raw: Any, duration: float, w: str) -> list[Segment]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{w}: `segment` must be an array of tables ([[segment]])")
    out: list[Segment] = []
    entries = []
    for i, item in enumerate(raw, 1):
        where = f"{w}: segment #{i}"
        item = _table(item, where)
        _keys(item, {"at", "until", "label", "activity", "room", "band", "visitors"}, where)
        if "at" not in item:
            raise ScenarioError(f"{where}: `at` (offset from the start) is required")
        at = parse_duration(item["at"], f"{where} at")
        entries.append((at, item, where))
    entries.sort(key=lambda e: e[0])
    for k, (at, item, where) in enumerate(entries):
        nxt = entries[k + 1][0] if k + 1 < len(entries) else duration
        until = parse_duration(item["until"], f"{where} until") if "until" in item else nxt
        if until <= at:
            raise ScenarioError(f"{where}: until must come after at")
        activity = _choice(item.get("activity", "sitting"), ACTIVITIES, f"{where} activity")
        room = _choice(item.get("room", "living"), ROOMS, f"{where} room")
        for flag in ("band", "visitors"):
            if flag in item and not isinstance(item[flag], bool):
                raise ScenarioError(f"{where}: {flag} must be true or false")
        out.append(
            Segment(at, until, str(item.get("label", activity)), activity, room,
                    band=item.get("band", True), visitors=item.get("visitors", False))
        )  # fmt: skip
    return out


def _events(raw: Any, duration: float, path: Path) -> list[WorldEvent]:
    w = str(path)
    if not isinstance(raw, list):
        raise ScenarioError(f"{w}: `event` must be an array of tables ([[event]])")
    out: list[WorldEvent] = []
    for i, item in enumerate(raw, 1):
        where = f"{w}: event #{i}"
        item = _table(item, where)
        if "at" not in item or "kind" not in item:
            raise ScenarioError(f"{where}: `at` and `kind` are required")
        kind = EventKind(_choice(item["kind"], tuple(k.value for k in EventKind), f"{where} kind"))
        spec = _EVENT_ARGS[kind]
        _keys(item, {"at", "kind", "id"} | set(spec), f"{where} ({kind})")
        at = parse_duration(item["at"], f"{where} at")
        if at > duration:
            raise ScenarioError(
                f"{where}: at {at:g} s is after the end of the scenario ({duration:g} s)"
            )
        event_id = item.get("id")
        if event_id is not None and (not isinstance(event_id, str) or not _ID.match(event_id)):
            raise ScenarioError(f"{where}: id must be a short lowercase id, not {event_id!r}")
        for req in _REQUIRED.get(kind, ()):
            if req not in item:
                raise ScenarioError(f"{where}: a {kind} event needs `{req}`")
        args: dict[str, Any] = {}
        for name, (typ, options) in spec.items():
            if name not in item:
                continue
            value = item[name]
            if typ == "duration":
                args[name + "_s"] = parse_duration(value, f"{where} {name}")
            elif typ is float:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ScenarioError(f"{where}: {name} must be a non-negative number")
                args[name] = float(value)
            elif typ is bool:
                if not isinstance(value, bool):
                    raise ScenarioError(f"{where}: {name} must be true or false")
                args[name] = value
            else:
                args[name] = _choice(value, options, f"{where} {name}") if options else str(value)
        if kind is EventKind.SAY:
            if ("text" in args) == ("clip" in args):
                raise ScenarioError(f"{where}: a say event needs exactly one of `text` or `clip`")
            if "clip" in args:
                clip = Path(args["clip"])
                if not clip.is_absolute():
                    candidates = [path.parent / clip, Path(__file__).resolve().parents[1] / clip]
                    clip = next((c for c in candidates if c.exists()), candidates[0])
                if not clip.exists():
                    raise ScenarioError(f"{where}: clip {args['clip']} does not exist")
                args["clip"] = str(clip)
        out.append(WorldEvent(at, kind, MappingProxyType(args), event_id))
    return out


def _expectations(raw: Any, ids: set[str], w: str) -> list[Expectation]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{w}: `expect` must be an array of tables ([[expect]])")
    out: list[Expectation] = []
    for i, item in enumerate(raw, 1):
        where = f"{w}: expect #{i}"
        item = _table(item, where)
        kinds = [k for k in EXPECT_KINDS if k in item]
        if len(kinds) != 1:
            raise ScenarioError(f"{where}: give exactly one of {', '.join(EXPECT_KINDS)}")
        kind = kinds[0]
        _keys(item, {kind, "after", "within", "note", *FILTERS}, where)
        what = item[kind]
        if kind == "heard":
            if what is not True:
                raise ScenarioError(f"{where}: write heard = true")
            what = "speech"
        elif not isinstance(what, str) or not what:
            raise ScenarioError(f"{where}: {kind} must name an alert kind or event type")
        after = item.get("after")
        if after is not None and after not in ids:
            raise ScenarioError(
                f"{where}: after = {after!r} names no event id "
                f"({', '.join(sorted(ids)) or 'none defined'})"
            )
        within = parse_duration(item["within"], f"{where} within") if "within" in item else None
        filters: dict[str, str] = {k: _text(item[k]) for k in FILTERS if k in item}
        if filters and kind not in ("event", "no_event"):
            raise ScenarioError(f"{where}: {'/'.join(FILTERS)} filter events only")
        out.append(
            Expectation(
                kind, what, after, within, MappingProxyType(filters), str(item.get("note", ""))
            )
        )
    return out
