"""The sound model's recipe pieces and `dolbom models predict sound` (no shared data needed)."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dolbom.cli import app
from models.artifact import verify
from models.registry import get
from models.sound import train as sound_train
from models.sound.data import DISTRESS, LABELS, augment, synth_noise_clip

ARTIFACTS = Path(__file__).resolve().parents[2] / "models" / "artifacts"
RATE = 16000


def _write_wav(path: Path, x: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.repeat(pcm, 2)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["models", "predict", "sound", *args])
    return r.exit_code, r.stdout, r.stderr


def test_the_sound_recipe_is_registered() -> None:
    assert get("sound").artifacts == ("sound",)


def test_shipped_artifact_verifies_and_records_the_speaker_held_out_figures() -> None:
    sidecar = verify(ARTIFACTS / "sound-2.0.0.json")
    assert sidecar.labels == LABELS
    assert sidecar.size_bytes <= 1_000_000
    assert set(sidecar.metrics["per_class_flagged"]) == set(LABELS)
    assert sidecar.metrics["n_folds"] >= 10
    assert sidecar.decision["distress_classes"] == list(DISTRESS)
    manifest = json.loads((ARTIFACTS / "manifest.json").read_text(encoding="utf-8"))
    assert any(e["name"] == "sound" for e in manifest["models"])


def test_threshold_flags_at_most_the_allowed_share_of_everyday_sounds() -> None:
    rng = np.random.default_rng(0)
    everyday = sound_train.EVERYDAY_IDX
    labels = np.concatenate([rng.choice(everyday, 200), np.repeat(sound_train.DISTRESS_IDX, 25)])
    score = np.concatenate([rng.uniform(0, 0.6, 200), rng.uniform(0.3, 1.0, 100)])
    thr = sound_train.choose_threshold(score, labels)
    flagged = score[np.isin(labels, everyday)] >= thr
    assert flagged.mean() <= sound_train.MAX_FLAGGED
    # one step lower would flag more than allowed: it is the lowest such threshold
    below = np.sort(score[np.isin(labels, everyday)])[::-1][int(0.05 * 200)]
    assert (score[np.isin(labels, everyday)] >= below).mean() > sound_train.MAX_FLAGGED


def test_calibration_keeps_the_order_of_scores() -> None:
    raw = np.linspace(0.01, 0.99, 50)
    is_d = raw + np.random.default_rng(1).normal(0, 0.2, 50) > 0.5
    a, b = sound_train.calibrate(raw, is_d)
    cal = sound_train.apply_calibration(raw, a, b)
    assert np.all(np.diff(cal) > 0)


def test_augmented_variant_stays_in_range_and_within_the_crop() -> None:
    rng = np.random.default_rng(3)
    x = (0.5 * np.sin(np.arange(3 * RATE) / 5)).astype(np.float32)
    y = augment(x, rng, crop_s=(1.0, 2.0))
    assert y.dtype == np.float32
    assert RATE <= y.size <= 2 * RATE
    assert np.abs(y).max() <= 1.0


def test_synthetic_noise_is_reproducible_from_the_seed() -> None:
    np.testing.assert_array_equal(synth_noise_clip(3, 7), synth_noise_clip(3, 7))


def test_predict_sound_prints_one_json_verdict(tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    wav = _write_wav(tmp_path / "tone.wav", 0.01 * np.sin(2 * np.pi * 220 * t), channels=2)
    code, out, err = _run("--wav", str(wav), "--json")
    assert code == 0, err
    row = json.loads(out)
    assert row["label"] in LABELS
    assert 0.0 <= row["distress"] <= 1.0
    assert row["is_distress"] == (row["distress"] >= row["threshold"])
    assert set(row["scores"]) == set(LABELS)


def test_predict_sound_refuses_a_clip_too_short(tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "blip.wav", np.zeros(RATE // 10))
    code, _, err = _run("--wav", str(wav))
    assert code == 2
    assert "0.3 s" in err


@pytest.mark.parametrize("name", ["missing.wav", "folder"])
def test_predict_sound_names_an_unreadable_file(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder").mkdir()
    code, _, err = _run("--wav", str(tmp_path / name))
    assert code == 2
    assert "error:" in err
