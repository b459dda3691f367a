"""The software's one version string, read from the installed package's metadata.

`dolbom --version`, the robot's heartbeat (`agent_version`) and the cloud API's OpenAPI
version all call `version()`, so a release changes `pyproject.toml` and nothing else.
"""

import importlib.metadata
from functools import cache

UNKNOWN = "0+unknown"
"""What a source tree run without being installed reports."""


@cache
def version() -> str:
    """The installed `dolbom` distribution's version (`UNKNOWN` when it is not installed)."""
    try:
        return importlib.metadata.version("dolbom")
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN
