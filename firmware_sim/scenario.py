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
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

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
from protocol.validation import reason_ko

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

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


# -- the file's shape, checked with pydantic -------------------------------------------------


def _seconds(value: object) -> float:
    """A pydantic validator around parse_duration (its message becomes the reason)."""
    try:
        return parse_duration(value, "")
    except ScenarioError as e:
        raise ValueError(str(e).removeprefix(": ")) from None


def _one_of(options: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(options))}")
        return value

    return AfterValidator(check)


Duration = Annotated[float, BeforeValidator(_seconds)]


def _id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f'a short lowercase id like "fall-no-response", not {value!r}')
    return value


Id = Annotated[str, AfterValidator(_id)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_SHAPE = ConfigDict(extra="forbid", strict=True)


class _Robot(BaseModel):
    model_config = _SHAPE
    countdown: Duration = 30.0
    heartbeat_interval: Duration = 60.0
    silent_timeout: Duration = 3.0
    battery_pct: Annotated[float, Field(gt=0, le=100)] = 80.0
    plugged: bool = True


class _Segment(BaseModel):
    model_config = _SHAPE
    at: Duration
    until: Duration | None = None
    label: Annotated[str, Field(max_length=200)] | None = None
    activity: Annotated[str, _one_of(ACTIVITIES)] = "sitting"
    room: Annotated[str, _one_of(ROOMS)] = "living"
    band: bool = True
    visitors: bool = False


class _Event(BaseModel):
    model_config = _SHAPE
    at: Duration
    kind: str
    id: Id | None = None


class _Fall(_Event):
    fall: Annotated[str, _one_of(FALL_KINDS)]
    down: Duration | None = None


class _Touch(_Event):
    zone: Annotated[str, _one_of(ZONES)]
    touch: Annotated[str, _one_of(TOUCHES)]


class _Button(_Event):
    long: bool | None = None


class _RobotHandled(_Event):
    handling: Annotated[str, _one_of(HANDLING)]
    seconds: Amount | None = None


class _Power(_Event):
    plugged: bool | None = None


class _LineNoise(_Event):
    ber: Amount | None = None
    drop: Amount | None = None
    seconds: Amount | None = None


class _Hang(_Event):
    seconds: Amount | None = None


class _Stuck(_Event):
    sensor: Annotated[str, _one_of(SENSORS)] | None = None
    seconds: Amount | None = None


class _BatteryDying(_Event):
    factor: Amount | None = None


class _Say(_Event):
    text: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    clip: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    language: Literal["ko", "en"] | None = None


_EVENT_MODELS: dict[EventKind, type[_Event]] = {
    EventKind.FALL: _Fall,
    EventKind.TOUCH: _Touch,
    EventKind.BUTTON: _Button,
    EventKind.ROBOT: _RobotHandled,
    EventKind.POWER: _Power,
    EventKind.LINE_NOISE: _LineNoise,
    EventKind.REBOOT: _Event,
    EventKind.HANG: _Hang,
    EventKind.STUCK: _Stuck,
    EventKind.BATTERY_DYING: _BatteryDying,
    EventKind.UNPLUG_SERIAL: _Hang,
    EventKind.SAY: _Say,
}
_DURATION_ARGS = frozenset({"down"})  # stored as `<name>_s`


class _Kind(BaseModel):
    """Only the event's kind, read first: it chooses the model for the rest."""

    model_config = ConfigDict(extra="ignore", strict=True)
    kind: Annotated[str, _one_of(tuple(k.value for k in EventKind))]


Filter = str | bool | int | float


class _Expect(BaseModel):
    model_config = _SHAPE
    alert: Annotated[str, Field(min_length=1)] | None = None
    no_alert: Annotated[str, Field(min_length=1)] | None = None
    event: Annotated[str, Field(min_length=1)] | None = None
    no_event: Annotated[str, Field(min_length=1)] | None = None
    heard: Literal[True] | None = None
    after: str | None = None
    within: Duration | None = None
    note: str = ""
    code: Filter | None = None
    component: Filter | None = None
    countdown: Filter | None = None
    trigger: Filter | None = None
    charging: Filter | None = None


class _ScenarioFile(BaseModel):
    model_config = _SHAPE
    name: Id
    description: Annotated[str, Field(max_length=2000)] = ""
    start: AwareDatetime
    duration: Duration
    speed: Annotated[float, Field(gt=0, le=100_000)] = 60.0
    seed: Annotated[int, Field(ge=0)] = 0
    language: Literal["ko", "en"] = "ko"
    routine: Literal["day", "none"] = "none"
    incident_speed: Annotated[float, Field(gt=0, le=100_000)] = 30.0
    incident_window: Duration = 90.0
    robot: _Robot = _Robot()
    segment: Annotated[list[dict[str, Any]], Field(max_length=10_000)] = []
    event: Annotated[list[dict[str, Any]], Field(max_length=10_000)] = []
    expect: Annotated[list[dict[str, Any]], Field(max_length=1_000)] = []


_TABLES = {"segment": "segment", "event": "event", "expect": "expect"}


def _where(loc: tuple[int | str, ...]) -> str:
    """`event #2 fall` for ('event', 1, 'fall'): the entries are counted from 1, as people do."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int) and i > 0 and loc[i - 1] in _TABLES:
            parts[-1] = f"{parts[-1]} #{part + 1}"
        else:
            parts.append(f"[{part}]" if part == "robot" else str(part))
    return " ".join(parts) or "(file)"


def _refuse(
    error: ValidationError, path: Path, prefix: tuple[int | str, ...] = ()
) -> ScenarioError:
    """Every problem on its own line: file, entry and key, value, reason in Korean and English."""
    lines = []
    for problem in error.errors(include_url=False)[:10]:
        where = _where((*prefix, *problem["loc"]))
        en = str(problem["msg"]).removeprefix("Value error, ")
        given = problem.get("input")
        value = ""
        if isinstance(given, datetime):
            value = f" = {given.isoformat()}"
        elif problem["type"] != "missing" and not isinstance(given, dict | list):
            value = f" = {given!r}"[:80]
        lines.append(f"{path}: {where}{value}: {reason_ko(problem['type'])} / {en}")
    return ScenarioError("\n".join(lines))


_Shape = TypeVar("_Shape", bound=BaseModel)


def _check(model: type[_Shape], raw: object, path: Path, at: tuple[int | str, ...] = ()) -> _Shape:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise _refuse(e, path, at) from None


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
    doc = _check(_ScenarioFile, raw, path)
    w = str(path)
    if doc.duration <= 0:
        raise ScenarioError(f"{w}: duration: 0보다 커야 합니다 / must be positive")
    segments = _segments(doc.segment, doc.duration, path)
    events = _events(doc.event, doc.duration, path)
    ids = [e.id for e in events if e.id]
    if len(ids) != len(set(ids)):
        raise ScenarioError(
            f"{w}: event id: 중복되었습니다 / event ids must be unique ({', '.join(sorted(ids))})"
        )
    robot = doc.robot
    return Scenario(
        path=path,
        name=doc.name,
        description=doc.description,
        start=doc.start,
        duration_s=doc.duration,
        speed=doc.speed,
        seed=doc.seed,
        language=doc.language,
        routine=doc.routine,
        segments=tuple(segments),
        events=tuple(sorted(events, key=lambda e: e.at_s)),
        expectations=tuple(_expectations(doc.expect, set(ids), path)),
        robot=RobotSettings(
            robot.countdown,
            robot.heartbeat_interval,
            robot.silent_timeout,
            robot.battery_pct,
            robot.plugged,
        ),
        incident_speed=doc.incident_speed,
        incident_window_s=doc.incident_window,
    )


def _segments(raw: list[dict[str, Any]], duration: float, path: Path) -> list[Segment]:
    checked = [(i, _check(_Segment, item, path, ("segment", i))) for i, item in enumerate(raw)]
    checked.sort(key=lambda e: e[1].at)
    out: list[Segment] = []
    for k, (i, seg) in enumerate(checked):
        nxt = checked[k + 1][1].at if k + 1 < len(checked) else duration
        until = seg.until if seg.until is not None else nxt
        if until <= seg.at:
            raise ScenarioError(
                f"{path}: segment #{i + 1} until: at 보다 뒤여야 합니다 / must come after at"
            )
        label = seg.label if seg.label is not None else seg.activity
        out.append(
            Segment(seg.at, until, label, seg.activity, seg.room,
                    band=seg.band, visitors=seg.visitors)
        )  # fmt: skip
    return out


def _events(raw: list[dict[str, Any]], duration: float, path: Path) -> list[WorldEvent]:
    out: list[WorldEvent] = []
    for i, item in enumerate(raw):
        kind = EventKind(_check(_Kind, item, path, ("event", i)).kind)
        event = _check(_EVENT_MODELS[kind], item, path, ("event", i))
        where = f"{path}: event #{i + 1}"
        if event.at > duration:
            raise ScenarioError(
                f"{where} at: 시나리오가 끝난 뒤입니다 / at {event.at:g} s is after the end of"
                f" the scenario ({duration:g} s)"
            )
        args: dict[str, Any] = {}
        for name, value in event.model_dump(exclude_unset=True).items():
            if name in ("at", "kind", "id") or value is None:
                continue
            args[f"{name}_s" if name in _DURATION_ARGS else name] = value
        if kind is EventKind.SAY:
            if ("text" in args) == ("clip" in args):
                raise ScenarioError(
                    f"{where}: text 나 clip 중 하나만 / a say event needs exactly one of `text`"
                    " or `clip`"
                )
            if "clip" in args:
                clip = Path(args["clip"])
                if not clip.is_absolute():
                    candidates = [path.parent / clip, Path(__file__).resolve().parents[1] / clip]
                    clip = next((c for c in candidates if c.exists()), candidates[0])
                if not clip.exists():
                    raise ScenarioError(
                        f"{where} clip: 파일이 없습니다 / clip {args['clip']} does not exist"
                    )
                args["clip"] = str(clip)
        out.append(WorldEvent(event.at, kind, MappingProxyType(args), event.id))
    return out


def _expectations(raw: list[dict[str, Any]], ids: set[str], path: Path) -> list[Expectation]:
    out: list[Expectation] = []
    for i, item in enumerate(raw):
        e = _check(_Expect, item, path, ("expect", i))
        where = f"{path}: expect #{i + 1}"
        given = {k: getattr(e, k) for k in EXPECT_KINDS if getattr(e, k) is not None}
        if len(given) != 1:
            raise ScenarioError(
                f"{where}: 하나만 쓰세요 / give exactly one of {', '.join(EXPECT_KINDS)}"
            )
        [(kind, what)] = given.items()
        if e.after is not None and e.after not in ids:
            raise ScenarioError(
                f"{where} after = {e.after!r}: 그런 사건 id가 없습니다 / names no event id"
                f" ({', '.join(sorted(ids)) or 'none defined'})"
            )
        filters = {k: _text(getattr(e, k)) for k in FILTERS if getattr(e, k) is not None}
        if filters and kind not in ("event", "no_event"):
            raise ScenarioError(
                f"{where}: 사건에만 쓸 수 있습니다 / {'/'.join(FILTERS)} filter events only"
            )
        out.append(
            Expectation(
                kind,
                "speech" if kind == "heard" else str(what),
                e.after,
                e.within,
                MappingProxyType(filters),
                e.note,
            )
        )
    return out
