"""`dolbom sim fleet --api` end to end: the real Mosquitto, the real cloud (SQLite in tmp).

The fleet drops a share of robots and storms the broker, so some events are sent twice; the
cloud must still store each event exactly once, and the simulator's report must agree with
what the store holds.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from typer.testing import CliRunner

from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store import Alert, Event
from dolbom.cli import app
from tests.helpers.mqtt import Recorder

TOKEN = "fleet-e2e-token"
SEED_WITH_ALARMS = 36  # its mix draws emergencies/falls/faults among the robots' first events


@pytest.fixture
def cloud(tmp_path: Path, mqtt_broker: tuple[str, int]) -> Iterator[CloudService]:
    host, port = mqtt_broker
    settings = CloudSettings(
        database_url=f"sqlite:///{tmp_path / 'cloud.sqlite3'}",
        mqtt_host=host,
        mqtt_port=port,
        mqtt_share_group=f"test-{uuid.uuid4().hex[:10]}",  # our own share of the stream
        api_token=SecretStr(TOKEN),
        http_port=0,
    )
    svc = CloudService(settings)
    svc.start(mqtt_wait_s=10)
    try:
        assert svc.worker is not None
        assert svc.worker.wait_subscribed(10), "the cloud could not subscribe on Mosquitto"
        svc.start_api()
        yield svc
    finally:
        svc.stop()


@pytest.mark.mosquitto
def test_fleet_events_are_stored_exactly_once_and_the_report_matches_the_store(
    cloud: CloudService, mqtt_broker: tuple[str, int]
) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    assert cloud.api_url is not None
    result = CliRunner().invoke(
        app,
        [
            "sim", "fleet",
            "--devices", "20", "--rate", "2", "--duration", "4",
            "--broker", f"mqtt://127.0.0.1:{mqtt_broker[1]}",
            "--api", cloud.api_url,
            "--prefix", prefix, "--seed", str(SEED_WITH_ALARMS),
            "--offline-share", "0.2", "--storm-share", "0.2",
            "--settle", "30", "--json",
        ],
        env={"DOLBOM_API_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        api = report["api"]
        assert report["created"] == report["acked"] > 0
        assert report["all_acked"]
        assert report["offline_devices"] == 4
        assert report["alarms"] >= 1

        ours = Event.device_id.like(f"{prefix}-%")
        with cloud.sessions() as s:
            rows = s.execute(select(Event.device_id, Event.seq).where(ours)).all()
            per_device = dict(
                s.execute(
                    select(Event.device_id, func.max(Event.seq))
                    .where(ours)
                    .group_by(Event.device_id)
                ).all()
            )
            alerts = (
                s.scalar(
                    select(func.count())
                    .select_from(Alert)
                    .where(Alert.device_id.like(f"{prefix}-%"))
                )
                or 0
            )
        # Exactly once: as many rows as events created, no (device, seq) twice, none missing.
        assert len(rows) == len(set(rows)) == report["created"]
        assert len(per_device) == 20
        assert sum(per_device.values()) == report["created"]

        assert api["stored"] == api["expected_stored"] == report["created"]
        assert api["sampled_events"] == report["created"]
        assert api["stored_latency_s"]["n"] == report["created"]
        assert api["alerts"] == alerts >= 1
        assert api["alert_latency_s"]["n"] == alerts
    finally:
        with Recorder(mqtt_broker[1], [f"{prefix}/unused"]) as rec:  # leave the broker clean
            for i in range(20):
                rec.publish(f"dolbom/v1/devices/{prefix}-{i:06d}/status", b"", retain=True)


@pytest.mark.mosquitto
def test_fleet_cli_with_a_wrong_token_stops_before_connecting(
    cloud: CloudService, mqtt_broker: tuple[str, int]
) -> None:
    assert cloud.api_url is not None
    result = CliRunner().invoke(
        app,
        ["sim", "fleet", "--devices", "2", "--duration", "1", "--api", cloud.api_url],
        env={"DOLBOM_API_TOKEN": "not-the-token"},
    )
    assert result.exit_code == 1
    assert "refused the token (401)" in result.stderr


def test_fleet_cli_refuses_api_without_a_token() -> None:
    result = CliRunner().invoke(
        app,
        ["sim", "fleet", "--devices", "2", "--api", "http://127.0.0.1:9", "--duration", "1"],
        env={"DOLBOM_API_TOKEN": ""},
    )
    assert result.exit_code == 2
    assert "--api needs --token" in result.stderr


def test_fleet_cli_refuses_a_remote_broker() -> None:
    result = CliRunner().invoke(app, ["sim", "fleet", "--broker", "mqtt://broker.example.com:1883"])
    assert result.exit_code == 2
    assert "only talks to this machine" in result.stderr


@pytest.mark.parametrize("url", ["http://api.example.com", "ftp://127.0.0.1/", "127.0.0.1:8000"])
def test_fleet_cli_refuses_an_api_it_must_not_send_the_token_to(url: str) -> None:
    # a load generator stays on this machine, and the admin token must not travel elsewhere
    result = CliRunner().invoke(
        app,
        ["sim", "fleet", "--devices", "2", "--api", url, "--duration", "1"],
        env={"DOLBOM_API_TOKEN": "a-token"},
    )
    assert result.exit_code == 2, result.output
    assert "--api" in result.stderr
    assert "Traceback" not in result.output
