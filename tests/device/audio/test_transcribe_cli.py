"""`dolbom device transcribe`: an installer's check of what the robot hears."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from benchmarks.common import room_noise
from device.audio.sound_features import self_test_signal
from dolbom.cli import app

from .conftest import HELP_CLIPS

EN_CLIPS = Path(__file__).resolve().parents[2] / "fixtures" / "dialog" / "audio"


@pytest.mark.slow
def test_transcribe_json_prints_one_object_per_utterance(vosk_model: Any) -> None:
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_1.wav")
    result = CliRunner().invoke(app, ["device", "transcribe", "--json", str(clean)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(records) == 1
    assert {"start_s", "end_s", "text", "intent", "confidence"} <= set(records[0])
    assert records[0]["intent"] == "help"
    assert 0.0 <= records[0]["start_s"] < records[0]["end_s"]


@pytest.mark.slow
def test_transcribe_prints_a_readable_line(vosk_model: Any) -> None:
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    result = CliRunner().invoke(app, ["device", "transcribe", str(clean)])
    assert result.exit_code == 0
    assert "help" in result.stdout
    assert "도와주" in result.stdout


def test_transcribe_missing_file_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["device", "transcribe", str(tmp_path / "none.wav")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_transcribe_garbage_file_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    result = CliRunner().invoke(app, ["device", "transcribe", str(bad)])
    assert result.exit_code == 2
    assert "not a readable WAV" in result.stderr


def test_transcribe_refuses_an_unknown_language_in_both_languages() -> None:
    result = CliRunner().invoke(app, ["device", "transcribe", "--lang", "fr", str(HELP_CLIPS[0])])
    assert result.exit_code == 2
    assert "ko or en" in result.stderr
    assert "오류" in result.stderr


def test_transcribe_lang_en_hears_english() -> None:
    """An installer can check an English robot's microphone (espeak clip: plumbing)."""
    clip = EN_CLIPS / "en_yes.wav"
    result = CliRunner().invoke(app, ["device", "transcribe", "--json", "--lang", "en", str(clip)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert records
    assert any(r["intent"] == "yes" for r in records), records
    assert all("why" in r for r in records)


@pytest.mark.slow
def test_transcribe_json_reports_a_wordless_scream_as_a_sound_event(
    vosk_model: Any, tmp_path: Path
) -> None:
    """A synthetic scream (the sound model's harmonic test sweep, loud) in a modelled quiet
    room: one sound object with text null (plumbing; recall is measured on human clips)."""
    scream = self_test_signal().astype(np.float64) * 32767 * 2.0
    audio = np.concatenate([room_noise(6.0), scream, room_noise(1.5, seed=3)])
    wav = tmp_path / "scream.wav"
    soundfile.write(str(wav), np.clip(audio, -32768, 32767).astype(np.int16), 16000)
    result = CliRunner().invoke(app, ["device", "transcribe", "--json", str(wav)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    sounds = [r for r in records if r.get("sound")]
    assert len(sounds) == 1, records
    (event,) = sounds
    assert event["text"] is None
    assert event["sound"] == "screaming"
    assert event["intent"] == "distress"
    assert 0.0 <= event["confidence"] <= 1.0
    assert any("sound classifier" in why for why in event["why"])
