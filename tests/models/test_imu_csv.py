"""IMU CSV files: good ones parse, bad ones get a message naming the line and the problem."""

from pathlib import Path

import numpy as np
import pytest

from models.data.imu_csv import parse_imu_csv, read_imu_csv, write_imu_csv
from models.errors import DataError

HEADER = "t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"


def _rows(n: int, rate: float = 50.0) -> str:
    return "".join(f"{i / rate:.3f},-1,0,0,0,0,0\n" for i in range(n))


def test_a_written_file_reads_back(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(0, 1, (120, 6)).astype(np.float32)
    write_imu_csv(tmp_path / "a.csv", x, t0_s=5.0)
    t, y = read_imu_csv(tmp_path / "a.csv")
    assert t[0] == pytest.approx(5.0)
    assert y.shape == (120, 6)
    assert y.dtype == np.float32
    assert np.allclose(x, y, atol=1e-3)


def test_columns_may_come_in_any_order() -> None:
    text = "gz_dps,gy_dps,gx_dps,az_g,ay_g,ax_g,t_s\n" + "".join(
        f"0,0,0,0,0,-1,{i / 50:.2f}\n" for i in range(10)
    )
    _, x = parse_imu_csv(text)
    assert x[0, 0] == -1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("t_s,ax_g,ay_g\n0,1,2\n", "missing column"),
        (HEADER, "no samples"),
        (HEADER + "0,1,0,0,0,0,0\n0.02,x,0,0,0,0,0\n", "line 3: ax_g is not a number"),
        (HEADER + "0,1,0,0,0,0,0\n0.02,nan,0,0,0,0,0\n", "line 3: ax_g is not finite"),
        (HEADER + "0,1,0,0,0,0\n", "line 2: 6 fields"),
        (HEADER + "0.04,1,0,0,0,0,0\n0.02,1,0,0,0,0,0\n", "line 3: t_s does not increase"),
        (HEADER + _rows(50, rate=1000.0), "1000.0 Hz"),
        (HEADER + _rows(5, rate=5.0), "5.0 Hz"),
        (HEADER + "0,1,0,0,0,0,0\n0.02,99,0,0,0,0,0\n", "beyond the sensor's range"),
    ],
)
def test_bad_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_imu_csv(text, "walk.csv")


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_imu_csv(tmp_path / "nope.csv")


def test_errors_name_the_right_line_when_blank_lines_come_before() -> None:
    head = "t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"
    ok = "0.00,0,0,1,0,0,0\n\n\n0.02,0,0,1,0,0,0\n"
    with pytest.raises(DataError, match="line 6: t_s does not increase"):
        parse_imu_csv(head + ok + "0.01,0,0,1,0,0,0\n")
    with pytest.raises(DataError, match=r"line 6: ax_g = 40\.0 is beyond"):
        parse_imu_csv(head + ok + "0.04,40,0,1,0,0,0\n")


def test_repeated_stamps_and_25_hz_are_read_for_resampling() -> None:
    bursty = HEADER + "0.00,0,0,1,0,0,0\n0.00,0,0,1,0,0,0\n0.04,0,0,1,0,0,0\n0.08,0,0,1,0,0,0\n"
    t, _ = parse_imu_csv(bursty)
    assert list(t) == [0.0, 0.0, 0.04, 0.08]
    t25, _ = parse_imu_csv(HEADER + _rows(50, rate=25.0))
    assert len(t25) == 50
