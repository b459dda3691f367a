"""Shared fixtures for every test package: the real PostgreSQL and Mosquitto on 127.0.0.1."""

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI is a loaded 2-core box: a property test must not fail because the host was slow. No
# per-example deadline and no "too slow" health check, for every test of the suite (a test's
# own @settings still sets its number of examples). Failures print the reproduction blob;
# replay one with `pytest --hypothesis-seed=N` (the seed hypothesis prints) or @reproduce_failure.
settings.register_profile(
    "dolbom",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dolbom"))


def pytest_report_header() -> str:
    """The fuzz tests' seed, so that a failure reproduces (tests/helpers/fuzz.py)."""
    return f"fuzz seed: {os.environ.get('DOLBOM_FUZZ_SEED', '0')} (DOLBOM_FUZZ_SEED)"


PG_ADMIN_URL = os.environ.get(
    "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
MQTT_HOST = os.environ.get("DOLBOM_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("DOLBOM_TEST_MQTT_PORT", "1883"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (SQLAlchemy URL), dropped at the end."""
    from cloud.store.scratch import ScratchDatabaseError, scratch_database

    try:
        with scratch_database(PG_ADMIN_URL, "dolbom_test") as url:
            yield url
    except ScratchDatabaseError as e:
        pytest.fail(
            f"{e}: start it with `make services` (it starts it and sets the postgres password"
            " the suite uses), or set DOLBOM_TEST_PG_ADMIN_URL",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store migrated to head once per session (the migrations run for real).

    A migration takes ~0.3 s on a quiet machine and over a second under load; several hundred
    tests each need a fresh migrated store. Copying this file gives the same bytes in well under
    a millisecond. The migrations themselves are tested in tests/cloud/test_store.py.
    """
    from cloud.store import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "cloud.sqlite3"
    migrate(f"sqlite:///{path}")
    left = sorted(p.name for p in path.parent.iterdir() if p != path)
    if left:  # a WAL not checkpointed on close: a copy of the main file would miss tables
        raise RuntimeError(f"the migrated SQLite template left {left} beside it")
    return path


@pytest.fixture
def migrated_sqlite(_migrated_sqlite_template: Path) -> Callable[[Path], str]:
    """`migrated_sqlite(path)`: a fresh store migrated to head at `path`; its SQLAlchemy URL."""

    def make(path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise FileExistsError(f"{path} exists: a fresh store needs a new file")
        shutil.copyfile(_migrated_sqlite_template, path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    """(host, port) of the real Mosquitto broker; fails with an instruction when it is down."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=3):
            pass
    except OSError as e:
        pytest.fail(
            f"Mosquitto is not reachable at {MQTT_HOST}:{MQTT_PORT} ({e}): start it with"
            " `service mosquitto start` (or `mosquitto -d`), or set DOLBOM_TEST_MQTT_HOST/PORT",
            pytrace=False,
        )
    return MQTT_HOST, MQTT_PORT


@pytest.fixture(autouse=True)
def _clean_mqtt_sessions_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest workers built in tests take a random id and a clean session unless a test asks.

    Production's default is a persistent session under a stable per-host id; tests running in
    parallel on the one shared broker would share it. The tests of that default set
    `mqtt_session="persistent"` (or a client id) explicitly, each with an id of its own.
    """
    monkeypatch.setenv("DOLBOM_MQTT_SESSION", "clean")
