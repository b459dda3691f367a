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
FEATURE_NAMES: tuple[str, ...] = (
    *_SCALAR_NAMES,
    *(f"mel{i:02d}_mean" for i in range(N_MELS)),
    *(f"mel{i:02d}_std" for i in range(N_MELS)),
    *(f"mel{i:02d}_p90" for i in range(N_MELS)),
)
DIM = len(FEATURE_NAMES)

SPEC: dict[str, Any] = {
    "name": "dolbom-sound-frames-mel-voicing",
    "version": 1,
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


def _mel_filterbank() -> np.ndarray:
    """Triangular mel filters, shape (N_MELS, NFFT // 2 + 1), each summing to one."""
    freqs = np.fft.rfftfreq(NFFT, 1.0 / SAMPLE_RATE_HZ)
    edges_mel = np.linspace(_mel(FMIN_HZ), _mel(FMAX_HZ), N_MELS + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    bank = np.zeros((N_MELS, freqs.size))
    for i in range(N_MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / max(mid - lo, EPS)
        down = (hi - freqs) / max(hi - mid, EPS)
        bank[i] = np.clip(np.minimum(up, down), 0.0, None)
        total = bank[i].sum()
        if total > 0:
            bank[i] /= total
    return bank


_BANK = _mel_filterbank().astype(np.float32)
_WINDOW = np.hanning(FRAME).astype(np.float32)
_WINDOW_AC = np.correlate(_WINDOW, _WINDOW, "full")[FRAME - 1 : FRAME + MAX_LAG]
_WINDOW_AC = (_WINDOW_AC / _WINDOW_AC[0]).astype(np.float32)
_FREQS = np.fft.rfftfreq(NFFT, 1.0 / SAMPLE_RATE_HZ).astype(np.float32)
_LOW = _FREQS < 500.0
_HIGH = _FREQS >= 4000.0


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

    windowed = (act_frames - act_frames.mean(axis=1, keepdims=True)) * _WINDOW
    spectrum = np.fft.rfft(windowed, n=NFFT, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
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
        ]
    )
    return out.astype(np.float32)


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
