"""Issue 17: `dolbom device selftest` — every shipped model gives its committed answer; a damaged
model is named with the reason, and the others are still checked."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from device.perception.loader import SHIPPED_DIR
from device.selftest import run_self_tests
from dolbom.cli import build_app


def test_every_shipped_model_passes_its_self_test() -> None:
    checks = run_self_tests(speech=False)
    assert [c.name for c in checks] == [
        "model.activity",
        "model.fall",
        "model.emotion",
        "model.sound",
    ]
    assert all(c.ok for c in checks), checks


def test_a_damaged_model_fails_with_its_reason_and_the_rest_are_still_checked(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    shutil.copytree(SHIPPED_DIR, models)
    fall = next(models.glob("fall-*.onnx"))
    fall.write_bytes(fall.read_bytes()[:-10] + b"0123456789")
    checks = {c.name: c for c in run_self_tests(models, speech=False)}
    assert not checks["model.fall"].ok
    assert "sha256" in checks["model.fall"].detail
    assert checks["model.activity"].ok
    assert checks["model.emotion"].ok


def test_cli_reports_json_and_exit_code() -> None:
    result = CliRunner().invoke(
        build_app("device"), ["device", "selftest", "--json", "--no-speech"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["ok"] is True
    assert len(report["checks"]) == 4
    assert report["peak_rss_mb"] > 0
