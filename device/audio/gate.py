"""The energy gate in front of the VAD: cheap level tracking that keeps Silero asleep in a quiet
room and lets loud voiced sound through even when Silero says it is not speech.

Why (issue 12): a shouted call ("여기 좀 도와주세요!", RMS 0.22, near clipping) never passed
Silero's 0.5 (its best chunk: 0.49), so nothing was decoded; the louder and more desperate the
voice, the more likely the VAD dropped it. And Silero on every 32 ms chunk of an empty room is
most of the robot's idle CPU.

Per chunk the gate measures the RMS level (dBFS) and keeps a noise floor: the 10th percentile of
the last `floor_window_s` of levels (minimum statistics, as in speech enhancement; digital
silence, e.g. while the robot talks and its ears are muted, is left out). Until the window has
filled, the floor is the lower of the percentile of what was heard so far and the percentile of
the first `warmup_first_s` heard (while the room is unknown, the lower guess hears more): a
recording that starts in the middle of a sound (a clip of panting) finds its quiet gaps within
a second, and one that starts quietly keeps its quiet start as the floor while a loud noise
builds up. The first half second, not the first chunk: a single first level (the edge of
digital silence, the first 32 ms of a drone fading in) held the floor there for the whole
first 5 s, so a steady drone at -20 dBFS counted as loud voiced sound and stretched every
segment (docs/hearing.md: the drone calls' loud chunks 70, 83, 99 → 25, 54, 79; a shout over
the drone is still loud). Then:

- **closed**: the level is within `open_above_floor_db` of the floor and below `open_dbfs`, and
  was for `hold_s`: Silero is not run (speech probability 0).
- **open**: Silero runs and decides, as before.
- **loud**: the level is at least `loud_dbfs` and `loud_above_floor_db` over the floor, and the
  chunk is voiced (a normalised autocorrelation peak in the pitch range) or clipped: the chunk
  counts as speech whatever Silero says, so recognition and the sound classifier hear it.

Pure (no clock, no threads): time comes from the chunks, like the segmenter.
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from device.audio.source import CHUNK_S, SAMPLE_RATE_HZ, AudioChunk

FULL_SCALE = 32768.0
SILENCE_DBFS = -120.0


@dataclass(frozen=True)
class GateConfig:
    """The gate's thresholds (dBFS: decibels relative to a full-scale sine's RMS ≈ -3 dB)."""

    enabled: bool = True
    open_above_floor_db: float = 6.0
    """A chunk this far above the noise floor wakes the VAD..."""
    open_dbfs: float = -40.0
    """...and so does any chunk at least this loud (a television keeps the VAD awake)."""
    hold_s: float = 0.5
    """After the level falls back, the VAD keeps running this long (the end of a word)."""
    loud_dbfs: float = -26.0
    """Loud sound (a shout, a scream) at least this loud..."""
    loud_above_floor_db: float = 20.0
    """...and this far above the floor counts as speech when it is voiced or clipped."""
    voiced_min_correlation: float = 0.5
    """Normalised autocorrelation peak (lag 1.25-12.5 ms: 80-800 Hz) that counts as voiced."""
    clipped_share: float = 0.01
    """Share of samples at full scale that counts as clipped."""
    floor_window_s: float = 5.0
    floor_percentile: float = 10.0
    warmup_first_s: float = 0.5
    """While the window fills, the floor is at most the percentile of this first stretch heard."""
    initial_floor_dbfs: float = -60.0

    def __post_init__(self) -> None:
        if self.hold_s < 0 or self.floor_window_s <= CHUNK_S:
            raise ValueError("hold_s must be ≥ 0 and floor_window_s longer than one chunk")
        if not CHUNK_S <= self.warmup_first_s <= self.floor_window_s:
            raise ValueError("warmup_first_s must be between one chunk and floor_window_s")
        if not 0 < self.floor_percentile < 100:
            raise ValueError("floor_percentile must be between 0 and 100")


class GateState(StrEnum):
    """What the gate made of one chunk."""

    CLOSED = "closed"  # the VAD is not run
    OPEN = "open"  # the VAD decides
    LOUD = "loud"  # speech, whatever the VAD says


@dataclass(frozen=True)
class GateDecision:
    """One chunk's level, the floor it was compared with, and the gate's state."""

    state: GateState
    level_dbfs: float
    floor_dbfs: float
    voiced: bool = False
    clipped: bool = False


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (SILENCE_DBFS for digital silence)."""
    if samples.size == 0:
        return SILENCE_DBFS
    x = samples.astype(np.float32)
    power = float(np.dot(x, x)) / samples.size
    if power <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * float(np.log10(power)) - 20.0 * float(np.log10(FULL_SCALE)))


_MIN_LAG = SAMPLE_RATE_HZ // 800  # 800 Hz: a scream's pitch
_MAX_LAG = SAMPLE_RATE_HZ // 80  # 80 Hz: a low male voice


def voicing(samples: np.ndarray) -> float:
    """Peak normalised autocorrelation in the pitch range (0: noise, a bang; →1: a steady voice)."""
    x = samples.astype(np.float32)
    x = x - float(x.mean())
    energy = float(np.dot(x, x))
    if energy <= 0.0 or x.size <= _MAX_LAG:
        return 0.0
    n = 1 << (2 * x.size - 1).bit_length()
    spectrum = np.fft.rfft(x, n)
    corr = np.fft.irfft(spectrum * np.conj(spectrum), n)[: _MAX_LAG + 1]
    # unbiased: each lag compares fewer samples
    lags = np.arange(_MIN_LAG, _MAX_LAG + 1)
    normed = corr[_MIN_LAG : _MAX_LAG + 1] / energy * (x.size / (x.size - lags))
    return float(np.clip(normed.max(), 0.0, 1.0))


class EnergyGate:
    """Tracks the room's noise floor and decides, per chunk, whether the VAD must run."""

    def __init__(self, config: GateConfig | None = None) -> None:
        self.config = config or GateConfig()
        size = max(2, round(self.config.floor_window_s / CHUNK_S))
        self._levels = np.full(size, self.config.initial_floor_dbfs, dtype=np.float32)
        self._next = 0
        self._seen = 0  # levels heard so far (the floor is their percentile until the window fills)
        self._first_chunks = max(1, round(self.config.warmup_first_s / CHUNK_S))
        self._first = self.config.initial_floor_dbfs  # the percentile of the first stretch heard
        self._floor = self.config.initial_floor_dbfs
        self._open_until_s = -1.0
        self.chunks = 0
        self.vad_chunks = 0  # chunks the VAD had to look at (idle cost)
        self.loud_chunks = 0

    @property
    def floor_dbfs(self) -> float:
        """The current noise floor estimate."""
        return self._floor

    def judge(self, chunk: AudioChunk) -> GateDecision:
        """Measure one chunk, update the floor, and say whether the VAD runs on it."""
        cfg = self.config
        level = level_dbfs(chunk.samples)
        floor = self._floor  # compare with the floor before this chunk moved it
        if level > SILENCE_DBFS:  # digital silence (muted ears) says nothing about the room
            if self._seen == 0:  # the first sound: the floor starts from it
                floor = level
            self._levels[self._next] = level
            self._next = (self._next + 1) % self._levels.size
            self._seen = min(self._seen + 1, self._levels.size)
            self._floor = float(np.percentile(self._levels[: self._seen], cfg.floor_percentile))
            if self._seen <= self._first_chunks:  # the ring holds them in order until it wraps
                self._first = self._floor
            elif self._seen < self._levels.size:  # warming up: the lower guess hears more
                self._floor = min(self._floor, self._first)
        self.chunks += 1
        if not cfg.enabled:
            self.vad_chunks += 1
            return GateDecision(GateState.OPEN, level, floor)
        if level >= cfg.loud_dbfs and level - floor >= cfg.loud_above_floor_db:
            clipped = _clipped_share(chunk.samples) >= cfg.clipped_share
            voiced = not clipped and voicing(chunk.samples) >= cfg.voiced_min_correlation
            if voiced or clipped:
                self._open_until_s = chunk.end_s + cfg.hold_s
                self.vad_chunks += 1
                self.loud_chunks += 1
                return GateDecision(GateState.LOUD, level, floor, voiced, clipped)
        if level >= cfg.open_dbfs or level - floor >= cfg.open_above_floor_db:
            self._open_until_s = chunk.end_s + cfg.hold_s
        if chunk.end_s <= self._open_until_s + 1e-9:
            self.vad_chunks += 1
            return GateDecision(GateState.OPEN, level, floor)
        return GateDecision(GateState.CLOSED, level, floor)


def _clipped_share(samples: np.ndarray) -> float:
    if samples.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(samples.astype(np.int32)) >= 32000)) / samples.size
