"""kill -9 of the robot while it drains: every event ends up in the cloud store exactly once.

The device side is a real child process (outbox + MQTT link) killed with SIGKILL mid-drain and
restarted; the cloud side is the real CloudService ingesting into its SQLite store through a
private Mosquitto (MQTT 5, shared subscription).
"""

import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store.models import Event
from device.outbox import Outbox
from tests.helpers.device_process import DeviceProcess
from tests.helpers.mosquitto import private_mosquitto

WAIT_S = 30.0
pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


def _stored(cloud: CloudService, device_id: str) -> tuple[int, list[int]]:
    with cloud.sessions() as session:
        rows = session.scalar(
            select(func.count()).select_from(Event).where(Event.device_id == device_id)
        )
        seqs = session.scalars(
            select(Event.seq).where(Event.device_id == device_id).order_by(Event.seq)
        ).all()
    return int(rows or 0), list(seqs)


def test_kill9_mid_drain_then_restart_stores_every_event_exactly_once(tmp_path: Path) -> None:
    device_id = f"test-k9-{uuid.uuid4().hex[:10]}"
    db = tmp_path / "robot" / "outbox.sqlite3"
    total = 300
    with private_mosquitto() as port:
        settings = CloudSettings(
            database_url=f"sqlite:///{tmp_path / 'cloud.sqlite3'}",
            mqtt_port=port,
            api_token=SecretStr("unused"),
        )
        with CloudService(settings) as cloud:
            args = ["--db", str(db), "--device-id", device_id, "--port", str(port)]
            with DeviceProcess(*args, "--count", str(total), "--ack-delay-s", "0.01") as child:
                assert child.wait_count("acked", 20, WAIT_S), child.stderr_text()
                child.kill9()
            with Outbox(db, device_id) as box:
                assert 0 < box.pending_count() < total, "the kill must land mid-drain"
            more = [*args, "--start", str(total), "--count", "10", "--exit-when-drained"]
            with DeviceProcess(*more) as again:
                assert again.wait(WAIT_S) == 0, again.stderr_text()
            deadline = time.monotonic() + WAIT_S
            while _stored(cloud, device_id)[0] < total + 10 and time.monotonic() < deadline:
                time.sleep(0.1)
            rows, seqs = _stored(cloud, device_id)
    assert rows == total + 10
    assert seqs == list(range(1, total + 11))
