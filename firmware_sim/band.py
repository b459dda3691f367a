"""The wrist band's motion: helper 4a's synthetic IMU (models.data.imu_synth) laid on the world.

Synthesising every second of a day costs ~0.3 ms per simulated second, too slow for days
at high speed, so the band keeps a bank of clips per activity (made once from the seed)
and lays them end to end over each segment, blending 0.5 s across every join so that no
join looks like a jolt. A segment that starts with a fall starts with a synthesized fall
of that kind. Samples are (n, 6) float32 in device.sensors.IMU_COLUMNS at 50 Hz.
"""

import functools
import zlib

import numpy as np

from firmware_sim.world import ACTIVITIES, Segment, World
from models.data.imu_synth import Person, synth_activity, synth_fall

RATE_HZ = 50
CLIP_S = 60.0
CLIPS_PER_ACTIVITY = 3
BLEND = 25  # samples blended across a join (0.5 s)
BLOCK = 30_000  # a segment is laid 10 minutes at a time


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@functools.lru_cache(maxsize=8)
def _bank(seed: int, person: Person) -> dict[str, list[np.ndarray]]:
    """Clips per activity for one senior (made once per process: ~1.5 s)."""
    rng = _rng(seed, "bank")
    return {
        a: [synth_activity(a, CLIP_S, person, rng) for _ in range(CLIPS_PER_ACTIVITY)]
        for a in ACTIVITIES
    }


class BandMotion:
    """Band samples for any range of sample indices (sample i is at t = i / 50 s)."""

    def __init__(self, world: World, seed: int, person: Person | None = None) -> None:
        self.world = world
        self.seed = seed
        self.person = person or Person.sample(_rng(seed, "person"))
        self._bank = _bank(seed, self.person)
        self._cache: dict[tuple[float, float, str, str | None, bool, int], np.ndarray] = {}

    def samples(self, i0: int, i1: int) -> np.ndarray:
        """Samples [i0, i1) as (i1 - i0, 6) float32."""
        out = np.empty((i1 - i0, 6), np.float32)
        i = i0
        while i < i1:
            seg = self.world.segment_at(i / RATE_HZ)
            first = round(seg.start_s * RATE_HZ)
            last = max(first + 1, round(seg.end_s * RATE_HZ))
            if seg is self.world.segments[-1]:
                last = max(last, i1)  # the last activity goes on after the timeline ends
            if i < first or i >= last:  # outside every segment: hold still
                out[i - i0 : i1 - i0] = out[i - i0 - 1] if i > i0 else 0.0
                if i < first:
                    out[i - i0 : min(i1, first) - i0, 2] = 1.0
                    i = min(i1, first)
                    continue
                break
            block, offset = divmod(i - first, BLOCK)
            laid = self._block(seg, block, seg is self.world.segments[-1])
            end = min(i1, last, i + len(laid) - offset)
            out[i - i0 : end - i0] = laid[offset : offset + end - i]
            i = end
        return out

    def _block(self, seg: Segment, block: int, open_end: bool) -> np.ndarray:
        key = (seg.start_s, seg.end_s, seg.activity, seg.fall, open_end, block)
        laid = self._cache.get(key)
        if laid is None:
            previous = self._cache.get((*key[:5], block - 1))
            before = None if previous is None else previous[-1]
            laid = self._lay(seg, block, before, open_end)
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = laid
        return laid

    def _lay(
        self, seg: Segment, block: int, before: np.ndarray | None, open_end: bool
    ) -> np.ndarray:
        n = max(1, round((seg.end_s - seg.start_s) * RATE_HZ))
        n = BLOCK if open_end else min(BLOCK, n - block * BLOCK)
        rng = _rng(self.seed, "segment", seg.start_s, seg.activity, seg.fall, block)
        parts: list[np.ndarray] = []
        if seg.fall is not None and block == 0:
            parts.append(synth_fall(seg.fall, self.person, rng))
        bank = self._bank[seg.activity]
        total = sum(len(p) for p in parts)
        while total < n:
            clip = bank[int(rng.integers(len(bank)))]
            start = int(rng.integers(len(clip) // 2))
            piece = clip[start:]
            parts.append(piece)
            total += len(piece)
        out = np.concatenate(parts)[:n].copy()
        joins = [int(j) for j in np.cumsum([len(p) for p in parts[:-1]])]
        w = np.linspace(0.0, 1.0, BLEND, dtype=np.float32)[:, None]
        for j, prev in [(0, before)] + [(j, None) for j in joins]:
            if prev is None and j > 0:
                prev = out[j - 1].copy()
            if (
                prev is not None
                and j < n - BLEND
                and not (j == 0 and parts and block == 0 and seg.fall)
            ):
                out[j : j + BLEND] = prev * (1 - w) + out[j : j + BLEND] * w
        return out
