"""Prosody from the voice: pitch, energy, speaking rate and pauses → an arousal score.

Computed on the robot from the same 16 kHz int16 audio the recogniser heard
(`Utterance.samples`); the audio never leaves the robot and nothing here is stored.

- Pitch: YIN (de Cheveigné & Kawahara 2002) on 30 ms frames every 10 ms, 60–500 Hz, so
  low older male voices and a raised, shouting voice both fit.
- Energy: RMS level per frame in dBFS; "active" frames are those well above the segment's
  own noise floor.
- Speaking rate: syllable nuclei counted as peaks of the smoothed energy envelope with a dip
  of at least 2 dB between them, on voiced frames (after de Jong & Wempe 2009), per second
  of the speaking span.
- Pauses: silent runs of at least 0.2 s inside the speaking span.

Arousal is not a trained model: no labelled arousal data exists here. It is a fixed,
literature-guided combination (higher and more varied pitch, louder, faster, fewer pauses
→ more aroused; Juslin & Laukka 2003) of each feature's z-score against a baseline,
squashed by tanh into [-1, 1]. The starting baseline is the spread of ordinary human speech
measured on the Korean dev clips (see docs/readme-parts/issue4-emotion.md); `ArousalScorer`
then adapts it to this senior's own voice and this robot's microphone, because a level in
dBFS or a pitch in Hz means nothing without knowing whose voice and which room it is.
"""

import math
from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE_HZ = 16000
FRAME_S = 0.030
HOP_S = 0.010
F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0
YIN_THRESHOLD = 0.15
MIN_ACTIVE_S = 0.15  # less speech than this: no prosody
MIN_PAUSE_S = 0.2
NUCLEUS_DIP_DB = 2.0
MAX_ANALYSIS_S = 20.0  # longer segments are cut: the cost stays bounded


@dataclass(frozen=True)
class Prosody:
    """Voice features of one utterance."""

    duration_s: float
    speaking_s: float  # from the first to the last active frame
    voiced_share: float  # voiced frames / active frames
    pitch_st: float  # median F0 in semitones re 100 Hz (0 when nothing is voiced)
    pitch_hz: float  # median F0 in Hz (0 when nothing is voiced)
    pitch_range_st: float  # 90th - 10th percentile of F0, semitones
    level_db: float  # mean RMS level of active frames, dBFS
    level_range_db: float  # 90th - 10th percentile of the active frames' level
    rate_syl_s: float  # syllable nuclei per second of the speaking span
    pause_share: float  # share of the speaking span in pauses of >= MIN_PAUSE_S
    pauses: int


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    n = 1 + max(0, (len(x) - length) // hop)
    idx = np.arange(length)[None, :] + hop * np.arange(n)[:, None]
    out: np.ndarray = x[idx]
    return out


def frame_levels_db(x: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """RMS level per frame (30 ms every 10 ms) in dBFS; x is float in [-1, 1]."""
    length, hop = int(FRAME_S * sample_rate_hz), int(HOP_S * sample_rate_hz)
    if len(x) < length:
        return np.zeros(0)
    frames = _frames(x, length, hop)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    out: np.ndarray = 20.0 * np.log10(np.maximum(rms, 1e-6))
    return out


PITCH_RATE_HZ = 8000  # F0 is at most 500 Hz: half the samples, a quarter of the work

# The half-band low-pass scipy.signal.resample_poly(x, 1, 2) designs (firwin, 41 taps, Kaiser
# beta 5): numpy alone computes the same samples (to 1e-15, tests/device/perception/test_voice.py)
# without importing scipy.signal, which costs the robot ~76 MB of RSS.
_HALF_TAPS = np.arange(41) - 20.0
_HALF_BAND = 0.5 * np.sinc(0.5 * _HALF_TAPS) * np.kaiser(41, 5.0)
_HALF_BAND /= _HALF_BAND.sum()


def decimate_by_2(x: np.ndarray) -> np.ndarray:
    """Half the sample rate, as `resample_poly(x, 1, 2)` does (same filter, same alignment)."""
    n_out = (len(x) + 1) // 2
    return np.convolve(x, _HALF_BAND)[20 : 20 + 2 * n_out : 2]


def pitch_track(
    x: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ, only: np.ndarray | None = None
) -> np.ndarray:
    """F0 in Hz per frame (30 ms every 10 ms), 0 where unvoiced; x is float in [-1, 1].

    `only`: a boolean mask of frames worth analysing (the others stay 0).
    """
    if sample_rate_hz == 2 * PITCH_RATE_HZ:
        x = decimate_by_2(x)
        sample_rate_hz = PITCH_RATE_HZ
    w = int(FRAME_S * sample_rate_hz)
    hop = int(HOP_S * sample_rate_hz)
    tau_min = int(sample_rate_hz / F0_MAX_HZ)
    tau_max = math.ceil(sample_rate_hz / F0_MIN_HZ)
    if len(x) < w:
        return np.zeros(0)
    n = 1 + (len(x) - w) // hop
    rows = np.arange(n) if only is None else np.flatnonzero(only[:n])
    f0 = np.zeros(n)
    if len(rows) == 0:
        return f0
    # Each frame carries tau_max extra samples (zero past the end) so every lag fits.
    padded = np.concatenate([x, np.zeros(tau_max + 1)])
    span = w + tau_max + 1
    frames = padded[np.arange(span)[None, :] + hop * rows[:, None]]
    # Circular correlation of the first w samples with the whole frame: no wrap-around for
    # lags up to tau_max once n_fft >= span.
    n_fft = 1 << math.ceil(math.log2(span))
    head = np.zeros_like(frames)
    head[:, :w] = frames[:, :w]
    corr = np.fft.irfft(np.conj(np.fft.rfft(head, n_fft)) * np.fft.rfft(frames, n_fft), n_fft)
    corr = corr[:, : tau_max + 1]
    sq = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(frames * frames, axis=1)], axis=1)
    lags = np.arange(tau_max + 1)
    energy_0 = sq[:, w][:, None]
    energy_tau = sq[:, lags + w] - sq[:, lags]
    diff = np.maximum(energy_0 + energy_tau - 2.0 * corr, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(cum, 1e-12)
    region = cmnd[:, tau_min : tau_max + 1]
    below = region < YIN_THRESHOLD
    has = below.any(axis=1) & (energy_0[:, 0] > 1e-7 * w)
    first = np.argmax(below, axis=1)
    # From the first dip below the threshold, walk down to its local minimum.
    width = region.shape[1]
    idx = np.arange(width - 1)[None, :]
    rising = (region[:, 1:] >= region[:, :-1]) & (idx >= first[:, None])
    t = np.where(rising.any(axis=1), np.argmax(rising, axis=1), width - 1)
    k = np.arange(len(rows))
    inner = (t > 0) & (t < width - 1)
    tc = np.clip(t, 1, width - 2)
    a, b, c = region[k, tc - 1], region[k, tc], region[k, tc + 1]
    denom = a - 2 * b + c
    shift = np.where(inner & (denom > 0), 0.5 * (a - c) / np.where(denom > 0, denom, 1.0), 0.0)
    tau = t + tau_min + shift  # parabolic interpolation between lags
    f0[rows[has]] = sample_rate_hz / tau[has]
    return f0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def syllable_nuclei(levels_db: np.ndarray, voiced: np.ndarray, floor_db: float) -> int:
    """Peaks of the smoothed level above `floor_db`, >= 2 dB dips apart, on voiced frames."""
    if len(levels_db) < 3:
        return 0
    kernel = np.ones(5) / 5.0  # 50 ms
    smooth = np.convolve(levels_db, kernel, mode="same")
    peaks = [
        i
        for i in range(1, len(smooth) - 1)
        if smooth[i] > smooth[i - 1] and smooth[i] >= smooth[i + 1] and smooth[i] > floor_db
    ]
    kept: list[int] = []
    for p in peaks:
        if kept:
            dip = float(np.min(smooth[kept[-1] : p + 1]))
            if min(smooth[kept[-1]], smooth[p]) - dip < NUCLEUS_DIP_DB:
                if smooth[p] > smooth[kept[-1]]:
                    kept[-1] = p  # the same syllable: keep its higher peak
                continue
        kept.append(p)
    lo, hi = 0, len(voiced)
    return sum(1 for p in kept if voiced[max(lo, p - 2) : min(hi, p + 3)].any())


def prosody(samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Prosody | None:
    """Voice features of one utterance's int16 (or float) audio; None when there is no speech."""
    if samples.dtype == np.int16:
        x = samples.astype(np.float64) / 32768.0
    else:
        x = np.asarray(samples, dtype=np.float64)
    x = x[: int(MAX_ANALYSIS_S * sample_rate_hz)]
    x = x - float(np.mean(x)) if len(x) else x
    levels = frame_levels_db(x, sample_rate_hz)
    if len(levels) == 0:
        return None
    floor = float(np.percentile(levels, 10))
    peak = float(np.percentile(levels, 95))
    # Well above the segment's noise floor (a steady sound has no floor: then near its peak).
    threshold = max(min(floor + 6.0, peak - 6.0), peak - 30.0, -60.0)
    active = levels > threshold
    if active.sum() * HOP_S < MIN_ACTIVE_S:
        return None
    f0 = pitch_track(x, sample_rate_hz, only=active)[: len(levels)]
    voiced = (f0 > 0) & active[: len(f0)]
    first, last = int(np.argmax(active)), len(active) - 1 - int(np.argmax(active[::-1]))
    span = active[first : last + 1]
    speaking_s = len(span) * HOP_S
    pause_runs = [(a, b) for a, b in _runs(~span) if (b - a) * HOP_S >= MIN_PAUSE_S]
    pause_frames = sum(b - a for a, b in pause_runs)
    voiced_f0 = f0[voiced]
    if len(voiced_f0):
        semitones = 12.0 * np.log2(voiced_f0 / 100.0)
        pitch_st = float(np.median(semitones))
        pitch_hz = float(100.0 * 2 ** (pitch_st / 12.0))
        pitch_range = float(np.percentile(semitones, 90) - np.percentile(semitones, 10))
    else:
        pitch_st = pitch_hz = pitch_range = 0.0
    active_levels = levels[active]
    nuclei = syllable_nuclei(levels, np.pad(voiced, (0, len(levels) - len(voiced))), threshold)
    return Prosody(
        duration_s=round(len(x) / sample_rate_hz, 3),
        speaking_s=round(speaking_s, 3),
        voiced_share=round(float(voiced.sum()) / float(active.sum()), 3),
        pitch_st=round(pitch_st, 3),
        pitch_hz=round(pitch_hz, 1),
        pitch_range_st=round(pitch_range, 3),
        level_db=round(float(np.mean(active_levels)), 2),
        level_range_db=round(
            float(np.percentile(active_levels, 90) - np.percentile(active_levels, 10)), 2
        ),
        rate_syl_s=round(nuclei / speaking_s, 3) if speaking_s > 0 else 0.0,
        pause_share=round(float(pause_frames) / len(span), 3),
        pauses=len(pause_runs),
    )


# -- arousal ---------------------------------------------------------------------------------

FEATURES = ("pitch_st", "pitch_range_st", "level_db", "rate_syl_s", "pause_share")
WEIGHTS = {
    "pitch_st": 0.35,
    "pitch_range_st": 0.15,
    "level_db": 0.35,
    "rate_syl_s": 0.15,
    "pause_share": -0.15,
}
"""Direction and rough weight of each cue (raised pitch and loudness carry most)."""

POPULATION_BASELINE: dict[str, tuple[float, float]] = {
    "pitch_st": (10.8, 4.6),
    "pitch_range_st": (8.9, 3.3),
    "level_db": (-28.1, 6.5),
    "rate_syl_s": (3.3, 0.9),
    "pause_share": (0.09, 0.11),
}
"""(mean, standard deviation) of each feature over ordinary human speech: the 81 Korean dev
clips (41 adult speakers, TEDx talks; median F0 130–265 Hz), rounded. Recomputed by
`device.perception.emotion_bench.prosody_spread`. Older voices and the robot's own
microphone differ, which is why `ArousalScorer` adapts to the senior."""


@dataclass
class ArousalScorer:
    """Prosody → arousal in [-1, 1], against a baseline that adapts to this senior's voice.

    Each ordinary utterance (not a call for help) moves the baseline toward this speaker and
    microphone (an exponential moving mean and variance, about the last `memory` utterances);
    until `warmup` utterances were heard the population baseline is blended in.
    """

    memory: int = 100
    warmup: int = 20
    _mean: dict[str, float] = field(default_factory=dict)
    _var: dict[str, float] = field(default_factory=dict)
    _seen: int = 0

    def baseline(self) -> dict[str, tuple[float, float]]:
        """The (mean, sd) each feature is compared with now."""
        out: dict[str, tuple[float, float]] = {}
        share = min(1.0, self._seen / self.warmup) if self.warmup > 0 else 1.0
        for name in FEATURES:
            pop_mean, pop_sd = POPULATION_BASELINE[name]
            if self._seen == 0:
                out[name] = (pop_mean, pop_sd)
                continue
            mean = share * self._mean[name] + (1 - share) * pop_mean
            # The spread never shrinks below half the population's: a very steady voice
            # must not turn every small change into an extreme score.
            sd = share * math.sqrt(self._var[name]) + (1 - share) * pop_sd
            out[name] = (mean, max(sd, 0.5 * pop_sd))
        return out

    def score(self, features: Prosody) -> float:
        """Arousal in [-1, 1] for one utterance (0 when nothing was voiced)."""
        if features.voiced_share == 0.0:
            return 0.0
        base = self.baseline()
        total = 0.0
        for name in FEATURES:
            mean, sd = base[name]
            z = (float(getattr(features, name)) - mean) / sd
            total += WEIGHTS[name] * max(-3.0, min(3.0, z))
        return round(math.tanh(total), 4)

    def update(self, features: Prosody) -> None:
        """Learn this senior's ordinary voice (skip calls for help and unvoiced segments)."""
        if features.voiced_share == 0.0:
            return
        alpha = max(1.0 / (self._seen + 1), 1.0 / self.memory)
        for name in FEATURES:
            value = float(getattr(features, name))
            if self._seen == 0:
                self._mean[name], self._var[name] = value, POPULATION_BASELINE[name][1] ** 2
                continue
            delta = value - self._mean[name]
            self._mean[name] += alpha * delta
            self._var[name] = (1 - alpha) * (self._var[name] + alpha * delta * delta)
        self._seen += 1

    def state(self) -> dict[str, object]:
        """What the scorer learnt of this senior's voice, as JSON-ready data (kept on the robot)."""
        return {
            "format": 1,
            "seen": self._seen,
            "mean": dict(self._mean),
            "var": dict(self._var),
        }

    @classmethod
    def from_state(cls, raw: object) -> "ArousalScorer":
        """A scorer resumed from `state()`; anything malformed gives a fresh one."""
        scorer = cls()
        if not isinstance(raw, dict) or raw.get("format") != 1:
            return scorer
        seen, mean, var = raw.get("seen"), raw.get("mean"), raw.get("var")
        if not isinstance(seen, int) or seen < 0 or not isinstance(mean, dict):
            return scorer
        if not isinstance(var, dict) or seen == 0:
            return scorer
        try:
            m = {name: float(mean[name]) for name in FEATURES}
            v = {name: float(var[name]) for name in FEATURES}
        except (KeyError, TypeError, ValueError):
            return scorer
        if not all(math.isfinite(x) for x in (*m.values(), *v.values())):
            return scorer
        if any(x < 0 for x in v.values()):
            return scorer
        scorer._mean, scorer._var, scorer._seen = m, v, seen
        return scorer
