"""The robot's own body: its IMU (still, hugged, carried, knocked over) and its battery.

A small physical model, enough for the hardware layer to see what a real body would show:
gravity in the sensor frame for the robot's posture, sensor noise and bias, the sway of a
hug, the bounce of being carried, the spike of a fall to the floor. Samples are (n, 6)
float32 in device.sensors.IMU_COLUMNS at 50 Hz. Deterministic for a seed.
"""

import zlib
from dataclasses import dataclass

import numpy as np

RATE_HZ = 50
UPRIGHT = np.array([0.0, 0.0, 1.0])
ON_ITS_SIDE = np.array([1.0, 0.0, 0.05]) / np.linalg.norm([1.0, 0.0, 0.05])


@dataclass
class Handling:
    """The robot is being handled from start_s for seconds (hug, carry, knock_over, upright)."""

    kind: str
    start_s: float
    seconds: float


class RobotBody:
    """The body IMU's samples given how the robot is handled."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = np.random.default_rng(zlib.crc32(f"body-{seed}".encode()))
        self.gyro_bias = rng.normal(0.0, 0.8, 3)
        self.acc_bias = rng.normal(0.0, 0.01, 3)
        self.gravity = UPRIGHT.copy()  # where gravity points in the sensor frame at rest
        self.handling: Handling | None = None

    def handle(self, kind: str, at_s: float, seconds: float) -> None:
        """Start handling the robot."""
        if kind == "upright":
            self.gravity = UPRIGHT.copy()
            self.handling = Handling("carry", at_s, 1.5)  # picked up and put back
            return
        self.handling = Handling(kind, at_s, seconds if kind != "knock_over" else 1.0)

    def moving(self, t_s: float) -> bool:
        """Someone is moving the robot (its IMU streams continuously)."""
        h = self.handling
        return h is not None and h.start_s <= t_s < h.start_s + h.seconds + 2.0

    def samples(self, i0: int, n: int) -> np.ndarray:
        """Samples i0 .. i0+n (sample i at t = i / 50 s)."""
        rng = np.random.default_rng(zlib.crc32(f"body-{self.seed}-{i0}".encode()))
        t = (i0 + np.arange(n)) / RATE_HZ
        acc = np.tile(self.gravity, (n, 1))
        gyro = np.zeros((n, 3))
        h = self.handling
        if h is not None:
            active = (t >= h.start_s) & (t < h.start_s + h.seconds)
            tau = t - h.start_s
            if h.kind == "hug":
                sway = np.radians(12.0) * np.sin(2 * np.pi * 0.4 * tau)
                acc[:, 0] += np.where(active, np.sin(sway), 0.0)
                gyro[:, 1] += np.where(
                    active, 12.0 * 2 * np.pi * 0.4 * np.cos(2 * np.pi * 0.4 * tau), 0.0
                )
                acc[:, 2] += np.where(active, 0.05 * np.sin(2 * np.pi * 1.1 * tau), 0.0)
            elif h.kind == "carry":
                acc[:, 2] += np.where(active, 0.18 * np.sin(2 * np.pi * 1.8 * tau), 0.0)
                acc[:, 0] += np.where(active, 0.08 * np.sin(2 * np.pi * 0.9 * tau), 0.0)
                gyro[:, 2] += np.where(active, 25.0 * np.sin(2 * np.pi * 0.3 * tau), 0.0)
            elif h.kind == "knock_over":
                falling = active & (tau < 0.35)
                impact = active & (tau >= 0.35) & (tau < 0.45)
                after = t >= h.start_s + 0.45
                acc[falling] *= 0.3
                gyro[falling, 1] += 260.0
                acc[impact] += np.array([2.5, 0.4, -1.2])
                acc[after] = ON_ITS_SIDE
                if np.any(after):
                    self.gravity = ON_ITS_SIDE.copy()
            if t[-1] >= h.start_s + h.seconds + 2.0:
                self.handling = None
        acc += self.acc_bias + rng.normal(0.0, 0.004, (n, 3))
        gyro += self.gyro_bias + rng.normal(0.0, 0.3, (n, 3))
        return np.hstack([acc, gyro]).astype(np.float32)


@dataclass
class Battery:
    """A Li-ion cell: drains on battery, charges on the cable; a dying one drains regardless."""

    percent: float = 80.0
    plugged: bool = True
    drain_pct_per_h: float = 6.0  # ~16 h on battery
    charge_pct_per_h: float = 40.0
    dying_factor: float = 1.0

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        hours = seconds / 3600
        if self.dying_factor != 1.0:  # a failing cell or charger: it drains even on the cable
            drain = self.drain_pct_per_h * self.dying_factor * hours
            self.percent = max(0.0, self.percent - drain)
        elif self.plugged:
            self.percent = min(100.0, self.percent + self.charge_pct_per_h * hours)
        else:
            self.percent = max(0.0, self.percent - self.drain_pct_per_h * hours)

    @property
    def charging(self) -> bool:
        """On the cable and not full (a dying cell no longer takes charge)."""
        return self.plugged and self.percent < 100.0 and self.dying_factor == 1.0

    @property
    def millivolts(self) -> int:
        """A rough open-circuit voltage for the level."""
        return round(3300 + 9 * self.percent)

    @property
    def empty(self) -> bool:
        """The robot has no power left."""
        return self.percent <= 0.0 and (not self.plugged or self.dying_factor != 1.0)
