"""The real wrist recordings (`wrist-imu-dev`: FallAllD wrist device + SmartFallMM watch).

Read in place from the shared data folder (never copied into the repository); the parsed
trials are cached as one .npz outside the repository. Every trial gets 2 s of rest before and
5 s after it (its first / last 0.2 s held with sensor-like noise), as the held-out recordings
end in stillness and the detector needs 3 s after an impact.
"""

import csv
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from models.errors import DataError

DATA_ENV: Final = "DOLBOM_WRIST_IMU"
DEFAULT_DATA: Final = Path(__file__).resolve().parents[3] / "shared" / "data" / "wrist-imu-dev"
CACHE_ENV: Final = "DOLBOM_CACHE"
DEFAULT_CACHE: Final = Path("/work/cache/h13")
RATE_HZ: Final = 50.0
PAD_BEFORE_S: Final = 2.0
PAD_AFTER_S: Final = 5.0
SOURCE: Final = {
    "name": "wrist-imu-dev: FallAllD wrist device D2 (Saleh et al., IEEE Sensors J. 2021) and"
    " SmartFallMM smartwatch (Texas State University SmartFall group)",
    "licence": "no licence stated by either source; used to develop, validate and calibrate,"
    " never copied into the repository or the model files",
    "provenance": "FallAllD via Assistive-Technology-Create-Team/plumshum.github.io@9213827;"
    " SmartFallMM via txst-cs-smartfall/SmartFallMM-Dataset@fcb6b3c; resampled to 50 Hz",
}


@dataclass(frozen=True)
class Trial:
    """One real recording, padded with rest; `lo:hi` is the recorded part."""

    file: str
    dataset: str  # "fallalld" | "smartfallmm"
    subject: str  # unique across data sets: "fallalld:S01"
    group: str  # "unknown" | "young" | "old"
    activity: str
    activity_name: str
    is_fall: bool
    samples: np.ndarray  # (n, 6) float32, FallAllD gyro negated to match its accelerometer
    lo: int
    hi: int
    flags: str

    @property
    def duration_s(self) -> float:
        """Seconds actually recorded."""
        return (self.hi - self.lo) / RATE_HZ


def data_dir() -> Path:
    """Where the shared recordings are ($DOLBOM_WRIST_IMU or ../shared/data/wrist-imu-dev)."""
    return Path(os.environ.get(DATA_ENV, str(DEFAULT_DATA)))


def cache_dir() -> Path:
    """Where parsed features are cached ($DOLBOM_CACHE or /work/cache/h13)."""
    return Path(os.environ.get(CACHE_ENV, str(DEFAULT_CACHE)))


def _pad(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    def rest(ref: np.ndarray, n: int) -> np.ndarray:
        noise = rng.normal(0.0, 1.0, (n, 6)) * np.asarray([0.004] * 3 + [0.5] * 3)
        out: np.ndarray = (ref.mean(axis=0) + noise).astype(np.float32)
        return out

    k = max(1, int(0.2 * RATE_HZ))
    a, b = int(PAD_BEFORE_S * RATE_HZ), int(PAD_AFTER_S * RATE_HZ)
    return np.concatenate([rest(x[:k], a), x, rest(x[-k:], b)]), a, a + len(x)


def _read_csv_gz(path: Path) -> np.ndarray:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, 1:7].astype(np.float32)


def load_trials(root: Path | None = None) -> list[Trial]:
    """Every trial of the shared set, from the cache when it is there."""
    root = root or data_dir()
    index = root / "trials.csv"
    if not index.is_file():
        raise DataError(
            f"{root}: no trials.csv; set {DATA_ENV} to the wrist-imu-dev folder"
            " / wrist-imu-dev 폴더를 지정하세요"
        )
    digest = hashlib.sha256(index.read_bytes()).hexdigest()[:16]
    cache = cache_dir() / f"wrist-imu-dev-{digest}.npz"
    with index.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with (root / "provenance.csv").open(encoding="utf-8") as f:
        flags = {r["file"]: r["flags"] for r in csv.DictReader(f)}
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        arrays = [z[f"t{i}"] for i in range(len(rows))]
        bounds = z["bounds"]
    else:
        arrays, b = [], []
        for i, r in enumerate(rows):
            x = _read_csv_gz(root / r["file"])
            if r["dataset"] == "fallalld":
                x[:, 3:6] *= -1.0  # the README: FallAllD's gyro sign is inverted
            padded, lo, hi = _pad(x, np.random.default_rng([13, i]))
            arrays.append(padded)
            b.append((lo, hi))
        bounds = np.asarray(b)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, bounds=bounds, **{f"t{i}": a for i, a in enumerate(arrays)})
        os.replace(tmp, cache)
    return [
        Trial(
            file=r["file"],
            dataset=r["dataset"],
            subject=f"{r['dataset']}:{r['subject']}",
            group=r["group"],
            activity=r["activity"],
            activity_name=r["activity_name"],
            is_fall=r["is_fall"] == "1",
            samples=arrays[i],
            lo=int(bounds[i][0]),
            hi=int(bounds[i][1]),
            flags=flags.get(r["file"], ""),
        )
        for i, r in enumerate(rows)
    ]


def fall_direction(t: Trial) -> str:
    """forward / backward / lateral / rotating / other, from the activity name."""
    name = t.activity_name.lower()
    if t.dataset == "smartfallmm":
        return {
            "A10": "backward",
            "A11": "forward",
            "A12": "lateral",
            "A13": "lateral",
            "A14": "rotating",
        }.get(t.activity, "other")
    if "fall f" in name:
        return "forward"
    if "fall b" in name:
        return "backward"
    if "fall l" in name:
        return "lateral"
    return "other"
