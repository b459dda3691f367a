"""Time-course features of one sound segment, tried against sound 2.0.0 (not shipped).

How level, pitch, voicing and brightness move over 0.1-1 s, and the shape of the main sound
event (its thirds, where the level and the pitch peak, attack and decay, voicing at its onset
and offset). A moan is voiced and sustained with a slowly moving pitch; a sigh rises fast
and decays into breath; a yawn's voicing and brightness swing in its middle. The robot's
summary features (`device.audio.sound_features`, spec v2) pool these away.

`models/sound/variants.py` appends these 45 to spec v2's 216 and scores the result by speaker
against 2.0.0 (docs/sound.md: +0.03 recall on the shipped folds, within the spread, and not
clearly better on a fresh repetition, so the robot does not compute them). Numpy only; the
frames, window and pitch search are spec v2's (25 ms every 20 ms, 80-1000 Hz).
"""

import numpy as np

from device.audio.sound_features import (
    ACTIVE_DB,
    EPS,
    FRAME,
    HOP,
    MAX_LAG,
    MIN_LAG,
    NFFT,
    SAMPLE_RATE_HZ,
    VOICED,
    check_pcm,
)

_WINDOW = np.hanning(FRAME).astype(np.float32)
_WINDOW_AC = np.correlate(_WINDOW, _WINDOW, "full")[FRAME - 1 : FRAME + MAX_LAG]
_WINDOW_AC = (_WINDOW_AC / _WINDOW_AC[0]).astype(np.float32)
_FREQS = np.fft.rfftfreq(NFFT, 1.0 / SAMPLE_RATE_HZ).astype(np.float32)

TRAJ_LAGS = (5, 12, 25, 50)  # frames: 0.1, 0.24, 0.5 and 1 s
_TRAJ_SMOOTH = 5  # frames (0.1 s) of moving average before the contour statistics
TRAJECTORY_NAMES: tuple[str, ...] = (
    *(
        f"{series}_change_{lag * HOP * 1000 // SAMPLE_RATE_HZ}ms"
        for lag in TRAJ_LAGS
        for series in ("level", "pitch", "pitch_sd", "centroid", "voicing")
    ),
    *(
        f"{series}_third{k}"
        for series in ("level", "voicing", "centroid", "pitch")
        for k in (1, 2, 3)
    ),
    "level_peak_position",
    "pitch_peak_position",
    "attack_db_per_s",
    "decay_db_per_s",
    "corr_level_voicing",
    "corr_level_centroid",
    "corr_level_pitch",
    "voiced_onset_share",
    "voiced_offset_share",
    "pitch_curvature",
    "pitch_jitter_semitones",
    "sustained_voiced_share",
    "main_event_share",
)


def _smooth(series: np.ndarray) -> np.ndarray:
    """A moving average over _TRAJ_SMOOTH frames; the ends repeat the edge value, not zero."""
    half = _TRAJ_SMOOTH // 2
    padded = np.pad(series, (half, _TRAJ_SMOOTH - 1 - half), mode="edge")
    out: np.ndarray = np.convolve(padded, np.ones(_TRAJ_SMOOTH) / _TRAJ_SMOOTH, mode="valid")
    return out


def _fold_octave(semitones: np.ndarray) -> np.ndarray:
    """A pitch change folded into -6..+6 semitones: the tracker's octave slips cancel out."""
    out: np.ndarray = np.mod(semitones + 6.0, 12.0) - 6.0
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or float(a.std()) < 1e-6 or float(b.std()) < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def trajectory_features(pcm: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The len(TRAJECTORY_NAMES) time-course features of one segment, float32."""
    x = check_pcm(pcm, sample_rate_hz)
    x = x - x.mean()
    n_frames = 1 + (x.size - FRAME) // HOP
    frames = x[np.arange(FRAME)[None, :] + HOP * np.arange(n_frames)[:, None]]
    energy_db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + EPS)
    n = energy_db.size
    active = energy_db >= float(energy_db.max()) - ACTIVE_DB
    windowed = (frames - frames.mean(axis=1, keepdims=True)) * _WINDOW
    spectrum = np.fft.rfft(windowed, n=NFFT, axis=1)
    power_all = spectrum.real**2 + spectrum.imag**2
    centroid = np.log2((power_all @ _FREQS) / (power_all.sum(axis=1) + EPS) + 1.0)
    # periodicity as spec v2 computes it (Boersma): only active frames count
    ac = np.fft.irfft(power_all, n=NFFT, axis=1)[:, : MAX_LAG + 1]
    norm = ac / (ac[:, :1] + EPS) / _WINDOW_AC[None, :]
    lags = norm[:, MIN_LAG : MAX_LAG + 1]
    best = np.argmax(lags, axis=1)
    voicing = np.clip(lags[np.arange(n), best], 0.0, 1.0) * active
    voiced = (voicing >= VOICED) & active
    semis = 12.0 * np.log2(SAMPLE_RATE_HZ / (best + MIN_LAG))
    level = _smooth(energy_db)
    bright = _smooth(centroid)
    voice_s = _smooth(voicing)

    changes: list[float] = []
    for lag in TRAJ_LAGS:
        if n > lag:
            both = active[lag:] & active[:-lag]
            vboth = voiced[lag:] & voiced[:-lag]
            d_level = np.abs(level[lag:] - level[:-lag])[both]
            d_pitch = _fold_octave(semis[lag:] - semis[:-lag])[vboth]
            d_bright = np.abs(bright[lag:] - bright[:-lag])[both]
            d_voice = np.abs(voice_s[lag:] - voice_s[:-lag])[both]
        else:
            d_level = d_pitch = d_bright = d_voice = np.zeros(0)
        changes += [
            float(d_level.mean()) if d_level.size else 0.0,
            float(np.median(np.abs(d_pitch))) if d_pitch.size else 0.0,
            float(d_pitch.std()) if d_pitch.size > 1 else 0.0,
            float(d_bright.mean()) if d_bright.size else 0.0,
            float(d_voice.mean()) if d_voice.size else 0.0,
        ]

    # the main event: the longest active run after bridging gaps of up to 0.1 s
    bridged = active.copy()
    gaps = np.diff(np.concatenate([[1], active.astype(np.int8), [1]]))
    for s, e in zip(np.flatnonzero(gaps == -1), np.flatnonzero(gaps == 1), strict=True):
        if s > 0 and e < n and e - s <= _TRAJ_SMOOTH:
            bridged[s:e] = True
    edges = np.diff(np.concatenate([[0], bridged.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    k = int(np.argmax(ends - starts))
    s0, e0 = int(starts[k]), int(ends[k])
    m = e0 - s0
    seg = slice(s0, e0)
    thirds = np.array_split(np.arange(s0, e0), 3) if m >= 3 else [np.arange(s0, e0)] * 3
    ev_level = level[seg]
    ev_voiced = voiced[seg]
    pitch_ev = semis[seg][ev_voiced]
    shape: list[float] = []
    for series, ref in (
        (level, float(ev_level.mean())),
        (voice_s, float(voice_s[seg].mean())),
        (bright, float(bright[seg].mean())),
    ):
        shape += [float(series[t].mean()) - ref for t in thirds]
    pitch_ref = float(pitch_ev.mean()) if pitch_ev.size else 0.0
    for t in thirds:
        v = voiced[t]
        shape.append(float(semis[t][v].mean()) - pitch_ref if v.any() else 0.0)
    peak = int(np.argmax(ev_level))
    level_peak_pos = peak / max(m - 1, 1)
    if pitch_ev.size:
        pitch_peak_pos = float(np.flatnonzero(ev_voiced)[int(np.argmax(pitch_ev))]) / max(m - 1, 1)
    else:
        pitch_peak_pos = 0.0
    frame_s = HOP / SAMPLE_RATE_HZ
    attack = float(ev_level[peak] - ev_level[0]) / max(peak * frame_s, frame_s)
    decay = float(ev_level[peak] - ev_level[-1]) / max((m - 1 - peak) * frame_s, frame_s)
    edge = min(15, max(m // 3, 1))  # 0.3 s or a third of the event
    onset = float(ev_voiced[:edge].mean())
    offset = float(ev_voiced[-edge:].mean())
    act = active
    corr_lv = _corr(energy_db[act], voicing[act])
    corr_lc = _corr(energy_db[act], centroid[act])
    corr_lp = _corr(energy_db[voiced], semis[voiced]) if voiced.sum() >= 3 else 0.0
    if pitch_ev.size >= 5:
        tt = np.flatnonzero(ev_voiced) * frame_s
        curvature = float(np.polyfit(tt, pitch_ev, 2)[0]) if np.ptp(tt) > 0 else 0.0
        curvature = float(np.clip(curvature, -200.0, 200.0))
    else:
        curvature = 0.0
    consecutive = voiced[1:] & voiced[:-1]
    jumps = np.abs(_fold_octave(np.diff(semis)))[consecutive]
    jitter = float(np.median(jumps)) if jumps.size else 0.0
    steady = voiced[_TRAJ_SMOOTH:] & (np.abs(level[_TRAJ_SMOOTH:] - level[:-_TRAJ_SMOOTH]) < 1.5)
    sustained = float(steady.sum()) / max(int(active.sum()), 1)
    out = np.asarray(
        [
            *changes,
            *shape,
            level_peak_pos,
            pitch_peak_pos,
            float(np.clip(attack, 0.0, 500.0)),
            float(np.clip(decay, 0.0, 500.0)),
            corr_lv,
            corr_lc,
            corr_lp,
            onset,
            offset,
            curvature,
            min(jitter, 12.0),
            sustained,
            m / max(int(active.sum()), 1),
        ],
        dtype=np.float64,
    )
    return out.astype(np.float32)
