"""Reading the shared real wrist set (`models/activity/real.py`) on a tiny stand-in folder:
units kept (g, deg/s), FallAllD's inverted gyro sign fixed, rest added around each trial."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from models.activity import real
from models.errors import DataError

HEADER = "t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"


def _write(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(len(rows)) / 50.0
    body = "".join(
        f"{ti:.3f}," + ",".join(f"{v:.4f}" for v in r) + "\n" for ti, r in zip(t, rows, strict=True)
    )
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(HEADER + body)


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "wrist-imu-dev"
    rows = np.tile([0.0, 0.0, 1.0, 10.0, -20.0, 30.0], (100, 1))
    _write(root / "fallalld" / "S01_A101_T01.csv.gz", rows)
    _write(root / "smartfallmm" / "young" / "S02_A10_T01.csv.gz", rows)
    (root / "trials.csv").write_text(
        "file,dataset,subject,group,activity,activity_name,is_fall,duration_s,n_samples\n"
        "fallalld/S01_A101_T01.csv.gz,fallalld,S01,unknown,A101,"
        '"Fall F, walking, trip",1,2.00,100\n'
        "smartfallmm/young/S02_A10_T01.csv.gz,smartfallmm,S02,young,A10,Backfall,1,2.00,100\n",
        encoding="utf-8",
    )
    (root / "provenance.csv").write_text(
        "file,flags\nfallalld/S01_A101_T01.csv.gz,\n"
        "smartfallmm/young/S02_A10_T01.csv.gz,fall_peak_below_2g_in_source\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(real.DATA_ENV, str(root))
    monkeypatch.setenv(real.CACHE_ENV, str(tmp_path / "cache"))
    return root


def test_fallalld_gyro_is_negated_and_units_are_kept(stand_in: Path) -> None:
    fa, sf = real.load_trials()
    assert (fa.dataset, sf.dataset) == ("fallalld", "smartfallmm")
    np.testing.assert_allclose(fa.samples[fa.lo : fa.hi, 3:], [[-10.0, 20.0, -30.0]] * 100)
    np.testing.assert_allclose(sf.samples[sf.lo : sf.hi, 3:], [[10.0, -20.0, 30.0]] * 100)
    for t in (fa, sf):  # g stays g: no rescaling, gravity kept
        np.testing.assert_allclose(t.samples[t.lo : t.hi, 2], 1.0)
    assert sf.flags == "fall_peak_below_2g_in_source"
    assert fa.subject != sf.subject  # subject ids are per data set
    assert real.fall_direction(fa) == "forward"
    assert real.fall_direction(sf) == "backward"


def test_rest_is_added_before_and_after_and_the_cache_gives_the_same(stand_in: Path) -> None:
    first = real.load_trials()
    t = first[0]
    assert t.lo == round(real.PAD_BEFORE_S * real.RATE_HZ)
    assert len(t.samples) - t.hi == round(real.PAD_AFTER_S * real.RATE_HZ)
    assert t.duration_s == pytest.approx(2.0)
    pad = t.samples[: t.lo]
    assert abs(float(np.linalg.norm(pad[:, :3], axis=1).mean()) - 1.0) < 0.01  # resting, 1 g
    again = real.load_trials()  # from the cache now
    np.testing.assert_array_equal(again[0].samples, t.samples)


def test_a_missing_folder_is_named_in_both_languages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(real.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="폴더"):
        real.load_trials()
