"""Issue 14 items 1 and 2 on the real Mosquitto: poison messages never stop ingest, and the
default persistent session loses nothing when a worker is killed (-9) and restarted."""

import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest import ClientIdLease, IngestWorker, LeaseHeldError, default_client_id
from cloud.settings import CloudSettings
from cloud.store import Alert, AlertKind, DeadLetter, Event
from protocol import events_topic
from tests.cloud.helpers import MqttPeer, emergency, heartbeat, new_device_id, wait_until
from tests.cloud.ingest.test_reliability import poison
from tests.helpers.mqtt import forget_session

ROOT = Path(__file__).resolve().parents[3]


class WorkerProcess:
    """`run_worker` in a child process: the production default session, killable with -9."""

    def __init__(self, database_url: str, host: str, port: int, worker_id: str, group: str):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.cloud.ingest.run_worker",
                database_url,
                host,
                str(port),
                worker_id,
                group,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(lambda: self.lines, timeout_s=30, what="the worker process to subscribe")
        word, self.client_id = self.lines[0].split()
        assert word == "subscribed"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def kill(self) -> None:
        """SIGKILL: no unsubscribe, no clean disconnect, the store transaction cut short."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def worker_id() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def group() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def _settings(host: str, port: int, worker_id: str, group: str, **more: object) -> CloudSettings:
    return CloudSettings(
        mqtt_host=host,
        mqtt_port=port,
        mqtt_protocol="5",
        mqtt_share_group=group,
        mqtt_session="persistent",
        worker_id=worker_id,
        **more,  # type: ignore[arg-type]
    )


def _count(sessions: sessionmaker[Session], model: type[object], *where: object) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_default_client_id_is_stable_per_host_and_worker() -> None:
    one = CloudSettings(mqtt_session="persistent", worker_id="1")
    assert default_client_id(one, "cloud-a") == "dolbom-ingest-cloud-a-1"
    assert default_client_id(one, "cloud-a") == default_client_id(one, "cloud-a")
    two = CloudSettings(mqtt_session="persistent", worker_id="2")
    assert default_client_id(two, "cloud-a") != default_client_id(one, "cloud-a")
    assert default_client_id(one, "cloud-b") != default_client_id(one, "cloud-a")
    named = CloudSettings(mqtt_client_id="ingest-east-7")
    assert default_client_id(named, "cloud-a") == "ingest-east-7"


def test_production_defaults_are_a_persistent_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOLBOM_MQTT_SESSION")
    settings = CloudSettings()
    assert settings.mqtt_session == "persistent"
    assert settings.worker_id == "0"
    assert default_client_id(settings, "host") == "dolbom-ingest-host-0"


def test_a_second_live_worker_with_the_same_id_is_refused(
    sessions: sessionmaker[Session], worker_id: str
) -> None:
    client_id = f"dolbom-ingest-test-{worker_id}"
    now = [datetime(2026, 12, 5, 3, 0, tzinfo=UTC)]
    first = ClientIdLease(sessions, client_id, 30.0, clock=lambda: now[0], holder="other:1:a")
    first.acquire()
    second = ClientIdLease(sessions, client_id, 30.0, clock=lambda: now[0])
    with pytest.raises(LeaseHeldError, match="DOLBOM_WORKER_ID"):
        second.acquire()
    now[0] += timedelta(seconds=20)
    assert first.renew()
    now[0] += timedelta(seconds=20)  # renewed 20 s ago: still live
    with pytest.raises(LeaseHeldError):
        second.acquire()
    now[0] += timedelta(seconds=31)  # silent past the ttl: gone
    second.acquire()
    assert not first.renew()  # the old holder learns it lost the lease
    second.release()
    ClientIdLease(sessions, client_id, 30.0, clock=lambda: now[0]).acquire()


def test_two_workers_on_one_id_refuse_at_start(
    sessions: sessionmaker[Session], mqtt_broker: tuple[str, int], worker_id: str, group: str
) -> None:
    settings = _settings(*mqtt_broker, worker_id, group)
    first = IngestWorker(settings, sessions)
    assert first.start(wait_s=10)
    try:
        second = IngestWorker(settings, sessions)
        with pytest.raises(LeaseHeldError, match=first.client_id):
            second.start(wait_s=1)
    finally:
        first.stop()
        forget_session(*mqtt_broker, first.client_id)
    again = IngestWorker(settings, sessions)  # released by the clean stop
    assert again.start(wait_s=10)
    again.stop()
    forget_session(*mqtt_broker, again.client_id)


def test_poison_then_good_events_and_no_redelivery_after_a_restart(
    database_url: str,
    sessions: sessionmaker[Session],
    mqtt_broker: tuple[str, int],
    worker_id: str,
    group: str,
) -> None:
    host, port = mqtt_broker
    dev = new_device_id()
    bad = [raw for raw in poison(dev) if len(raw) < 200_000]
    topic = events_topic(dev)
    proc = WorkerProcess(database_url, host, port, worker_id, group)
    robot = MqttPeer(host, port)
    worker: IngestWorker | None = None
    try:
        for raw in bad:
            robot.publish(topic, raw)
        for seq in range(1, 21):
            robot.publish(topic, heartbeat(dev, seq))
        robot.publish(topic, emergency(dev, 21))
        wait_until(
            lambda: _count(sessions, Event, Event.device_id == dev) == 21,
            timeout_s=30,
            what="20 heartbeats and the emergency",
        )
        wait_until(
            lambda: _count(sessions, DeadLetter, DeadLetter.topic == topic) == len(bad),
            what="every poison message dead-lettered",
        )
        assert _count(sessions, Alert, Alert.device_id == dev, Alert.kind == AlertKind.EMERGENCY)
        proc.kill()  # the same persistent session comes back: nothing may be redelivered

        worker = IngestWorker(_settings(host, port, worker_id, group), sessions)
        assert worker.client_id == proc.client_id
        assert worker.start(wait_s=10)
        robot.publish(topic, heartbeat(dev, 22))  # after any redelivery, on the same session
        wait_until(
            lambda: _count(sessions, Event, Event.device_id == dev) == 22,
            timeout_s=30,
            what="the marker event",
        )
        assert _count(sessions, DeadLetter, DeadLetter.topic == topic) == len(bad)
        assert worker.health().ok
    finally:
        robot.close()
        proc.kill()
        if worker is not None:
            worker.stop()
        forget_session(host, port, proc.client_id)


def test_kill_9_mid_stream_and_a_restart_loses_nothing(
    database_url: str,
    sessions: sessionmaker[Session],
    mqtt_broker: tuple[str, int],
    worker_id: str,
    group: str,
) -> None:
    host, port = mqtt_broker
    dev = new_device_id()
    topic = events_topic(dev)
    proc = WorkerProcess(database_url, host, port, worker_id, group)
    robot = MqttPeer(host, port)
    published = threading.Event()

    def publish() -> None:
        for seq in range(1, 501):
            robot.publish(topic, heartbeat(dev, seq))
        published.set()

    sender = threading.Thread(target=publish, daemon=True)
    worker: IngestWorker | None = None
    try:
        sender.start()
        wait_until(
            lambda: _count(sessions, Event, Event.device_id == dev) >= 50,
            timeout_s=30,
            what="the stream under way",
        )
        proc.kill()  # mid-stream: the robot keeps publishing into the persistent session
        assert published.wait(60)
        worker = IngestWorker(_settings(host, port, worker_id, group), sessions)
        assert worker.start(wait_s=10)  # takes the dead process's lease at once (same host)
        wait_until(
            lambda: _count(sessions, Event, Event.device_id == dev) == 500,
            timeout_s=60,
            what="500 of 500 events",
        )
        with sessions() as s:
            seqs = list(s.scalars(select(Event.seq).where(Event.device_id == dev)))
        assert sorted(seqs) == list(range(1, 501))
    finally:
        sender.join(60)
        robot.close()
        proc.kill()
        if worker is not None:
            worker.stop()
        forget_session(host, port, proc.client_id)


def test_dolbom_cloud_serve_refuses_an_id_a_live_worker_holds(
    database_url: str,
    sessions: sessionmaker[Session],
    mqtt_broker: tuple[str, int],
    worker_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from dolbom.cli import app

    host, port = mqtt_broker
    settings = _settings(host, port, worker_id, "unused")
    holder = ClientIdLease(sessions, default_client_id(settings), 30.0, holder="cloud-b:4242:ab")
    holder.acquire()  # another host's worker, heartbeat just now
    for name, value in {
        "DATABASE_URL": database_url,
        "MQTT_HOST": host,
        "MQTT_PORT": str(port),
        "MQTT_SESSION": "persistent",
        "WORKER_ID": worker_id,
        "API_TOKEN": "cli-token",
        "HTTP_PORT": "0",
    }.items():
        monkeypatch.setenv(f"DOLBOM_{name}", value)
    before = set(threading.enumerate())  # an earlier test's threads are not this start's
    result = CliRunner().invoke(app, ["cloud", "serve"])
    assert result.exit_code == 1, result.output
    assert "cloud-b:4242:ab" in result.output
    assert "DOLBOM_WORKER_ID" in result.output
    # The failed start stopped what it had started (no thread left polling the store).
    started = set(threading.enumerate()) - before
    names = {"escalation", "webhook-dispatcher", "ingest", "ingest-urgent", "dolbom-push"}
    left = {t.name for t in started} & names
    assert not left
