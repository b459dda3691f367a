"""`dolbom device transcribe`: an installer's check of what the robot hears."""

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dolbom.cli import app

from .conftest import HELP_CLIPS


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
