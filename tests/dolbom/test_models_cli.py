"""`dolbom models`: predict on a CSV as the robot would, clear errors for bad input."""

import json
from pathlib import Path

from typer.testing import CliRunner

from dolbom.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = FIXTURES / "models"
CSV = FIXTURES / "imu" / "walk_then_fall.csv"
IMPACT_S = float((FIXTURES / "imu" / "walk_then_fall.txt").read_text().split("=")[1])
runner = CliRunner()


def test_predict_activity_prints_one_json_line_per_window_and_the_fall() -> None:
    result = runner.invoke(
        app,
        ["models", "predict", "activity", "--imu", str(CSV), "--json", "--models-dir", str(TINY)],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    windows = [r for r in rows if "label" in r]
    falls = [r for r in rows if r.get("fall")]
    assert windows[0]["start_s"] == 0.0
    assert windows[1]["start_s"] == 1.0
    assert set(windows[0]) == {"start_s", "label", "scores"}
    assert windows[0]["label"] == "walking"
    assert len(falls) == 1
    assert abs(falls[0]["t_s"] - IMPACT_S) < 0.1


def test_predict_activity_reads_as_a_table_without_json() -> None:
    result = runner.invoke(
        app, ["models", "predict", "activity", "--imu", str(CSV), "--models-dir", str(TINY)]
    )
    assert result.exit_code == 0
    assert "FALL" in result.stdout
    assert "walking" in result.stdout


def test_a_bad_csv_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,ax_g\n0,1\n")
    result = runner.invoke(app, ["models", "predict", "activity", "--imu", str(bad)])
    assert result.exit_code == 2
    assert "missing column" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["models", "predict", "activity", "--imu", str(CSV), "--models-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no activity model" in result.stderr


def test_an_unknown_model_name_lists_the_known_ones() -> None:
    result = runner.invoke(app, ["models", "train", "weather"])
    assert result.exit_code == 2
    assert "activity" in result.stderr


def test_a_gap_in_the_recording_restarts_the_windows_at_the_right_time(tmp_path: Path) -> None:
    # the band was out of reach for a minute: no window may straddle the gap, and the
    # windows after it start at the times written in the file
    lines = CSV.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    half = 250  # five seconds of walking, then the rest a minute later
    moved = []
    for row in rows[half:]:
        t, rest = row.split(",", 1)
        moved.append(f"{float(t) + 60.0:.3f},{rest}")
    gapped = tmp_path / "gap.csv"
    gapped.write_text("\n".join([header, *rows[:half], *moved]) + "\n")
    gap_start = float(rows[half].split(",")[0])
    result = runner.invoke(
        app,
        [
            "models",
            "predict",
            "activity",
            "--imu",
            str(gapped),
            "--json",
            "--models-dir",
            str(TINY),
        ],
    )
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    starts = [r["start_s"] for r in out if "label" in r]
    assert starts, out
    assert all(s + 2.0 <= gap_start + 1e-6 or s >= gap_start + 60.0 - 1e-6 for s in starts)
    falls = [r for r in out if r.get("fall")]
    assert len(falls) == 1
    assert abs(falls[0]["t_s"] - (IMPACT_S + 60.0)) < 0.1


def test_bursty_irregular_timestamps_are_resampled_and_the_fall_keeps_its_time(
    tmp_path: Path,
) -> None:
    # a real watch: rows in bursts, some stamps repeated, intervals of 8-32 ms; the CLI
    # resamples to 50 Hz with the robot's code and still reports the impact's time
    import numpy as np

    from models.data.imu_csv import read_imu_csv

    t, x = read_imu_csv(CSV)
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.008, 0.032, size=2 * len(t)))
    times = np.round(times[times < t[-1]], 2)  # 10 ms stamps: some repeat
    cols = np.stack([np.interp(times, t, x[:, k]) for k in range(6)], axis=1)
    rows = [
        f"{ts:.3f}," + ",".join(f"{v:.4f}" for v in row)
        for ts, row in zip(times, cols, strict=True)
    ]
    bursty = tmp_path / "bursty.csv"
    bursty.write_text("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + "\n".join(rows) + "\n")
    result = runner.invoke(
        app,
        [
            "models",
            "predict",
            "activity",
            "--imu",
            str(bursty),
            "--json",
            "--models-dir",
            str(TINY),
        ],
    )
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    starts = [r["start_s"] for r in out if "label" in r]
    assert np.allclose(np.diff(starts), 1.0)  # one window a second, as at 50 Hz
    falls = [r for r in out if r.get("fall")]
    assert len(falls) == 1
    assert abs(falls[0]["t_s"] - IMPACT_S) < 0.1
