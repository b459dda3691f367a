"""Synthetic wrist-band IMU for seniors: postures, walking, transitions, days and falls.

The band sits on the wrist. Every clip is made the same way: an orientation track of the
forearm (a rotation per sample, sensor frame → world frame, world z up) plus the wrist's
linear acceleration in the world. The accelerometer reads the specific force
`Rᵀ (a + g)` in g, the gyroscope the body rate `vee(Rᵀ Ṙ)` in degrees per second. Then the
person's own band is applied: mounting rotation, tremor, bias, noise and the sensor's range.

Sensor axes: x along the forearm towards the hand, z out of the back of the wrist, y = z × x.
So a hanging arm reads ax ≈ -1 g, a forearm resting palm-down on a lap az ≈ +1 g.

Columns are `device.sensors.IMU_COLUMNS`: ax_g, ay_g, az_g, gx_dps, gy_dps, gz_dps at 50 Hz.
"""

from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

RATE_HZ: Final = 50.0
DT: Final = 1.0 / RATE_HZ
ACTIVITIES: Final = ("lying", "sitting", "standing", "walking", "transition")
FALL_KINDS: Final = ("forward", "backward", "sideways", "from_bed", "slump")
ACC_RANGE_G: Final = 16.0
GYRO_RANGE_DPS: Final = 2000.0
_POSTURES: Final = ("lying", "sitting", "standing")


@dataclass(frozen=True)
class Person:
    """One simulated senior and the way they wear their band."""

    cadence_spm: float = 100.0  # steps per minute (seniors: ~80-115)
    arm_swing_deg: float = 15.0  # peak arm swing while walking
    step_bounce_g: float = 0.12  # vertical acceleration per step
    tremor_hz: float = 5.0
    tremor_deg: float = 0.2  # rest tremor amplitude of the wrist (0: none)
    fidget: float = 1.0  # how much the hands move while sitting/standing (1: typical)
    transition_s: float = 2.5  # how long standing up or sitting down takes
    mount_rotvec: tuple[float, float, float] = (0.0, 0.0, 0.0)  # band → sensor, radians
    left_wrist: bool = True
    acc_noise_g: float = 0.01
    gyro_noise_dps: float = 0.7
    acc_bias_g: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gyro_bias_dps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loose_band: float = 0.0  # 0: snug; 1: the band slides and wobbles

    @staticmethod
    def sample(rng: np.random.Generator) -> "Person":
        """A random senior: gait, tremor, habits and the band's fit all vary."""
        tremor = rng.random() < 0.3
        mount = rng.normal(0.0, np.radians(10.0), 3)
        if rng.random() < 0.15:  # band worn upside down: 180° about the forearm
            mount = (
                Rotation.from_rotvec([np.pi, 0.0, 0.0]) * Rotation.from_rotvec(mount)
            ).as_rotvec()
        return Person(
            cadence_spm=float(rng.uniform(78.0, 118.0)),
            arm_swing_deg=float(rng.uniform(6.0, 25.0)),
            step_bounce_g=float(rng.uniform(0.05, 0.22)),
            tremor_hz=float(rng.uniform(4.0, 6.5)),
            tremor_deg=float(rng.uniform(0.4, 1.5) if tremor else rng.uniform(0.0, 0.15)),
            fidget=float(rng.lognormal(0.0, 0.4)),
            transition_s=float(rng.uniform(1.6, 4.0)),
            mount_rotvec=(float(mount[0]), float(mount[1]), float(mount[2])),
            left_wrist=bool(rng.random() < 0.8),
            acc_noise_g=float(rng.uniform(0.004, 0.02)),
            gyro_noise_dps=float(rng.uniform(0.3, 1.5)),
            acc_bias_g=_triple(rng.normal(0.0, 0.02, 3)),
            gyro_bias_dps=_triple(rng.normal(0.0, 1.5, 3)),
            loose_band=float(rng.beta(1.2, 4.0)),
        )


def _qmul(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product of scalar-last quaternions, broadcast over rows (scipy's `*` is slow)."""
    x1, y1, z1, w1 = np.moveaxis(np.asarray(p, dtype=float), -1, 0)
    x2, y2, z2, w2 = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    return np.stack(
        [
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        ],
        axis=-1,
    )


def _rmul(a: Rotation, b: Rotation) -> Rotation:
    """`a * b` (apply b first), fast for long tracks."""
    return Rotation.from_quat(_qmul(a.as_quat(), b.as_quat()))


def _triple(a: np.ndarray) -> tuple[float, float, float]:
    return (float(a[0]), float(a[1]), float(a[2]))


def _frame(x: tuple[float, float, float], z: tuple[float, float, float]) -> Rotation:
    """The rotation whose sensor x and z axes point along `x` and (about) `z` in the world."""
    xa = np.asarray(x, dtype=float)
    xa /= np.linalg.norm(xa)
    za = np.asarray(z, dtype=float)
    za = za - xa * float(xa @ za)
    za /= np.linalg.norm(za)
    ya = np.cross(za, xa)
    return Rotation.from_matrix(np.column_stack([xa, ya, za]))


# Forearm orientations (world: x forward, y left, z up).
_HANGING = _frame((0.0, 0.0, -1.0), (0.0, 1.0, 0.0))  # arm down by the side
_ON_LAP = _frame((1.0, 0.0, -0.25), (0.0, 0.0, 1.0))  # forearm on the thigh, palm down


def _posture_rotation(posture: str, rng: np.random.Generator) -> Rotation:
    """A plausible resting orientation of the forearm for a posture."""
    if posture == "standing":
        jitter = rng.normal(0.0, np.radians([6.0, 8.0, 20.0]))
        return _HANGING * Rotation.from_rotvec(jitter)
    if posture == "sitting":
        pitch = np.radians(rng.normal(0.0, 12.0))  # forearm on an armrest or lap
        roll = np.radians(rng.normal(0.0, 25.0))
        yaw = np.radians(rng.normal(0.0, 25.0))
        return (
            Rotation.from_rotvec([0.0, 0.0, yaw])
            * _ON_LAP
            * Rotation.from_rotvec([0.0, pitch, 0.0])
            * Rotation.from_rotvec([roll, 0.0, 0.0])
        )
    if posture == "lying":
        u = rng.random()
        if u < 0.5:  # on the side of the wrist, beside the body
            roll = np.radians(rng.choice([-90.0, 90.0]) + rng.normal(0.0, 20.0))
        elif u < 0.8:  # palm down on the mattress
            roll = np.radians(rng.normal(0.0, 15.0))
        else:  # palm up
            roll = np.radians(180.0 + rng.normal(0.0, 20.0))
        lying = _frame((1.0, 0.0, rng.normal(0.0, 0.08)), (0.0, 0.0, 1.0))
        yaw = np.radians(rng.uniform(-180.0, 180.0))
        return Rotation.from_rotvec([0.0, 0.0, yaw]) * lying * Rotation.from_rotvec([roll, 0, 0])
    raise ValueError(f"unknown posture {posture!r}; expected one of {', '.join(_POSTURES)}")


def _ou(n: int, sigma: float, corr_s: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    a = float(np.exp(-DT / corr_s))
    e = rng.normal(0.0, sigma * np.sqrt(1.0 - a * a), n)
    e[0] = rng.normal(0.0, sigma)
    return np.asarray(lfilter([1.0], [1.0, -a], e))


@dataclass
class _Track:
    """An orientation per sample (sensor → world) and the wrist's linear acceleration (g)."""

    rot: Rotation
    lin_g: np.ndarray  # (n, 3) world frame

    def __len__(self) -> int:
        return len(self.lin_g)


def _concat(tracks: list[_Track]) -> _Track:
    quats = np.concatenate([t.rot.as_quat() for t in tracks])
    return _Track(Rotation.from_quat(quats), np.concatenate([t.lin_g for t in tracks]))


def _n(seconds: float) -> int:
    return max(1, round(seconds * RATE_HZ))


def _hold(
    base: Rotation, n: int, wobble_deg: float, corr_s: float, rng: np.random.Generator
) -> _Track:
    """A posture held still, with slow small movements of the hand."""
    sig = np.radians(wobble_deg)
    wob = np.column_stack([_ou(n, sig, corr_s, rng) for _ in range(3)])
    rot = _rmul(base, Rotation.from_rotvec(wob))
    lin = np.column_stack([_ou(n, 0.01 * wobble_deg / 3.0, 0.3, rng) for _ in range(3)])
    return _Track(rot, lin)


def _gestures(
    track: _Track, person: Person, rate_per_min: float, rng: np.random.Generator
) -> _Track:
    """Add hand movements (reaching, lifting a cup, scratching) to a held posture."""
    n = len(track)
    rot = track.rot
    lin = track.lin_g.copy()
    count = rng.poisson(rate_per_min * person.fidget * n * DT / 60.0)
    extra = np.zeros((n, 3))
    for _ in range(int(count)):
        dur = rng.uniform(0.8, 4.0)
        m = _n(dur)
        start = int(rng.integers(0, max(1, n - m)))
        m = min(m, n - start)
        shape = np.sin(np.linspace(0.0, np.pi, m)) ** 2
        axis = rng.normal(0.0, 1.0, 3)
        axis /= np.linalg.norm(axis)
        angle = np.radians(rng.uniform(15.0, 70.0))
        extra[start : start + m] += np.outer(shape, axis * angle)
        # the acceleration of moving the hand: second derivative of the shape
        lin[start : start + m] += np.outer(
            np.gradient(np.gradient(shape)), rng.normal(0.0, 1.0, 3)
        ) * (0.35 / (dur * dur) * 50.0 / RATE_HZ)
    rot = _rmul(rot, Rotation.from_rotvec(extra))
    return _Track(rot, lin)


def _walk(n: int, person: Person, rng: np.random.Generator) -> _Track:
    """Walking: the arm swings once per stride, the body bounces once per step."""
    t = np.arange(n) * DT
    step_hz = person.cadence_spm / 60.0 * rng.uniform(0.92, 1.08)
    jitter = _ou(n, 0.35, 1.5, rng)  # cadence is not a metronome
    phase = 2 * np.pi * (step_hz / 2.0) * t + jitter + rng.uniform(0, 2 * np.pi)
    swing_amp = np.radians(person.arm_swing_deg) * (1.0 + _ou(n, 0.15, 2.0, rng))
    swing = swing_amp * np.sin(phase)
    heading = np.radians(rng.uniform(-180.0, 180.0)) + _ou(n, 0.25, 4.0, rng)
    base = _HANGING * Rotation.from_rotvec(rng.normal(0.0, np.radians([5.0, 5.0, 15.0])))
    pitch = Rotation.from_rotvec(np.column_stack([np.zeros(n), -swing, np.zeros(n)]))
    yaw = Rotation.from_rotvec(np.column_stack([np.zeros(n), np.zeros(n), heading]))
    rot = _rmul(_rmul(yaw, pitch), base)
    w = 2 * np.pi * step_hz / 2.0
    arm_m = 0.6
    tangential = -arm_m * swing_amp * w * w * np.sin(phase) / 9.81  # the hand's pendulum
    bounce = person.step_bounce_g * np.sin(2.0 * phase + 0.4)
    surge = 0.5 * person.step_bounce_g * np.sin(2.0 * phase + 2.0)
    sway = 0.3 * person.step_bounce_g * np.sin(phase)
    fwd = np.column_stack([np.cos(heading), np.sin(heading), np.zeros(n)])
    left = np.column_stack([-np.sin(heading), np.cos(heading), np.zeros(n)])
    lin = (fwd * (tangential + surge)[:, None]) + left * sway[:, None]
    lin[:, 2] += bounce
    return _Track(rot, lin)


def _transition(
    r0: Rotation,
    r1: Rotation,
    standing_up: bool,
    person: Person,
    rng: np.random.Generator,
    seconds: float | None = None,
) -> _Track:
    """Changing posture: the forearm turns from one resting pose to another, the body heaves."""
    dur = seconds if seconds is not None else person.transition_s * rng.uniform(0.75, 1.3)
    n = _n(dur)
    s = np.linspace(0.0, 1.0, n)
    s = s * s * (3 - 2 * s)  # smooth start and stop
    slerp = Slerp([0.0, 1.0], Rotation.concatenate([r0, r1]))
    rot = slerp(s)
    # pushing off the armrest, leaning forward, then up (or the reverse)
    heave = np.sin(np.pi * np.linspace(0.0, 1.0, n))
    lin = np.zeros((n, 3))
    amp = rng.uniform(0.15, 0.45)
    lin[:, 0] = amp * np.gradient(heave) * n / 6.0 * rng.choice([-1.0, 1.0])
    lin[:, 2] = amp * np.sin(2 * np.pi * np.linspace(0.0, 1.0, n)) * (1 if standing_up else -1)
    lin += np.column_stack([_ou(n, 0.04, 0.2, rng) for _ in range(3)]) * heave[:, None]
    extra = np.column_stack([_ou(n, np.radians(8.0), 0.4, rng) for _ in range(3)]) * heave[:, None]
    return _Track(_rmul(rot, Rotation.from_rotvec(extra)), lin)


def _last(track: _Track) -> Rotation:
    return Rotation.from_quat(track.rot.as_quat()[-1])


def _posture_track(
    posture: str, n: int, person: Person, rng: np.random.Generator, base: Rotation | None = None
) -> _Track:
    base = base if base is not None else _posture_rotation(posture, rng)
    if posture == "lying":
        track = _hold(base, n, 1.5, 6.0, rng)
        return _gestures(track, person, 0.3, rng)
    if posture == "sitting":
        track = _hold(base, n, 4.0, 2.0, rng)
        return _gestures(track, person, 2.5, rng)
    track = _hold(base, n, 4.0, 1.5, rng)  # standing: sway, shifting weight
    return _gestures(track, person, 1.5, rng)


def _render(track: _Track, person: Person, rng: np.random.Generator) -> np.ndarray:
    """What the person's band measures for a track: (n, 6) float32 in IMU_COLUMNS units."""
    n = len(track)
    rot = track.rot
    if person.tremor_deg > 0:
        t = np.arange(n) * DT
        phase = 2 * np.pi * person.tremor_hz * t + rng.uniform(0, 2 * np.pi)
        amp = np.radians(person.tremor_deg) * (0.7 + 0.3 * np.abs(np.sin(2 * np.pi * t / 23.0)))
        trem = np.column_stack(
            [amp * np.sin(phase), 0.4 * amp * np.cos(phase), 0.2 * amp * np.sin(phase)]
        )
        rot = _rmul(rot, Rotation.from_rotvec(trem))
    if person.loose_band > 0:
        wob = np.column_stack(
            [_ou(n, np.radians(4.0 * person.loose_band), 0.15, rng), np.zeros(n), np.zeros(n)]
        )
        rot = _rmul(rot, Rotation.from_rotvec(wob))
    mount = Rotation.from_rotvec(person.mount_rotvec)
    rot = _rmul(rot, mount)
    up = np.array([0.0, 0.0, 1.0])
    specific = track.lin_g + up
    acc = rot.inv().apply(specific)
    q = rot.as_quat()
    rel = Rotation.from_quat(_qmul(q[:-1] * np.array([-1.0, -1.0, -1.0, 1.0]), q[1:]))
    omega = rel.as_rotvec() / DT
    gyro = np.degrees(np.vstack([omega, omega[-1:]])) if n > 1 else np.zeros((1, 3))
    if not person.left_wrist:  # mirror image: the right wrist sees y and the rates flipped
        acc[:, 1] *= -1.0
        gyro[:, 0] *= -1.0
        gyro[:, 2] *= -1.0
    acc += np.asarray(person.acc_bias_g) + rng.normal(0.0, person.acc_noise_g, (n, 3))
    gyro += np.asarray(person.gyro_bias_dps) + rng.normal(0.0, person.gyro_noise_dps, (n, 3))
    out = np.hstack(
        [np.clip(acc, -ACC_RANGE_G, ACC_RANGE_G), np.clip(gyro, -GYRO_RANGE_DPS, GYRO_RANGE_DPS)]
    )
    return out.astype(np.float32)


def synth_activity(
    activity: str, seconds: float, person: Person, rng: np.random.Generator
) -> np.ndarray:
    """`seconds` of one activity as the band measures it: shape (n, 6) float32 at 50 Hz.

    `transition` is a chain of posture changes (sit→stand, stand→sit, lie→sit, ...) filling
    the time; the others are one posture held (with the small movements of daily life) or
    walking.
    """
    if activity not in ACTIVITIES:
        raise ValueError(f"unknown activity {activity!r}; expected one of {', '.join(ACTIVITIES)}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    n = _n(seconds)
    if activity == "walking":
        track = _walk(n, person, rng)
    elif activity == "transition":
        parts: list[_Track] = []
        posture = str(rng.choice(_POSTURES))
        cur = _posture_rotation(posture, rng)
        total = 0
        while total < n:
            nxt = str(rng.choice(_NEXT[posture]))
            target = _posture_rotation(nxt, rng)
            part = _transition(cur, target, nxt == "standing", person, rng)
            parts.append(part)
            total += len(part)
            posture, cur = nxt, _last(part)
        track = _concat(parts)
        track = _Track(track.rot[:n], track.lin_g[:n])
    else:
        track = _posture_track(activity, n, person, rng)
    return _render(track, person, rng)


_NEXT: Final = {"lying": ("sitting",), "sitting": ("standing", "lying"), "standing": ("sitting",)}


# -- falls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FallClip:
    """A fall with its context: where the impact is, and what the senior did before."""

    samples: np.ndarray  # (n, 6) float32
    impact_index: int  # the sample of the peak (for a slump: where the slide ends)
    kind: str
    fall_start: int  # where the fall itself begins (before: `before`)
    before: str  # what the senior was doing: an activity


def _fall_end_rotation(kind: str, rng: np.random.Generator) -> Rotation:
    """How the forearm lies on the floor after each kind of fall."""
    yaw = Rotation.from_rotvec([0.0, 0.0, np.radians(rng.uniform(-180, 180))])
    if kind == "forward":  # hands out to break the fall, palm down on the floor
        return (
            yaw
            * _frame((1.0, 0.0, rng.normal(0.0, 0.1)), (0.0, 0.0, -1.0))
            * Rotation.from_rotvec([np.radians(rng.normal(180.0, 25.0)), 0.0, 0.0])
        )
    if kind == "backward":  # on the back, arm flung out, palm up or to the side
        return (
            yaw
            * _frame((1.0, 0.0, rng.normal(0.0, 0.1)), (0.0, 0.0, 1.0))
            * Rotation.from_rotvec([np.radians(rng.normal(150.0, 35.0)), 0.0, 0.0])
        )
    if kind in ("sideways", "from_bed"):
        return (
            yaw
            * _frame((1.0, 0.0, rng.normal(0.0, 0.15)), (0.0, 0.0, 1.0))
            * Rotation.from_rotvec(
                [np.radians(rng.choice([-90.0, 90.0]) + rng.normal(0.0, 25.0)), 0.0, 0.0]
            )
        )
    # slump: sitting on the floor against a wall, the arm limp beside the body
    return (
        yaw
        * _frame((0.9, 0.0, -0.45), (0.0, 1.0, 0.0))
        * Rotation.from_rotvec(rng.normal(0.0, np.radians(15.0), 3))
    )


def synth_fall_clip(kind: str, person: Person, rng: np.random.Generator) -> FallClip:
    """A fall with a few seconds of motion before and 10-20 s of lying still after."""
    if kind not in FALL_KINDS:
        raise ValueError(f"unknown fall kind {kind!r}; expected one of {', '.join(FALL_KINDS)}")
    before_s = rng.uniform(2.0, 5.0)
    after_s = rng.uniform(10.0, 20.0)
    if kind == "from_bed":
        before = "lying"
    elif kind == "slump" or rng.random() < 0.4:
        before = "standing"
    else:
        before = "walking"
    if before == "walking":
        pre = _walk(_n(before_s), person, rng)
    else:
        pre = _posture_track(before, _n(before_s), person, rng)
    end = _fall_end_rotation(kind, rng)
    start = Rotation.from_quat(pre.rot.as_quat()[-1])
    if kind == "slump":
        # a slow slide down a wall: no free fall, no big peak
        n = _n(rng.uniform(2.5, 6.0))
        s = np.linspace(0.0, 1.0, n)
        s = s * s * (3 - 2 * s)
        rot = Slerp([0.0, 1.0], Rotation.concatenate([start, end]))(s)
        lin = np.zeros((n, 3))
        lin[:, 2] = -rng.uniform(0.08, 0.25) * np.sin(2 * np.pi * s)
        lin += np.column_stack([_ou(n, 0.03, 0.2, rng) for _ in range(3)])
        bump = np.zeros((n, 3))
        k = min(n, _n(0.25))
        bump[-k:, 2] = rng.uniform(0.2, 0.7) * np.hanning(k)  # bottom meets the floor
        fall = _Track(rot, lin + bump)
        impact = len(pre) + n - k // 2
    else:
        hard = kind != "from_bed"
        fall_s = rng.uniform(0.45, 0.9) if hard else rng.uniform(0.3, 0.5)
        n = _n(fall_s)
        s = np.linspace(0.0, 1.0, n) ** 1.5  # accelerating rotation while falling
        rot = Slerp([0.0, 1.0], Rotation.concatenate([start, end]))(s)
        lin = np.zeros((n, 3))
        # toward free fall: the wrist's specific force drops as the body drops
        drop = rng.uniform(0.5, 0.85) if hard else rng.uniform(0.3, 0.6)
        lin[:, 2] = -drop * np.sin(np.pi * np.linspace(0.0, 1.0, n)) ** 0.7
        fall_tr = _Track(rot, lin)
        # the impact: a short spike of several g, then ringing
        peak = rng.uniform(3.0, 9.0) if hard else rng.uniform(1.8, 4.0)
        m = _n(0.6)
        tt = np.arange(m) * DT
        env = np.exp(-tt / rng.uniform(0.03, 0.07))
        ring = np.cos(2 * np.pi * rng.uniform(8.0, 15.0) * tt) * env
        direction = rng.normal(0.0, 0.4, 3)
        direction[2] = 1.0
        direction /= np.linalg.norm(direction)
        lin_imp = np.outer(ring * peak, direction)
        wob = np.column_stack(
            [
                np.radians(rng.uniform(5.0, 20.0)) * np.sin(2 * np.pi * 6 * tt) * env
                for _ in range(3)
            ]
        )
        imp_tr = _Track(_rmul(end, Rotation.from_rotvec(wob)), lin_imp)
        fall = _concat([fall_tr, imp_tr])
        impact = len(pre) + n
    post = _hold(end, _n(after_s), 0.8, 5.0, rng)
    track = _concat([pre, fall, post])
    return FallClip(
        _render(track, person, rng),
        impact_index=int(impact),
        kind=kind,
        fall_start=len(pre),
        before=before,
    )


def synth_fall(kind: str, person: Person, rng: np.random.Generator) -> np.ndarray:
    """A fall of `kind`: some motion before, the impact, lying still after; (n, 6) float32."""
    return synth_fall_clip(kind, person, rng).samples


# -- days ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One stretch of a simulated day."""

    label: str  # an activity, or "fall"
    start: int  # first sample
    stop: int  # one past the last sample


@dataclass(frozen=True)
class Day:
    """A simulated stretch of a senior's life with the ground truth per sample."""

    samples: np.ndarray  # (n, 6) float32
    segments: tuple[Segment, ...]
    impacts: tuple[int, ...] = ()  # sample index of each fall's impact

    def labels(self) -> np.ndarray:
        """The label of every sample."""
        out = np.empty(len(self.samples), dtype=object)
        for seg in self.segments:
            out[seg.start : seg.stop] = seg.label
        return out


def _daily_plan(hours: float, rng: np.random.Generator) -> list[tuple[str, float]]:
    """A senior's day as (activity, seconds): a night in bed, then mostly sitting, some walks."""
    plan: list[tuple[str, float]] = []
    total = hours * 3600.0
    used = 0.0
    night = min(total * 0.33, rng.uniform(6.5, 9.0) * 3600.0)
    # the night: lying, turning over now and then, one trip to the bathroom
    chunk = 0.0
    while chunk < night:
        seg = rng.uniform(900.0, 3600.0)
        plan.append(("lying", seg))
        chunk += seg
        if rng.random() < 0.15:
            plan += [("transition", 3.0), ("sitting", rng.uniform(10, 40)), ("transition", 3.0)]
            plan += [("standing", rng.uniform(3, 10)), ("walking", rng.uniform(15, 40))]
            plan += [("standing", rng.uniform(60, 240)), ("walking", rng.uniform(15, 40))]
            plan += [("standing", rng.uniform(3, 10)), ("transition", 3.0), ("transition", 3.0)]
    used += chunk
    posture = "lying"
    weights = {"sitting": 0.62, "standing": 0.16, "walking": 0.14, "lying": 0.08}
    while used < total:
        nxt = str(rng.choice(list(weights), p=list(weights.values())))
        if nxt == posture:
            continue
        if nxt == "walking":
            if posture != "standing":
                plan += [("transition", 3.0), ("standing", rng.uniform(2, 15))]
            seg = float(rng.lognormal(np.log(90.0), 0.9))
            plan.append(("walking", seg))
            plan.append(("standing", rng.uniform(2, 30)))
            posture = "standing"
            used += seg + 40
            continue
        plan.append(("transition", 3.0))
        seg = float(
            rng.lognormal(np.log({"sitting": 1500.0, "standing": 120.0, "lying": 1800.0}[nxt]), 0.7)
        )
        plan.append((nxt, seg))
        posture = nxt
        used += seg + 3.0
    return plan


def _hard_sit(r0: Rotation, r1: Rotation, person: Person, rng: np.random.Generator) -> _Track:
    """Dropping into a chair: a thump of 1.5-3 g, then sitting still (a classic false alarm)."""
    tr = _transition(r0, r1, False, person, rng, seconds=rng.uniform(0.8, 1.4))
    n = len(tr)
    k = _n(0.3)
    lin = tr.lin_g.copy()
    tt = np.arange(k) * DT
    lin[n - k :, 2] += rng.uniform(0.6, 2.0) * np.exp(-tt / 0.04) * np.cos(2 * np.pi * 9 * tt)
    return _Track(tr.rot, lin)


def _knock(track: _Track, rng: np.random.Generator) -> None:
    """The wrist knocks a table or the band is tapped: a short spike without a fall."""
    n = len(track)
    i = int(rng.integers(0, max(1, n - 20)))
    k = min(15, n - i)
    tt = np.arange(k) * DT
    direction = rng.normal(0.0, 1.0, 3)
    direction /= np.linalg.norm(direction)
    track.lin_g[i : i + k] += np.outer(rng.uniform(1.5, 5.0) * np.exp(-tt / 0.02), direction)


def synth_day(
    person: Person,
    rng: np.random.Generator,
    hours: float = 24.0,
    falls: tuple[str, ...] = (),
) -> Day:
    """`hours` of a senior's life, optionally with falls placed at random times."""
    plan = _daily_plan(hours, rng)
    n_total = _n(hours * 3600.0)
    fall_at = sorted(rng.uniform(0.1, 0.9, len(falls)) * n_total) if falls else []
    fall_kinds = list(falls)
    chunks: list[np.ndarray] = []
    segments: list[Segment] = []
    impacts: list[int] = []
    pos = 0
    cur = _posture_rotation("lying", rng)
    target: Rotation | None = None
    for i, (label, seconds) in enumerate(plan):
        if pos >= n_total:
            break
        n = min(_n(seconds), n_total - pos)
        if label == "transition":
            nxt = next((lab for lab, _ in plan[i + 1 :] if lab != "transition"), "sitting")
            posture = "standing" if nxt == "walking" else nxt
            target = _posture_rotation(posture, rng)
            if posture == "sitting" and rng.random() < 0.2:
                track = _hard_sit(cur, target, person, rng)
            else:
                track = _transition(cur, target, posture == "standing", person, rng)
        elif label == "walking":
            track = _walk(n, person, rng)
            target = None
        else:
            track = _posture_track(label, n, person, rng, base=target)
            target = None
            if label in ("sitting", "standing"):
                for _ in range(int(rng.poisson(n * DT / 1800.0))):
                    _knock(track, rng)
        cur = _last(track)
        data = _render(track, person, rng)[: n_total - pos]
        chunks.append(data)
        segments.append(Segment(label, pos, pos + len(data)))
        pos += len(data)
        while fall_at and pos >= fall_at[0] and pos < n_total:
            fall_at.pop(0)
            clip = synth_fall_clip(fall_kinds.pop(0), person, rng)
            data = clip.samples[: n_total - pos]
            chunks.append(data)
            end = pos + len(data)
            impact = pos + clip.impact_index
            fall_end = min(impact + 25, end)
            segments.append(Segment(clip.before, pos, min(pos + clip.fall_start, end)))
            if pos + clip.fall_start < end:
                segments.append(Segment("fall", pos + clip.fall_start, fall_end))
            if fall_end < end:
                segments.append(Segment("lying", fall_end, end))
            if impact < end:
                impacts.append(impact)
            pos = end
    return Day(np.concatenate(chunks), tuple(segments), tuple(impacts))


# -- designed hard negatives for the fall detector -----------------------------------------

HARD_NEGATIVES: Final = (
    "clapping",
    "table_strikes",
    "sitting_down_hard",
    "door_opening",
    "jogging",
    "jumping",
)
"""Everyday movements with fall-like impacts, designed from their mechanics (not fitted to
any recording): repeated bounces of the hand (clapping, beating a table), a thump into a
chair, a door's latch and swing, heel strikes while jogging and landings after jumps."""


def _bounce_track(
    base: Rotation,
    axis: np.ndarray,
    n: int,
    hz: float,
    amp_rad: float,
    radius_m: float,
    contact_s: float,
    rng: np.random.Generator,
) -> _Track:
    """The hand swings about `axis` (world) and stops against something at every 1/hz s.

    The angle is amp·|sin(π hz t)| with a jittered rhythm: at each contact the angular rate
    reverses at once, so the hand's velocity r·ω reverses over `contact_s` — an impact whose
    size follows from the motion (a faster or wider swing strikes harder).
    """
    t = np.arange(n) * DT
    phase = np.pi * hz * t + _ou(n, 0.25, 1.0, rng) + rng.uniform(0, np.pi)
    theta = amp_rad * (1.0 + _ou(n, 0.15, 1.5, rng)) * np.abs(np.sin(phase))
    rot = _rmul(Rotation.from_rotvec(np.outer(theta, axis)), base)
    pos = radius_m * theta  # along the hand's path (small angles), metres
    # velocity, then the contact blurred over its duration (a Gaussian of contact_s)
    vel = np.gradient(pos, DT)
    k = max(1, round(contact_s / DT))
    kern = np.exp(-0.5 * (np.arange(-3 * k, 3 * k + 1) / (0.5 * k)) ** 2)
    vel = np.convolve(vel, kern / kern.sum(), mode="same")
    acc_ms2 = np.gradient(vel, DT)
    tangent = np.cross(axis, base.apply([1.0, 0.0, 0.0]))
    tangent /= max(float(np.linalg.norm(tangent)), 1e-9)
    lin = np.outer(acc_ms2 / 9.81, tangent)
    lin += np.column_stack([_ou(n, 0.03, 0.2, rng) for _ in range(3)])
    return _Track(rot, lin)


def _hard_negative_track(kind: str, n: int, person: Person, rng: np.random.Generator) -> _Track:
    up = np.array([0.0, 0.0, 1.0])
    if kind == "clapping":  # forearms in front, the hands meet 1.5-4 times a second
        base = _frame((0.8, 0.4, 0.3), (0.0, 0.0, 1.0)) * Rotation.from_rotvec(
            rng.normal(0.0, np.radians(15.0), 3)
        )
        return _bounce_track(
            base,
            up,
            n,
            rng.uniform(1.5, 4.0),
            np.radians(rng.uniform(10.0, 35.0)),
            rng.uniform(0.25, 0.35),
            rng.uniform(0.02, 0.05),
            rng,
        )
    if kind == "table_strikes":  # seated, the forearm pivots at the elbow onto a table
        base = _posture_rotation("sitting", rng)
        axis = base.apply([0.0, 1.0, 0.0])
        return _bounce_track(
            base,
            axis,
            n,
            rng.uniform(0.8, 3.0),
            np.radians(rng.uniform(10.0, 40.0)),
            rng.uniform(0.25, 0.35),
            rng.uniform(0.015, 0.04),
            rng,
        )
    if kind == "sitting_down_hard":  # stand, drop into a chair, sit (then fidget)
        stand = _posture_rotation("standing", rng)
        sit = _posture_rotation("sitting", rng)
        before = _posture_track("standing", _n(rng.uniform(1.0, 4.0)), person, rng, stand)
        drop = _hard_sit(stand, sit, person, rng)
        drop.lin_g[-_n(0.3) :, 2] *= rng.uniform(1.0, 2.5)
        rest = max(1, n - len(before) - len(drop))
        after = _posture_track("sitting", rest, person, rng, _last(drop))
        whole = _concat([before, drop, after])
        return _Track(whole.rot[:n], whole.lin_g[:n])
    if kind == "door_opening":  # walk up, grasp, twist the handle, the latch gives, pull
        m = _n(rng.uniform(1.0, 3.0))
        walk = _walk(m, person, rng)
        reach = _frame((1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
        grab = _transition(_last(walk), reach, True, person, rng, seconds=rng.uniform(0.5, 1.0))
        k = _n(rng.uniform(0.3, 0.6))
        twist = np.radians(rng.uniform(40.0, 90.0)) * np.sin(np.linspace(0, np.pi / 2, k)) ** 2
        rot = _rmul(reach, Rotation.from_rotvec(np.outer(twist, [1.0, 0.0, 0.0])))
        lin = np.zeros((k, 3))
        tt = np.arange(min(8, k)) * DT
        lin[-len(tt) :, 0] -= rng.uniform(0.8, 2.5) * np.exp(-tt / 0.03)  # the latch gives
        turn = _Track(rot, lin)
        pull = _transition(_last(turn), _HANGING, False, person, rng, seconds=rng.uniform(1, 2))
        rest = max(1, n - m - len(grab) - k - len(pull))
        after = _posture_track("standing", rest, person, rng, _last(pull))
        whole = _concat([walk, grab, turn, pull, after])
        return _Track(whole.rot[:n], whole.lin_g[:n])
    if kind in ("jogging", "jumping"):
        brisk = Person(
            cadence_spm=rng.uniform(140.0, 180.0) if kind == "jogging" else rng.uniform(70, 130),
            arm_swing_deg=rng.uniform(25.0, 50.0) if kind == "jogging" else rng.uniform(5, 30),
            step_bounce_g=rng.uniform(0.3, 0.6),
        )
        track = _walk(n, brisk, rng)
        hz = brisk.cadence_spm / 60.0
        t = np.arange(n) * DT
        # each landing: the body's fall velocity stops over 40-120 ms; a jump's flight is
        # weightless (|a| about 0) between landings
        flight = 0.25 if kind == "jogging" else rng.uniform(0.3, 0.55)
        ph = (t * hz + rng.uniform(0, 1)) % 1.0
        lin = track.lin_g.copy()
        lin[ph < flight, 2] = -1.0 + rng.normal(0.0, 0.05, int(np.sum(ph < flight)))
        stop_s = rng.uniform(0.04, 0.12)
        v_land = 9.81 * flight / hz / 2.0  # m/s at landing after the flight time
        for i in (np.flatnonzero(np.diff((ph < flight).astype(int)) == -1) + 1).tolist():
            k = min(_n(3 * stop_s), n - int(i))
            tt = np.arange(k) * DT
            lin[i : i + k, 2] += (v_land / stop_s / 9.81) * np.exp(-tt / stop_s)
        return _Track(track.rot, lin)
    raise ValueError(f"unknown hard negative {kind!r}; expected one of {', '.join(HARD_NEGATIVES)}")


def synth_hard_negative(
    kind: str, seconds: float, person: Person, rng: np.random.Generator
) -> np.ndarray:
    """`seconds` of a designed hard negative (HARD_NEGATIVES) as the band measures it."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    return _render(_hard_negative_track(kind, _n(seconds), person, rng), person, rng)
