"""Faults and incidents on demand for `dolbom sim robot`: one typed line → one world event."""

from types import MappingProxyType
from typing import Any

from firmware_sim.world import FALL_KINDS, SENSORS, TOUCHES, ZONES, EventKind

HELP = """commands (each happens now):
  fall [forward|backward|sideways|from_bed|slump] [down_s]   the senior falls
  button [long]                 the help button
  touch ZONE [hug|pat|squeeze]  zones: head back belly left_hand right_hand
  hug | carry | knock | upright the robot is hugged, carried, knocked over, put back
  power off|on                  the robot's power cable
  noise BER [DROP] [SECONDS]    bit errors / dropped bytes on the UART (e.g. noise 1e-3 0.01 30)
  reboot | hang SECONDS         the MCU restarts / stops answering, then its watchdog fires
  stuck band|body SECONDS       an IMU repeats one value
  battery-dying                 the cell fails: it drains fast, even on the cable
  unplug-serial SECONDS         the UART cable is pulled (the PTY goes away and comes back)
  status | help | quit"""


class ConsoleError(ValueError):
    """A command line that could not be understood; the message says how to write it."""


def _num(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConsoleError(f"{what} must be a number, not {text!r}") from None
    if value < 0:
        raise ConsoleError(f"{what} can't be negative")
    return value


def parse_command(line: str) -> tuple[EventKind, MappingProxyType[str, Any]] | str | None:
    """An event to inject, a console word ("status", "help", "quit"), or None for a blank line."""
    words = line.strip().split()
    if not words:
        return None
    cmd, rest = words[0].lower(), words[1:]
    args: dict[str, Any] = {}
    if cmd in ("status", "help", "quit", "exit"):
        return "quit" if cmd == "exit" else cmd
    if cmd == "fall":
        kind = rest[0] if rest else "forward"
        if kind not in FALL_KINDS:
            raise ConsoleError(f"fall kinds: {', '.join(FALL_KINDS)}")
        args = {"fall": kind, "down_s": _num(rest[1], "down_s") if len(rest) > 1 else 600.0}
        return EventKind.FALL, MappingProxyType(args)
    if cmd == "button":
        return EventKind.BUTTON, MappingProxyType({"long": bool(rest and rest[0] == "long")})
    if cmd == "touch":
        if not rest or rest[0] not in ZONES:
            raise ConsoleError(f"touch ZONE [kind]: zones are {', '.join(ZONES)}")
        kind = rest[1] if len(rest) > 1 else "pat"
        if kind not in TOUCHES:
            raise ConsoleError(f"touch kinds: {', '.join(TOUCHES)}")
        return EventKind.TOUCH, MappingProxyType({"zone": rest[0], "touch": kind})
    if cmd in ("hug", "carry", "knock", "upright"):
        handling = "knock_over" if cmd == "knock" else cmd
        seconds = _num(rest[0], "seconds") if rest else 5.0
        return EventKind.ROBOT, MappingProxyType({"handling": handling, "seconds": seconds})
    if cmd == "power":
        if not rest or rest[0] not in ("on", "off"):
            raise ConsoleError("power on|off")
        return EventKind.POWER, MappingProxyType({"plugged": rest[0] == "on"})
    if cmd == "noise":
        if not rest:
            raise ConsoleError("noise BER [DROP] [SECONDS], e.g. noise 1e-3 0.01 30")
        args = {"ber": _num(rest[0], "BER")}
        args["drop"] = _num(rest[1], "DROP") if len(rest) > 1 else 0.0
        args["seconds"] = _num(rest[2], "SECONDS") if len(rest) > 2 else 30.0
        if args["ber"] > 0.5 or args["drop"] > 1:
            raise ConsoleError("BER is at most 0.5 and DROP at most 1")
        return EventKind.LINE_NOISE, MappingProxyType(args)
    if cmd == "reboot":
        return EventKind.REBOOT, MappingProxyType({})
    if cmd == "hang":
        return EventKind.HANG, MappingProxyType(
            {"seconds": _num(rest[0], "SECONDS") if rest else 10.0}
        )
    if cmd == "stuck":
        if not rest or rest[0] not in SENSORS:
            raise ConsoleError("stuck band|body SECONDS")
        seconds = _num(rest[1], "SECONDS") if len(rest) > 1 else 60.0
        return EventKind.STUCK, MappingProxyType({"sensor": rest[0], "seconds": seconds})
    if cmd == "battery-dying":
        return EventKind.BATTERY_DYING, MappingProxyType({"factor": 20.0})
    if cmd == "unplug-serial":
        seconds = _num(rest[0], "SECONDS") if rest else 10.0
        return EventKind.UNPLUG_SERIAL, MappingProxyType({"seconds": seconds})
    raise ConsoleError(f"unknown command {cmd!r}; type help")
