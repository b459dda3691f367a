"""Every committed scenario runs through the whole platform at its own (high) speed and meets
its expectations: embedded broker, cloud with SQLite, webhook receiver, one robot agent with
the real Vosk model, the HAL on a PTY and the virtual MCU's sensor physics."""

from pathlib import Path

import pytest

from device.audio.asr import load_model
from dolbom.scenario import run_scenario
from firmware_sim.scenario import load_scenario

pytestmark = pytest.mark.slow  # ~15-60 s per scenario: the whole platform runs for each

SCENARIOS = sorted(
    (Path(__file__).resolve().parents[2] / "firmware_sim" / "scenarios").glob("*.toml")
)


@pytest.fixture(scope="module")
def speech_model() -> object:
    """The Vosk model, loaded once (~2.5 s, ~500 MB) for every scenario of this module."""
    return load_model()


def test_the_scenarios_folder_holds_the_issues_scenarios() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "day-in-the-life", "fall-no-response", "fall-then-fine", "away-two-days",
        "device-unplugged", "sensor-stuck", "corrupted-serial",
    } <= names  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem) for p in SCENARIOS],
)
def test_scenario_meets_its_expectations(path: Path, speech_model: object, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    report = run_scenario(scenario, tmp_path / scenario.name)
    failed = [f"{c.expectation.describe()}: {c.detail}" for c in report.checks if not c.ok]
    assert report.checks
    assert not failed, "\n".join(failed)
