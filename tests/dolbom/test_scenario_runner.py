"""The scenario runner's checks and the `dolbom sim` commands, without running the platform."""

import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest
from typer.testing import CliRunner

from device.clock import ScaledClock
from dolbom.cli import app
from dolbom.scenario import ScenarioReport, _Pacer, check, validate_kinds
from firmware_sim.scenario import Expectation, ScenarioError, load_scenario

FALL = Path(__file__).resolve().parents[2] / "firmware_sim" / "scenarios" / "fall-no-response.toml"


def _report() -> ScenarioReport:
    report = ScenarioReport(load_scenario(FALL), speed=600, seed=1)
    fall_s = report.scenario.event_time("fall")
    report.alerts = [(fall_s + 34.0, "fall", "critical", "notified")]
    report.events = [
        (fall_s + 33.0, "fall", "critical", {"confidence": 0.9, "countdown": "silence"}),
        (5.0, "device_fault", "high", {"component": "band", "code": "imu_stuck"}),
    ]
    report.heard = [fall_s + 12.0]
    return report


def _expect(
    kind: str,
    what: str,
    after: str | None = None,
    within_s: float | None = None,
    filters: dict[str, str] | None = None,
) -> Expectation:
    return Expectation(kind, what, after, within_s, MappingProxyType(filters or {}))


def test_an_alert_inside_the_window_meets_the_expectation() -> None:
    report = _report()
    assert check(_expect("alert", "fall", after="fall", within_s=60.0), report).ok
    late = check(_expect("alert", "fall", after="fall", within_s=30.0), report)
    assert not late.ok
    assert "fall@+00:20:34" in late.detail


def test_no_alert_fails_on_any_alert_of_that_kind() -> None:
    report = _report()
    assert check(_expect("no_alert", "emergency"), report).ok
    assert not check(_expect("no_alert", "any"), report).ok


def test_event_filters_match_payload_fields() -> None:
    report = _report()
    assert check(_expect("event", "fall", filters={"countdown": "silence"}), report).ok
    assert not check(_expect("event", "fall", filters={"countdown": "cancelled"}), report).ok
    assert not check(_expect("no_event", "device_fault", filters={"code": "imu_stuck"}), report).ok
    assert check(_expect("no_event", "device_fault", filters={"code": "bad_frames"}), report).ok


def test_heard_looks_for_an_utterance_in_the_window() -> None:
    report = _report()
    assert check(_expect("heard", "speech", after="fall", within_s=20.0), report).ok
    assert not check(_expect("heard", "speech", after="fall", within_s=5.0), report).ok


def test_an_unknown_alert_kind_in_a_scenario_is_refused(tmp_path: Path) -> None:
    text = FALL.read_text(encoding="utf-8").replace('alert = "fall"', 'alert = "falls"')
    path = tmp_path / "typo.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="'falls' is not one of"):
        validate_kinds(load_scenario(path))


def test_time_slows_down_around_incidents_only() -> None:
    scenario = load_scenario(FALL)
    pacer = _Pacer(ScaledClock(600.0), scenario, 600.0)
    fall_s = scenario.event_time("fall")
    assert pacer.speed_at(0.0) == 600.0
    assert pacer.speed_at(fall_s) == scenario.incident_speed
    assert pacer.speed_at(fall_s + scenario.incident_window_s + 1) == 600.0


def test_sim_scenario_refuses_a_bad_file_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nstart = 2026-11-23T09:00:00+09:00\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["sim", "scenario", str(bad)])
    assert result.exit_code == 2
    assert "duration: 꼭 필요한 키입니다 / Field required" in result.output
    assert "Traceback" not in result.output


def test_sim_robot_prints_its_port_and_takes_commands(tmp_path: Path) -> None:
    link = tmp_path / "robot.tty"
    proc = subprocess.run(
        [sys.executable, "-m", "dolbom", "sim", "robot", "--seed", "2", "--link", str(link)],
        input="status\nbutton long\nnonsense\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"virtual MCU on {link}" in proc.stdout
    assert "battery 80 %" in proc.stdout
    assert "unknown command 'nonsense'" in proc.stdout
    assert not link.exists()  # removed on the way out


class _FakeAgent:
    def __init__(self) -> None:
        self.inbox: list[object] = []

    def post(self, item: object) -> None:
        self.inbox.append(item)


class _FakeHal:
    def __init__(self) -> None:
        self.handled: list[object] = []

    def handle(self, item: object, now_s: float) -> None:
        self.handled.append(item)


def test_the_backlog_counts_readings_posted_and_not_yet_handed_to_the_stages() -> None:
    from typing import Any, cast

    from device.safety.countdown import Trigger
    from dolbom.scenario import _Backlog

    agent, hal = _FakeAgent(), _FakeHal()
    backlog = _Backlog(cast(Any, agent), cast(Any, hal))
    assert backlog.empty()
    reading, other = object(), object()
    agent.post(reading)
    agent.post(other)
    agent.post(Trigger.BUTTON)  # the agent acts on a trigger itself: never a stage's to handle
    assert not backlog.empty()
    assert agent.inbox == [reading, other, Trigger.BUTTON]  # still delivered
    hal.handle(reading, 1.0)
    assert not backlog.empty()
    hal.handle(other, 1.0)
    assert backlog.empty()  # simulated time may move on
    assert hal.handled == [reading, other]
