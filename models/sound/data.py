"""The wordless-distress training data: human non-verbal clips, ordinary speech, room noise.

Read in place from `../shared/data/` ($DOLBOM_SOUND_DATA): `ko-nonverbal-dev` (671 clips,
16 classes, speaker ids; CC BY-NC-ND 4.0) and `ko-speech-dev` (81 clips of ordinary Korean
speech, 41 speakers; CC BY-NC-ND 4.0) — never copied into the repository, never
redistributed. `ko-speech-long-dev` is not read here: it is kept for measuring false alarms.
Synthetic room noise (fans, hum, hiss) is generated from the seed. Augmented variants of a
clip (gain, crop, added room noise) are computed in memory and stay with the clip's speaker.
"""

import csv
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.audio.sound_features import SAMPLE_RATE_HZ, featurize
from models.errors import DataError

DATA_ENV = "DOLBOM_SOUND_DATA"
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CACHE_ENV = "DOLBOM_CACHE"
DEFAULT_CACHE = Path("/work/cache/h4sound")

DISTRESS: tuple[str, ...] = ("screaming", "moaning", "crying", "panting")
EVERYDAY: tuple[str, ...] = (
    "coughing",
    "laughing",
    "sneezing",
    "sighing",
    "yawning",
    "throat-clearing",
    "nose-blowing",
    "lip-popping",
    "lip-smacking",
    "teeth-chattering",
    "teeth-grinding",
    "tongue-clicking",
)
SPEECH = "speech"
NOISE = "noise"
LABELS: tuple[str, ...] = (*DISTRESS, *EVERYDAY, SPEECH, NOISE)
N_NOISE = 80  # synthetic room-noise clips
VARIANTS = 2  # augmented copies of every real clip besides the original
SPEECH_WINDOWS = 2  # extra random windows of every speech clip (clips run 1.5-12 s)


@dataclass(frozen=True)
class Clip:
    """One recording (or generated noise) with its class and the speaker it belongs to."""

    key: str  # the file's path under the data folder, or "noise/NN"
    label: str
    speaker: str
    source: str  # "ko-nonverbal-dev", "ko-speech-dev" or "synthetic"


def data_dir() -> Path:
    """Where the shared recordings are ($DOLBOM_SOUND_DATA or ../shared/data)."""
    return Path(os.environ.get(DATA_ENV, str(DEFAULT_DATA)))


def cache_dir() -> Path:
    """Where computed features are cached ($DOLBOM_CACHE or /work/cache/h4sound)."""
    return Path(os.environ.get(CACHE_ENV, str(DEFAULT_CACHE)))


def list_clips(root: Path | None = None) -> list[Clip]:
    """Every real clip with its speaker, plus the synthetic noise clips; DataError if missing."""
    root = root or data_dir()
    nonverbal = root / "ko-nonverbal-dev" / "clips.tsv"
    speech = root / "ko-speech-dev" / "transcripts.tsv"
    for path in (nonverbal, speech):
        if not path.is_file():
            raise DataError(
                f"{path} is missing: the sound model trains on the shared human recordings"
                f" (set ${DATA_ENV} to the folder holding ko-nonverbal-dev and ko-speech-dev)"
            )
    clips: list[Clip] = []
    with nonverbal.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["class"] not in LABELS:
                raise DataError(f"{nonverbal}: unknown class {row['class']!r}")
            clips.append(
                Clip(
                    key=f"ko-nonverbal-dev/{row['file']}",
                    label=row["class"],
                    speaker=f"nv:{row['speaker']}",
                    source="ko-nonverbal-dev",
                )
            )
    with speech.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            # Pansori file names are SPEAKER-VIDEO-NNNN
            clips.append(
                Clip(
                    key=f"ko-speech-dev/{row['file']}",
                    label=SPEECH,
                    speaker=f"sp:{row['file'].split('-')[0]}",
                    source="ko-speech-dev",
                )
            )
    for i in range(N_NOISE):
        clips.append(Clip(key=f"noise/{i:02d}", label=NOISE, speaker=f"noise:{i}", source=NOISE))
    return clips


def read_audio(root: Path, clip: Clip) -> np.ndarray:
    """A real clip as 16 kHz mono float32."""
    import soundfile

    data, rate = soundfile.read(str(root / clip.key), dtype="float32", always_2d=True)
    if int(rate) != SAMPLE_RATE_HZ:
        raise DataError(f"{clip.key}: {rate} Hz, expected {SAMPLE_RATE_HZ}")
    mono: np.ndarray = data.mean(axis=1).astype(np.float32)
    return mono


def _seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def room_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary room noise of n samples at unit RMS: coloured hiss, mains hum or a fan."""
    white = rng.normal(0.0, 1.0, n)
    spec = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    slope = rng.uniform(0.0, 2.0)  # 0 white, 1 pink, 2 brown
    spec = spec / np.maximum(freqs, 20.0) ** (slope / 2.0)
    noise = np.fft.irfft(spec, n)
    t = np.arange(n) / SAMPLE_RATE_HZ
    kind = rng.integers(0, 3)
    if kind == 1:  # mains hum and its harmonics
        mains = rng.choice([50.0, 60.0])
        hum = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * mains * k * t) for k in (1, 2, 3))
        noise = noise / (noise.std() + 1e-9) + rng.uniform(0.3, 2.0) * hum
    elif kind == 2:  # a fan: a low whirr modulated by its blades
        whirr = np.sin(2 * np.pi * rng.uniform(80, 300) * t)
        noise = (
            noise / (noise.std() + 1e-9) * (1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(5, 30) * t))
        )
        noise = noise + rng.uniform(0.1, 0.6) * whirr
    out: np.ndarray = (noise / (noise.std() + 1e-9)).astype(np.float32)
    return out


def synth_noise_clip(index: int, seed: int) -> np.ndarray:
    """One generated room-noise clip, 1.5-5 s at -60..-25 dBFS."""
    rng = np.random.default_rng(_seed("noise", seed, index))
    n = int(rng.uniform(1.5, 5.0) * SAMPLE_RATE_HZ)
    level = 10 ** (rng.uniform(-60.0, -25.0) / 20.0)
    out: np.ndarray = (room_noise(n, rng) * level).astype(np.float32)
    return out


def augment(x: np.ndarray, rng: np.random.Generator, *, crop_s: tuple[float, float]) -> np.ndarray:
    """A variant as another microphone in another room might give it.

    A random window of `crop_s` seconds, a gain of -20..+6 dB (loud ones clip at full scale,
    as a shout near the robot does) and stationary room noise 10-40 dB below the clip."""
    n = x.size
    length = min(n, int(rng.uniform(*crop_s) * SAMPLE_RATE_HZ))
    start = int(rng.integers(0, n - length + 1))
    y = x[start : start + length].astype(np.float64)
    y = y * 10 ** (rng.uniform(-20.0, 6.0) / 20.0)
    rms = float(np.sqrt(np.mean(y * y))) + 1e-9
    snr_db = rng.uniform(10.0, 40.0)
    y = y + room_noise(length, rng) * rms * 10 ** (-snr_db / 20.0)
    out: np.ndarray = np.clip(y, -1.0, 1.0).astype(np.float32)
    return out


@dataclass(frozen=True)
class FeatureTable:
    """Features of every clip and its augmented variants; `original` marks the clips as recorded."""

    x: np.ndarray  # (rows, DIM) float32
    label: np.ndarray  # (rows,) class index into LABELS
    group: np.ndarray  # (rows,) speaker id, str
    clip: np.ndarray  # (rows,) clip key, str
    original: np.ndarray  # (rows,) bool


def build_table(
    clips: list[Clip],
    seed: int,
    root: Path | None = None,
    on_clip: Callable[[], None] | None = None,
    featurizer: Callable[[np.ndarray], np.ndarray] | None = None,
    cache_tag: str | None = None,
) -> FeatureTable:
    """Featurize every clip (and its seeded variants); cached on disk by the inputs' identity.

    `featurizer` (with its own `cache_tag`) replaces the robot's for features that are only
    tried (`models/sound/variants.py`); the rows and variants are the same."""
    root = root or data_dir()
    ident = hashlib.sha256(
        ("|".join(f"{c.key}:{c.label}:{c.speaker}" for c in clips) + f"|{seed}|v1").encode()
    ).hexdigest()[:16]
    from device.audio.sound_features import SPEC

    tag = cache_tag or f"features-{SPEC['version']}"
    cache = cache_dir() / f"sound-{tag}-{ident}.npz"
    compute = featurizer or featurize
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return FeatureTable(
                x=z["x"], label=z["label"], group=z["group"], clip=z["clip"], original=z["original"]
            )
    xs: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[str] = []
    keys: list[str] = []
    originals: list[bool] = []
    for c in clips:
        audio = synth_noise_clip(int(c.key.split("/")[1]), seed) if c.label == NOISE else None
        if audio is None:
            audio = read_audio(root, c)
        rng = np.random.default_rng(_seed("augment", seed, c.key))
        variants = [audio]
        if c.label != NOISE:
            for _ in range(VARIANTS):
                variants.append(augment(audio, rng, crop_s=(1.0, 6.0)))
        if c.label == SPEECH:
            for _ in range(SPEECH_WINDOWS):
                variants.append(augment(audio, rng, crop_s=(1.0, 4.0)))
        for i, v in enumerate(variants):
            xs.append(compute(v))
            labels.append(LABELS.index(c.label))
            groups.append(c.speaker)
            keys.append(c.key)
            originals.append(i == 0)
        if on_clip is not None:
            on_clip()
    table = FeatureTable(
        x=np.stack(xs),
        label=np.asarray(labels, dtype=np.int64),
        group=np.asarray(groups),
        clip=np.asarray(keys),
        original=np.asarray(originals),
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache,
        x=table.x,
        label=table.label,
        group=table.group,
        clip=table.clip,
        original=table.original,
    )
    return table
