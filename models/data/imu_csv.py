"""Read and write wrist-band IMU CSV files: `t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps`.

This is what `firmware_sim` records and what `dolbom models predict activity --imu` reads.
Real watches deliver bursty, irregular timestamps: repeated stamps are allowed and any rate
from 10 to 400 Hz is read (the caller resamples to 50 Hz with
`device.perception.imu_features.resample`, as the robot does). Times must not go backwards.
A bad file is a DataError naming the line and what was wrong.
"""

import csv
import io
import math
from pathlib import Path
from typing import Final

import numpy as np

from models.errors import DataError

COLUMNS: Final = ("t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
RATE_HZ: Final = 50.0
MIN_RATE_HZ: Final = 10.0  # slower or faster input is refused; anything between is resampled
MAX_RATE_HZ: Final = 400.0
MAX_ABS: Final = (16.0, 16.0, 16.0, 2000.0, 2000.0, 2000.0)  # a band IMU's full scale


def read_imu_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (n,) float64 and samples (n, 6) float32 from a CSV; DataError when malformed."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read it as UTF-8 text: {e}") from None
    return parse_imu_csv(text, str(path))


def parse_imu_csv(text: str, where: str = "csv") -> tuple[np.ndarray, np.ndarray]:
    """Parse CSV text (see `read_imu_csv`)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise DataError(f"{where}: the file is empty; expected the header {','.join(COLUMNS)}")
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"{where}: line 1: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
        )
    idx = [header.index(c) for c in COLUMNS]
    rows: list[list[float]] = []
    line_nos: list[int] = []  # the file's line of each row (blank lines are skipped)
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{where}: line {line_no}: {len(row)} fields, the header has {len(header)}"
            )
        values: list[float] = []
        for col, i in zip(COLUMNS, idx, strict=True):
            try:
                v = float(row[i])
            except ValueError:
                raise DataError(
                    f"{where}: line {line_no}: {col} is not a number: {row[i]!r}"
                ) from None
            if not math.isfinite(v):
                raise DataError(f"{where}: line {line_no}: {col} is not finite: {row[i]!r}")
            values.append(v)
        rows.append(values)
        line_nos.append(line_no)
    if not rows:
        raise DataError(f"{where}: no samples after the header")
    data = np.asarray(rows, dtype=np.float64)
    t = data[:, 0]
    dt = np.diff(t)
    if np.any(dt < 0):
        bad = line_nos[int(np.flatnonzero(dt < 0)[0]) + 1]
        raise DataError(f"{where}: line {bad}: t_s does not increase")
    if len(t) > 1:
        span = float(t[-1] - t[0])
        rate = (len(np.unique(t)) - 1) / span if span > 0 else float("inf")
        if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
            raise DataError(
                f"{where}: sampled at {rate:.1f} Hz; {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz is read"
                f" and resampled to {RATE_HZ:g} Hz"
            )
    over = np.abs(data[:, 1:]) > np.asarray(MAX_ABS)
    if over.any():
        r, c = (int(v) for v in np.argwhere(over)[0])
        raise DataError(
            f"{where}: line {line_nos[r]}: {COLUMNS[c + 1]} = {data[r, c + 1]}"
            " is beyond the sensor's range"
        )
    return t, data[:, 1:].astype(np.float32)


def write_imu_csv(
    path: Path, samples: np.ndarray, t0_s: float = 0.0, rate_hz: float = RATE_HZ
) -> None:
    """Write samples (n, 6) with a time column."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i, row in enumerate(samples):
            w.writerow([f"{t0_s + i / rate_hz:.3f}", *(f"{float(v):.5g}" for v in row)])
