"""Issue 14 item 1: ingest health (dead or stuck, on an injected clock), /healthz, and
`CloudService.serve` ending with an error when ingest dies, so systemd restarts the worker."""

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cloud.errors import CloudError
from cloud.ingest import IngestWorker
from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory
from protocol import events_topic
from protocol.release import version
from tests.cloud.helpers import MqttPeer, heartbeat, new_device_id, wait_until


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _settings(host: str, port: int, **more: object) -> CloudSettings:
    return CloudSettings(
        mqtt_host=host,
        mqtt_port=port,
        mqtt_protocol="5",
        mqtt_share_group=f"test-{uuid.uuid4().hex[:10]}",
        ingest_stuck_s=60.0,
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
def unreachable_store() -> Iterator[sessionmaker[Session]]:
    engine = make_engine("postgresql://nobody:nothing@127.0.0.1:1/none")
    yield make_session_factory(engine)
    engine.dispose()


def test_ingest_is_stuck_when_messages_wait_and_nothing_is_stored(
    unreachable_store: sessionmaker[Session], mqtt_broker: tuple[str, int]
) -> None:
    clock = FakeMonotonic()
    worker = IngestWorker(_settings(*mqtt_broker), unreachable_store, monotonic=clock)
    assert worker.health().state == "stopped"
    assert worker.start(wait_s=10)
    robot = MqttPeer(*mqtt_broker)
    try:
        assert worker.health().ok
        dev = new_device_id()
        robot.publish(events_topic(dev), heartbeat(dev, 1))
        wait_until(lambda: worker.waiting, what="the message in hand")
        clock.now += 59.0
        assert worker.health().ok  # not yet
        clock.now += 2.0
        health = worker.health()
        assert health.state == "stuck"
        assert health.stuck_for_s >= 60.0
    finally:
        robot.close()
        worker.stop()


def test_an_idle_worker_is_not_stuck(
    sessions: sessionmaker[Session], mqtt_broker: tuple[str, int]
) -> None:
    clock = FakeMonotonic()
    worker = IngestWorker(_settings(*mqtt_broker), sessions, monotonic=clock)
    assert worker.start(wait_s=10)
    try:
        clock.now += 3600.0
        # The loop turns (every 0.1 s of real time) and finds nothing waiting: healthy.
        wait_until(lambda: worker.health().ok, what="an idle loop turn")
    finally:
        worker.stop()


def _dies_on(signal: threading.Event) -> object:
    def loop(self: IngestWorker) -> None:
        signal.wait(30)
        raise RuntimeError("a bug beyond the per-message boundary")

    return loop


def test_a_dead_ingest_loop_is_reported(
    sessions: sessionmaker[Session], mqtt_broker: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    die = threading.Event()
    monkeypatch.setattr(IngestWorker, "_loop", _dies_on(die))
    worker = IngestWorker(_settings(*mqtt_broker), sessions)
    assert worker.start(wait_s=10)
    try:
        assert worker.health().ok
        die.set()
        wait_until(lambda: worker.health().state == "dead", what="the loop's death")
        assert "a bug beyond the per-message boundary" in worker.health().detail
    finally:
        worker.stop()


@pytest.fixture
def cloud_settings(database_url: str, mqtt_broker: tuple[str, int]) -> CloudSettings:
    return _settings(
        *mqtt_broker,
        database_url=database_url,
        api_token=SecretStr("health-token"),
        http_port=0,
    )


def test_healthz_says_503_when_ingest_is_dead(
    cloud_settings: CloudSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    die = threading.Event()
    monkeypatch.setattr(IngestWorker, "_loop", _dies_on(die))
    service = CloudService(cloud_settings)
    service.start(mqtt_wait_s=10)
    try:
        url = service.start_api()
        ok = httpx.get(f"{url}/healthz", timeout=10)
        assert ok.status_code == 200
        assert ok.json()["ingest"] == "ok"
        die.set()
        wait_until(lambda: service.check_ingest(), what="the watchdog's verdict")
        r = httpx.get(f"{url}/healthz", timeout=10)
        assert r.status_code == 503
        assert r.json() == {
            "status": "degraded",
            "db": True,
            "mqtt": True,
            "ingest": "dead",
            "version": version(),
        }
    finally:
        service.stop()


def test_serve_ends_with_an_error_when_ingest_dies(
    cloud_settings: CloudSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    die = threading.Event()
    monkeypatch.setattr(IngestWorker, "_loop", _dies_on(die))
    service = CloudService(cloud_settings)
    errors: list[BaseException] = []
    listening = threading.Event()

    def run() -> None:
        try:
            service.serve(on_listening=lambda _url: listening.set(), watch_s=0.05)
        except CloudError as e:
            errors.append(e)

    server = threading.Thread(target=run, daemon=True)
    server.start()
    try:
        assert listening.wait(30)
        die.set()
        server.join(30)
        assert not server.is_alive()
        [error] = errors
        assert "ingest died" in str(error)
    finally:
        die.set()
        service.stop()
        server.join(10)


def test_dolbom_cloud_serve_exits_non_zero_when_ingest_dies(
    database_url: str, mqtt_broker: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dolbom.cli import app

    die = threading.Event()
    die.set()
    monkeypatch.setattr(IngestWorker, "_loop", _dies_on(die))
    host, port = mqtt_broker
    for name, value in {
        "DATABASE_URL": database_url,
        "MQTT_HOST": host,
        "MQTT_PORT": str(port),
        "MQTT_SHARE_GROUP": f"test-{uuid.uuid4().hex[:10]}",
        "API_TOKEN": "cli-token",
        "HTTP_PORT": "0",
    }.items():
        monkeypatch.setenv(f"DOLBOM_{name}", value)
    result = CliRunner().invoke(app, ["cloud", "serve"])
    assert result.exit_code == 1, result.output
    assert "ingest died" in result.output
