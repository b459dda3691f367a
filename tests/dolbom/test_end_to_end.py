"""The walking skeleton end to end: a human '도와주세요' reaches a caregiver and back.

Real parts: the real Vosk model and VAD, the real outbox and MQTT link, the real cloud with
its store, a real HTTP webhook receiver. Once through the embedded amqtt broker with SQLite
(what `dolbom demo` runs), once through the system Mosquitto (MQTT 5, shared subscription)
with PostgreSQL.
"""

import io
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from dolbom.demo import CAREGIVER, ExternalBroker, Timeline, run_demo

pytestmark = pytest.mark.slow


def _check(timeline: Timeline) -> None:
    assert timeline.webhook is not None
    assert timeline.webhook.signature_ok
    assert timeline.webhook.body["kind"] == "emergency"
    assert timeline.webhook.body["severity"] == "critical"
    assert timeline.alert is not None
    assert timeline.alert["status"] == "acknowledged"
    assert timeline.alert["acknowledged_by"] == CAREGIVER
    assert any("보호자에게 연락했어요" in line for line in timeline.robot_said)
    assert any(CAREGIVER in line for line in timeline.robot_said)
    names = [name for name, _at, _detail in timeline.rows]
    for step in ("heard", "countdown", "outbox", "mqtt", "stored", "alert", "webhook"):
        assert step in names


def test_call_for_help_reaches_caregiver_through_embedded_broker_and_sqlite(
    tmp_path: Path,
) -> None:
    timeline = run_demo(Console(file=io.StringIO()), tmp_path / "demo", timeout_s=45)
    _check(timeline)


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_call_for_help_reaches_caregiver_through_mosquitto_and_postgres(
    tmp_path: Path, pg_url: str, mqtt_broker: tuple[str, int]
) -> None:
    device = f"e2e-{uuid.uuid4().hex[:8]}"
    broker = ExternalBroker(mqtt_broker[1], "5", shared=True, share_group=f"e2e{device[4:]}")
    timeline = run_demo(
        Console(file=io.StringIO()),
        tmp_path / "demo",
        timeout_s=45,
        broker=broker,
        database_url=pg_url,
        device_id=device,
    )
    _check(timeline)
