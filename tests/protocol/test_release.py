"""Issue 17: one version string (the package metadata) in the CLI and the heartbeat."""

import importlib.metadata
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from device.agent import AGENT_VERSION
from dolbom.cli import build_app
from protocol.release import version

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_installed_package_metadata() -> None:
    assert version() == importlib.metadata.version("dolbom")


def test_pyproject_is_where_the_version_is_written() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert version() == project["version"]


def test_cli_version_option_prints_it() -> None:
    result = CliRunner().invoke(build_app("protocol"), ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"dolbom {version()}"


def test_agent_heartbeat_reports_the_same_version() -> None:
    assert version() == AGENT_VERSION
