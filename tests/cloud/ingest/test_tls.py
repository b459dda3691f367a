"""The cloud's ingest reaches the broker over TLS, as in production (Mosquitto's 8883)."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.errors import CloudError
from cloud.ingest import IngestWorker
from cloud.settings import CloudSettings
from cloud.store import Event
from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from protocol import EventType
from protocol.events import HeartbeatPayload
from tests.cloud.helpers import new_device_id, wait_until
from tests.helpers.mosquitto import private_mosquitto
from tests.helpers.tls import make_test_ca

pytestmark = pytest.mark.mosquitto


def test_ingest_over_tls_stores_a_robots_event(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    tls = make_test_ca(tmp_path / "tls")
    device_id = new_device_id()
    with private_mosquitto(tls.mosquitto_conf()) as port:
        settings = CloudSettings(
            mqtt_port=port,
            mqtt_tls=True,
            mqtt_ca_file=str(tls.ca_file),
            mqtt_share_group=f"tls{uuid.uuid4().hex[:8]}",
        )
        worker = IngestWorker(settings, sessions)
        assert worker.start(wait_s=10), "the cloud could not subscribe over TLS"
        outbox = Outbox(tmp_path / "outbox.sqlite3", device_id)
        link = MqttLink(
            device_id, MqttConfig(port=port, tls=True, ca_file=str(tls.ca_file)), outbox
        )
        try:
            outbox.append(
                EventType.HEARTBEAT,
                HeartbeatPayload(uptime_s=1, agent_version="t", outbox_pending=0),
                ts=datetime.now(UTC),
            )
            link.start()

            def stored() -> list[int] | None:
                with sessions() as s:
                    seqs = s.scalars(select(Event.seq).where(Event.device_id == device_id)).all()
                    return list(seqs) or None

            assert wait_until(stored, what="the event over TLS") == [1]
        finally:
            link.stop()
            outbox.close()
            worker.stop()


def test_unreadable_ca_file_is_a_clear_error(sessions: sessionmaker[Session]) -> None:
    settings = CloudSettings(mqtt_tls=True, mqtt_ca_file="/nonexistent/ca.crt")
    with pytest.raises(CloudError, match="DOLBOM_MQTT_CA_FILE"):
        IngestWorker(settings, sessions)
