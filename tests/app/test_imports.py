"""Every module of the app imports on its own, first (the API's factory imports the app)."""

import subprocess
import sys

import pytest

MODULES = [
    "cloud.app",
    "cloud.app.pages",
    "cloud.app.push",
    "cloud.app.web",
    "cloud.app.status",
    "cloud.app.charts",
    "cloud.app.shell",
    "cloud.app.admin",
]


@pytest.mark.parametrize("module", MODULES)
def test_the_module_imports_first_without_a_cycle(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
