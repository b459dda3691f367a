"""Cheap acoustic features of one sound segment, for the wordless-distress classifier.

The robot computes them from 16 kHz mono float32 PCM with numpy alone (no torch, no librosa:
it runs on a Raspberry Pi) and `models/sound/` imports this module to train, so the trainer
and the robot share one featurizer. `SPEC` is recorded in the model's sidecar; a model
trained with another spec is refused at load time.

Frames of 25 ms every 20 ms; only "active" frames (within 35 dB of the loudest one) feed the
spectral statistics, so the silence around a sound does not count. Level features are in
dBFS; spectral-shape features are relative to each frame's own level, so the microphone's
gain moves few of them. The segment's length is deliberately not a feature (the robot's
segments are cut by the gate, not by whoever recorded the training clips).
"""

import itertools
from typing import Any

import numpy as np

SAMPLE_RATE_HZ = 16000
FRAME = 400  # 25 ms
HOP = 320  # 20 ms
NFFT = 1024  # twice the frame, so the autocorrelation does not wrap
N_MELS = 24
FMIN_HZ = 60.0
FMAX_HZ = 7800.0
ACTIVE_DB = 35.0  # a frame within this many dB of the loudest one is part of the sound
MIN_LAG = 16  # 1000 Hz: the highest pitch searched (a scream)
MAX_LAG = 200  # 80 Hz: the lowest pitch searched (a moan)
VOICED = 0.5  # normalised autocorrelation above this: a voiced (periodic) frame
EPS = 1e-10
MIN_SAMPLES = FRAME + HOP  # at least two frames

_SCALAR_NAMES: tuple[str, ...] = (
    "rms_dbfs_p10",
    "rms_dbfs_p50",
    "rms_dbfs_p90",
    "rms_dbfs_max",
    "peak_dbfs",
    "crest_db",
    "clip_ratio",
    "active_ratio",
    "active_runs_per_s",
    "energy_delta_std_db",
    "env_mod_1_4hz",
    "env_mod_4_16hz",
    "centroid_mean_hz",
    "centroid_std_hz",
    "rolloff85_mean_hz",
    "flatness_mean",
    "flatness_std",
    "zcr_mean",
    "zcr_std",
    "low_ratio_mean",
    "high_ratio_mean",
    "voicing_mean",
    "voicing_std",
    "voiced_ratio",
    "f0_median_log2",
    "f0_iqr_semitones",
    "f0_slope_std",
    "voiced_rms_dbfs",
    "spectral_flux_mean",
)
N_GROUPS = 8  # mel bands pooled in threes for the voiced/unvoiced spectra
N_CEPS = 12  # cepstral coefficients 1-12 of the relative log-mel frame
OCTAVES_HZ = (60.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
MOD_BANDS_HZ = ((0.0, 500.0), (500.0, 2000.0), (2000.0, 4000.0), (4000.0, 8001.0))
MOD_RATES_HZ = ((0.5, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0))
BREATH_LAG_S = (0.2, 1.5)  # the loudness envelope's rhythm searched here (breaths, sobs)
_DETAIL_NAMES: tuple[str, ...] = (
    *(f"mel{i:02d}_delta_std" for i in range(N_MELS)),
    *(f"mel{i:02d}_p10" for i in range(N_MELS)),
    *(f"cep{i:02d}_std" for i in range(1, N_CEPS + 1)),
    *(f"voiced_band{i}" for i in range(N_GROUPS)),
    *(f"unvoiced_band{i}" for i in range(N_GROUPS)),
    "hnr_mean_db",
    "hnr_p90_db",
    "cpp_mean",
    "cpp_p90",
    "f0_trend_semitones_per_s",
    "f0_p10_log2",
    "f0_p90_log2",
    "f0_range_semitones",
    "voiced_run_max_s",
    "voiced_run_mean_s",
    "voiced_runs_per_s",
    "breath_rhythm_strength",
    "breath_rhythm_period_s",
    *(
        f"mod_{int(lo)}_{int(hi)}hz_at_{a:g}_{b:g}hz"
        for lo, hi in MOD_BANDS_HZ
        for a, b in MOD_RATES_HZ
    ),
    "spectral_slope_mean",
    "spectral_slope_std",
    *(f"contrast_{int(a)}_{int(b)}hz" for a, b in itertools.pairwise(OCTAVES_HZ)),
    "active_level_skew",
    "active_level_kurtosis",
)
FEATURE_NAMES: tuple[str, ...] = (
    *_SCALAR_NAMES,
    *(f"mel{i:02d}_mean" for i in range(N_MELS)),
    *(f"mel{i:02d}_std" for i in range(N_MELS)),
    *(f"mel{i:02d}_p90" for i in range(N_MELS)),
    *_DETAIL_NAMES,
)
DIM = len(FEATURE_NAMES)

SPEC: dict[str, Any] = {
    "name": "dolbom-sound-frames-mel-voicing-rhythm",
    "version": 2,
    "dim": DIM,
    "sample_rate_hz": SAMPLE_RATE_HZ,
    "frame": FRAME,
    "hop": HOP,
    "nfft": NFFT,
    "n_mels": N_MELS,
    "active_db": ACTIVE_DB,
    "pitch_range_hz": [SAMPLE_RATE_HZ // MAX_LAG, SAMPLE_RATE_HZ // MIN_LAG],
}


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0))


def mel_filterbank(n_mels: int = N_MELS, nfft: int = NFFT) -> np.ndarray:
    """Triangular mel filters from FMIN_HZ to FMAX_HZ, shape (n_mels, nfft // 2 + 1), each
    summing to one (this module's 24 over 1,024 points by default)."""
    freqs = np.fft.rfftfreq(nfft, 1.0 / SAMPLE_RATE_HZ)
    edges_mel = np.linspace(_mel(FMIN_HZ), _mel(FMAX_HZ), n_mels + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    bank = np.zeros((n_mels, freqs.size))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / max(mid - lo, EPS)
        down = (hi - freqs) / max(hi - mid, EPS)
        bank[i] = np.clip(np.minimum(up, down), 0.0, None)
        total = bank[i].sum()
        if total > 0:
            bank[i] /= total
    return bank


_BANK = mel_filterbank().astype(np.float32)
_WINDOW = np.hanning(FRAME).astype(np.float32)
_WINDOW_AC = np.correlate(_WINDOW, _WINDOW, "full")[FRAME - 1 : FRAME + MAX_LAG]
_WINDOW_AC = (_WINDOW_AC / _WINDOW_AC[0]).astype(np.float32)
_FREQS = np.fft.rfftfreq(NFFT, 1.0 / SAMPLE_RATE_HZ).astype(np.float32)
_LOW = _FREQS < 500.0
_HIGH = _FREQS >= 4000.0
_DCT = np.cos(
    np.pi * np.arange(1, N_CEPS + 1)[:, None] * (2 * np.arange(N_MELS)[None, :] + 1) / (2 * N_MELS)
).astype(np.float32)
# the cepstral peak's baseline: a straight line fitted over the pitch quefrencies
_QUEF = np.arange(MIN_LAG, MAX_LAG + 1, dtype=np.float64)
_QUEF_FIT = np.linalg.pinv(np.stack([_QUEF, np.ones_like(_QUEF)], axis=1))  # (2, lags)
_MEL_IDX = np.arange(N_MELS, dtype=np.float64) - (N_MELS - 1) / 2.0


def _band(lo_hz: float, hi_hz: float) -> np.ndarray:
    freqs = _FREQS
    mask: np.ndarray = (freqs >= lo_hz) & (freqs < hi_hz)
    return mask


_OCTAVE_MASKS = [_band(a, b) for a, b in itertools.pairwise(OCTAVES_HZ)]
_MOD_MASKS = [_band(lo, hi) for lo, hi in MOD_BANDS_HZ]


def _frames(x: np.ndarray) -> np.ndarray:
    n = 1 + (x.size - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    frames: np.ndarray = x[idx]
    return frames


def _db(power: np.ndarray) -> np.ndarray:
    return np.asarray(10.0 * np.log10(power + EPS))


def _envelope_modulation(energy_db: np.ndarray) -> tuple[float, float]:
    """Share of the loudness envelope's variation at 1-4 Hz (breaths, sobs) and 4-16 Hz."""
    env = energy_db - energy_db.mean()
    if env.size < 8 or float(np.abs(env).max()) < EPS:
        return 0.0, 0.0
    spec = np.abs(np.fft.rfft(env * np.hanning(env.size))) ** 2
    freqs = np.fft.rfftfreq(env.size, HOP / SAMPLE_RATE_HZ)
    total = float(spec[freqs >= 0.5].sum()) + EPS
    return (
        float(spec[(freqs >= 1.0) & (freqs < 4.0)].sum()) / total,
        float(spec[(freqs >= 4.0) & (freqs < 16.0)].sum()) / total,
    )


def check_pcm(pcm: Any, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The segment as 1-D float32 in [-1, 1]; ValueError names what is wrong with it."""
    if sample_rate_hz != SAMPLE_RATE_HZ:
        raise ValueError(f"sound features need {SAMPLE_RATE_HZ} Hz audio, got {sample_rate_hz} Hz")
    if not isinstance(pcm, np.ndarray):
        raise ValueError(f"audio must be a numpy array, got {type(pcm).__name__}")
    if pcm.ndim != 1:
        raise ValueError(f"audio must be mono (one dimension), got shape {list(pcm.shape)}")
    if pcm.dtype == np.int16:
        x = pcm.astype(np.float32) / np.float32(32768.0)
    elif pcm.dtype in (np.float32, np.float64):
        x = pcm.astype(np.float32)
    else:
        raise ValueError(f"audio must be float32 in [-1, 1] (or int16), got {pcm.dtype}")
    if x.size < MIN_SAMPLES:
        raise ValueError(
            f"audio is too short: {x.size} samples, at least {MIN_SAMPLES}"
            f" ({MIN_SAMPLES / SAMPLE_RATE_HZ * 1000:.0f} ms)"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("audio holds NaN or infinite samples")
    if float(np.abs(x).max()) > 4.0:
        raise ValueError("audio is not scaled to [-1, 1] (float samples far above 1)")
    return x


def featurize(pcm: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The DIM features of one segment, float32; ValueError on unusable input."""
    x = check_pcm(pcm, sample_rate_hz)
    x = x - x.mean()
    peak = float(np.abs(x).max())
    total_rms = float(np.sqrt(np.mean(x * x)))
    clip_ratio = float(np.mean(np.abs(x) >= 0.99))

    frames = _frames(x)
    frame_power = np.mean(frames * frames, axis=1)
    energy_db = _db(frame_power)
    active = energy_db >= float(energy_db.max()) - ACTIVE_DB
    act_frames = frames[active]

    windowed = (frames - frames.mean(axis=1, keepdims=True)) * _WINDOW
    spectrum = np.fft.rfft(windowed, n=NFFT, axis=1)
    power_all = spectrum.real**2 + spectrum.imag**2
    power = power_all[active]
    band_total = power.sum(axis=1) + EPS
    # spectral shape, independent of the frame's level
    mel_power = power @ _BANK.T
    mel = _db(mel_power) - _db(band_total)[:, None]
    centroid = (power @ _FREQS) / band_total
    cumulative = np.cumsum(power, axis=1)
    rolloff = _FREQS[np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)]
    # Wiener entropy over the mel bands (a noise-like sound is flat, a voiced one is peaked)
    flatness = np.exp(np.log(mel_power + EPS).mean(axis=1)) / (mel_power.mean(axis=1) + EPS)
    low_ratio = power[:, _LOW].sum(axis=1) / band_total
    high_ratio = power[:, _HIGH].sum(axis=1) / band_total
    signs = np.signbit(act_frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    normed = power / band_total[:, None]
    flux = (
        np.sqrt(np.sum(np.diff(normed, axis=0) ** 2, axis=1))
        if normed.shape[0] > 1
        else np.zeros(1)
    )

    # periodicity: the windowed frame's autocorrelation divided by the window's own (Boersma),
    # its peak within the pitch range per frame
    ac = np.fft.irfft(power, n=NFFT, axis=1)[:, : MAX_LAG + 1]
    norm = ac / (ac[:, :1] + EPS) / _WINDOW_AC[None, :]
    lags = norm[:, MIN_LAG : MAX_LAG + 1]
    best = np.argmax(lags, axis=1)
    voicing = np.clip(lags[np.arange(lags.shape[0]), best], 0.0, 1.0)
    voiced = voicing >= VOICED
    f0 = SAMPLE_RATE_HZ / (best + MIN_LAG)
    if int(voiced.sum()) >= 2:
        log_f0 = np.log2(f0[voiced])
        f0_median = float(np.median(log_f0))
        q75, q25 = np.percentile(log_f0, [75, 25])
        f0_iqr = float(12.0 * (q75 - q25))
        f0_slope_std = float(np.std(np.diff(log_f0)) * 12.0)
        voiced_rms = float(np.median(energy_db[active][voiced]))
    else:
        f0_median, f0_iqr, f0_slope_std = 0.0, 0.0, 0.0
        voiced_rms = -100.0

    runs = int(np.sum(np.diff(active.astype(np.int8)) == 1)) + int(active[0])
    duration_s = x.size / SAMPLE_RATE_HZ
    mod_slow, mod_fast = _envelope_modulation(np.maximum(energy_db, energy_db.max() - 60.0))
    p10, p50, p90 = np.percentile(energy_db, [10, 50, 90])
    scalars = [
        p10,
        p50,
        p90,
        float(energy_db.max()),
        float(20.0 * np.log10(peak + EPS)),
        float(20.0 * np.log10((peak + EPS) / (total_rms + EPS))),
        clip_ratio,
        float(active.mean()),
        runs / duration_s,
        float(np.std(np.diff(energy_db))) if energy_db.size > 1 else 0.0,
        mod_slow,
        mod_fast,
        float(centroid.mean()),
        float(centroid.std()),
        float(rolloff.mean()),
        float(flatness.mean()),
        float(flatness.std()),
        float(zcr.mean()),
        float(zcr.std()),
        float(low_ratio.mean()),
        float(high_ratio.mean()),
        float(voicing.mean()),
        float(voicing.std()),
        float(voiced.mean()),
        f0_median,
        f0_iqr,
        f0_slope_std,
        voiced_rms,
        float(flux.mean()),
    ]
    out = np.concatenate(
        [
            np.asarray(scalars, dtype=np.float64),
            mel.mean(axis=0),
            mel.std(axis=0),
            np.percentile(mel, 90, axis=0),
            _details(x.size, energy_db, active, power_all, power, mel, best, voicing),
        ]
    )
    return out.astype(np.float32)


def _band_modulation(power_all: np.ndarray) -> list[float]:
    """Per frequency band, the share of its loudness envelope's variation at each rate."""
    out: list[float] = []
    rates = np.fft.rfftfreq(power_all.shape[0], HOP / SAMPLE_RATE_HZ)
    window = np.hanning(power_all.shape[0])
    for mask in _MOD_MASKS:
        env = _db(power_all[:, mask].sum(axis=1))
        env = np.maximum(env, env.max() - 60.0)
        env = env - env.mean()
        if env.size < 8 or float(np.abs(env).max()) < 1e-6:
            out.extend([0.0] * len(MOD_RATES_HZ))
            continue
        spec = np.abs(np.fft.rfft(env * window)) ** 2
        total = float(spec[rates >= 0.5].sum()) + EPS
        out.extend(float(spec[(rates >= a) & (rates < b)].sum()) / total for a, b in MOD_RATES_HZ)
    return out


def _breath_rhythm(energy_db: np.ndarray) -> tuple[float, float]:
    """How periodic the loudness envelope is at 0.2-1.5 s (panting, sobbing) and its period."""
    env = np.maximum(energy_db, energy_db.max() - 60.0)
    env = env - env.mean()
    m = env.size
    lo = int(BREATH_LAG_S[0] * SAMPLE_RATE_HZ / HOP)
    hi = min(int(BREATH_LAG_S[1] * SAMPLE_RATE_HZ / HOP), m // 2 + 1)
    if m <= 2 * lo or hi <= lo or float(np.abs(env).max()) < 1e-6:
        return 0.0, 0.0
    ac = np.fft.irfft(np.abs(np.fft.rfft(env, 2 * m)) ** 2)[:m]
    ac = ac / (ac[0] + EPS)
    k = lo + int(np.argmax(ac[lo:hi]))
    return float(ac[k]), k * HOP / SAMPLE_RATE_HZ


def _details(
    n_samples: int,
    energy_db: np.ndarray,
    active: np.ndarray,
    power_all: np.ndarray,
    power: np.ndarray,
    mel: np.ndarray,
    best: np.ndarray,
    voicing: np.ndarray,
) -> np.ndarray:
    """Spec v2's additions: how the spectrum moves, breathiness, pitch contour, rhythm."""
    n = mel.shape[0]
    delta = np.diff(mel, axis=0) if n > 1 else np.zeros((1, N_MELS))
    ceps = mel @ _DCT.T
    voiced = voicing >= VOICED
    groups = mel.reshape(n, N_GROUPS, -1).mean(axis=2)
    overall = groups.mean(axis=0)
    voiced_bands = groups[voiced].mean(axis=0) - overall if voiced.any() else np.zeros(N_GROUPS)
    unvoiced_bands = (
        groups[~voiced].mean(axis=0) - overall if (~voiced).any() else np.zeros(N_GROUPS)
    )
    # harmonics-to-noise ratio from the periodicity (Boersma) and the cepstral peak prominence
    r = np.clip(voicing, 1e-4, 1.0 - 1e-4)
    hnr = 10.0 * np.log10(r / (1.0 - r))
    cepstrum = np.fft.irfft(np.log(power + EPS), axis=1)[:, MIN_LAG : MAX_LAG + 1]
    baseline = (cepstrum @ _QUEF_FIT.T) @ np.stack([_QUEF, np.ones_like(_QUEF)])
    peak = np.argmax(cepstrum, axis=1)
    rows = np.arange(n)
    cpp = cepstrum[rows, peak] - baseline[rows, peak]
    # the pitch contour over voiced frames: its trend and range
    if int(voiced.sum()) >= 3:
        times = np.flatnonzero(active)[voiced] * HOP / SAMPLE_RATE_HZ
        semis = 12.0 * np.log2(SAMPLE_RATE_HZ / (best[voiced] + MIN_LAG))
        trend = float(np.polyfit(times, semis, 1)[0]) if np.ptp(times) > 0 else 0.0
        p10, p90 = np.percentile(semis, [10, 90])
        contour = [float(np.clip(trend, -60.0, 60.0)), p10 / 12.0, p90 / 12.0, p90 - p10]
    else:
        contour = [0.0, 0.0, 0.0, 0.0]
    # voiced runs over the whole segment (a moan is long and voiced, panting short bursts)
    voiced_all = np.zeros(energy_db.size, dtype=np.int8)
    voiced_all[np.flatnonzero(active)[voiced]] = 1
    edges = np.diff(np.concatenate([[0], voiced_all, [0]]))
    runs = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) * HOP / SAMPLE_RATE_HZ
    run_stats = [
        float(min(runs.max(), 3.0)) if runs.size else 0.0,
        float(runs.mean()) if runs.size else 0.0,
        runs.size / (n_samples / SAMPLE_RATE_HZ),
    ]
    slope = mel @ _MEL_IDX / float(_MEL_IDX @ _MEL_IDX)
    contrast = []
    for mask in _OCTAVE_MASKS:
        peaks, valleys = np.percentile(_db(power[:, mask]), [95, 10], axis=1)
        contrast.append(float((peaks - valleys).mean()))
    level = energy_db[active]
    z = (level - level.mean()) / (level.std() + 1e-6)
    return np.concatenate(
        [
            delta.std(axis=0),
            np.percentile(mel, 10, axis=0),
            ceps.std(axis=0),
            voiced_bands,
            unvoiced_bands,
            [float(hnr.mean()), float(np.percentile(hnr, 90))],
            [float(cpp.mean()), float(np.percentile(cpp, 90))],
            contour,
            run_stats,
            _breath_rhythm(energy_db),
            _band_modulation(power_all),
            [float(slope.mean()), float(slope.std())],
            contrast,
            [float(np.mean(z**3)), float(np.mean(z**4))],
        ]
    ).astype(np.float64)


def self_test_signal() -> np.ndarray:
    """A fixed 1.5 s test sound (a loud harmonic sweep over faint hiss), the same on any CPU.

    Its features are committed in the sound model's sidecar: the robot recomputes them after
    loading, so a featurizer that drifted from the trained one is caught, not just the graph.
    """
    n = 24000
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE_HZ
    f0 = 450.0 + 300.0 * t  # Hz, rising like a cry
    phase = 2.0 * np.pi * np.cumsum(f0) / SAMPLE_RATE_HZ
    tone = sum(np.sin(k * phase) / k for k in (1, 2, 3, 4))
    envelope = np.minimum(1.0, np.minimum(t / 0.1, (t[-1] - t) / 0.1))
    # a linear congruential generator: the same integers on every platform
    state = (np.arange(n, dtype=np.uint64) * np.uint64(6364136223846793005)) + np.uint64(
        1442695040888963407
    )
    hiss = ((state >> np.uint64(33)).astype(np.float64) / 2.0**31) - 1.0
    out: np.ndarray = (0.3 * envelope * tone + 0.003 * hiss).astype(np.float32)
    return out
