"""Typed readings from the robot's body and the wrist band, as the hardware layer delivers them.

The hardware layer (device.hal) turns serial frames into these; the agent hands each one to
every stage (perception, dialog, ...). They are plain frozen values: a stage may keep them.
Times are the agent clock's monotonic seconds when the reading arrived (`at_s`).
"""

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

IMU_COLUMNS = ("ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
"""Column order of every IMU array: acceleration in g, angular rate in degrees per second."""
IMU_RATE_HZ = 50.0


class ImuSource(StrEnum):
    """Which IMU: the paired wrist band, or the robot's own body."""

    BAND = "band"
    BODY = "body"


@dataclass(frozen=True)
class ImuBatch:
    """Consecutive IMU samples, shape (n, 6) float32 in IMU_COLUMNS order, at rate_hz."""

    source: ImuSource
    t0_s: float  # time of the first sample
    samples: np.ndarray = field(repr=False, compare=False)
    rate_hz: float = IMU_RATE_HZ


class TouchKind(StrEnum):
    """What the touch sensors recognised."""

    HUG = "hug"
    PAT = "pat"
    SQUEEZE = "squeeze"


@dataclass(frozen=True)
class Touch:
    """The senior touched the robot."""

    kind: TouchKind
    zone: str  # "head", "back", "belly", "left_hand", "right_hand"
    at_s: float


@dataclass(frozen=True)
class Presence:
    """The presence sensor (PIR) changed state."""

    present: bool
    at_s: float


@dataclass(frozen=True)
class ButtonPress:
    """The help button; a long press is the unmistakable call for help."""

    long: bool
    at_s: float


@dataclass(frozen=True)
class BatteryReading:
    """The robot's battery."""

    percent: float
    charging: bool
    at_s: float


@dataclass(frozen=True)
class HardwareFault:
    """The hardware layer lost or distrusts a part (silent MCU, stuck sensor, bad frames)."""

    component: str  # "mcu", "imu", "band", "touch", "pir", "battery"
    detail: str
    at_s: float
    cleared: bool = False  # the part is back


SensorReading = ImuBatch | Touch | Presence | ButtonPress | BatteryReading | HardwareFault
