"""`dolbom provision`: provisioned robots reach a locked-down Mosquitto, only on their topics."""

import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import select
from typer.testing import CliRunner, Result

from cloud.provisioning import DEVICE_ACL_PATTERNS, REPO_ACL, missing_acl_lines
from cloud.store.db import make_engine, make_session_factory
from cloud.store.models import Device
from device.config import DeviceConfig, load_config
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from dolbom.cli import app
from protocol import EventType, events_topic
from protocol.events import HeartbeatPayload
from tests.helpers.mosquitto import private_mosquitto
from tests.helpers.mqtt import Recorder
from tests.helpers.ports import free_port

CLOUD_PASSWORD = "cloud-pw"
_WAIT_S = 10.0


@dataclass(frozen=True)
class Site:
    """A provisioning workspace: the store, the broker's files, where configs go."""

    root: Path
    database_url: str
    passwd: Path
    acl: Path
    port: int

    def run(self, *args: str) -> Result:
        """Invoke `dolbom provision ...` against this site's store."""
        return CliRunner().invoke(
            app, ["provision", *args], env={"DOLBOM_DATABASE_URL": self.database_url}
        )

    def device(self, senior: str, out: str, *extra: str) -> Result:
        """Provision a robot for `senior` into this site's password file and ACL."""
        return self.run(
            "device",
            "--senior",
            senior,
            "--passwd-file",
            str(self.passwd),
            "--acl-file",
            str(self.acl),
            "--out",
            str(self.root / out),
            "--broker-host",
            "127.0.0.1",
            "--broker-port",
            str(self.port),
            *extra,
        )


def _site(root: Path, database_url: str) -> Site:
    site = Site(root, database_url, root / "passwd", root / "dolbom.acl", free_port())
    created = site.run("senior", "--id", "s-kim", "--name", "김영희")
    assert created.exit_code == 0, created.output
    return site


@pytest.fixture
def site(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Site:
    """A site on a fresh SQLite store (migrated: a copy of the session's template) with one
    senior, s-kim."""
    return _site(tmp_path, migrated_sqlite(tmp_path / "cloud.sqlite3"))


def _provisioned(site: Site, out: str, *extra: str) -> DeviceConfig:
    result = site.device("s-kim", out, *extra)
    assert result.exit_code == 0, result.output
    return load_config(site.root / out)


def _add_cloud_user(passwd: Path) -> None:
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwd), "dolbom-cloud", CLOUD_PASSWORD], check=True
    )


@pytest.fixture
def locked_broker(site: Site) -> Iterator[tuple[DeviceConfig, DeviceConfig]]:
    """Two provisioned robots and a Mosquitto with no anonymous access, their passwords and ACL."""
    robot_a = _provisioned(site, "a.toml", "--device-id", "robot-a")
    robot_b = _provisioned(site, "b.toml")
    _add_cloud_user(site.passwd)
    conf = f"allow_anonymous false\npassword_file {site.passwd}\nacl_file {site.acl}\n"
    with private_mosquitto(conf, port=site.port):
        yield robot_a, robot_b


def _stored_devices(database_url: str) -> dict[str, str | None]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return {d.id: d.senior_id for d in session.scalars(select(Device))}
    finally:
        engine.dispose()


def _heartbeat(outbox: Outbox) -> None:
    payload = HeartbeatPayload(uptime_s=1, agent_version="test", outbox_pending=0)
    outbox.append(EventType.HEARTBEAT, payload, ts=datetime.now(UTC))


@pytest.mark.mosquitto
def test_provisioned_robot_publishes_its_own_events_with_its_config(
    site: Site, locked_broker: tuple[DeviceConfig, DeviceConfig], tmp_path: Path
) -> None:
    robot, _ = locked_broker
    with Recorder(
        site.port, ["dolbom/v1/devices/+/events"], username="dolbom-cloud", password=CLOUD_PASSWORD
    ) as cloud:
        outbox = Outbox(tmp_path / "outbox.sqlite3", robot.device_id)
        _heartbeat(outbox)
        link = MqttLink(robot.device_id, robot.mqtt, outbox)
        link.start()
        try:
            assert link.wait_connected(_WAIT_S)
            assert cloud.wait_for(lambda msgs: len(msgs) >= 1, _WAIT_S)
        finally:
            link.stop()
            outbox.close()
    assert [m.topic for m in cloud.snapshot()] == [events_topic(robot.device_id)]


@pytest.mark.mosquitto
def test_provisioned_robot_cannot_publish_as_another_robot(
    site: Site, locked_broker: tuple[DeviceConfig, DeviceConfig]
) -> None:
    robot_a, robot_b = locked_broker
    with Recorder(
        site.port, ["dolbom/v1/devices/+/events"], username="dolbom-cloud", password=CLOUD_PASSWORD
    ) as cloud:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{robot_a.device_id}-{uuid.uuid4().hex[:6]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.username_pw_set(robot_a.mqtt_username, robot_a.mqtt.password)
        client.connect("127.0.0.1", site.port)
        client.loop_start()
        try:
            forged = client.publish(events_topic(robot_b.device_id), b"forged", qos=1)
            forged.wait_for_publish(_WAIT_S)
            client.publish(events_topic(robot_a.device_id), b"mine", qos=1).wait_for_publish(
                _WAIT_S
            )
            assert cloud.wait_for(lambda msgs: len(msgs) >= 1, _WAIT_S)
        finally:
            client.disconnect()
            client.loop_stop()
    # The broker delivers in order, so "forged" (sent first) would have arrived before "mine".
    assert [(m.topic, m.payload) for m in cloud.snapshot()] == [
        (events_topic(robot_a.device_id), b"mine")
    ]


def test_written_config_loads_is_private_and_names_the_device(site: Site) -> None:
    result = site.device("s-kim", "robot.toml", "--device-id", "robot-kim-1")
    assert result.exit_code == 0, result.output
    path = site.root / "robot.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cfg = load_config(path)
    assert cfg.device_id == "robot-kim-1"
    assert cfg.mqtt_username == "robot-kim-1"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls) == ("127.0.0.1", site.port, False)
    assert cfg.mqtt.password is not None
    assert len(cfg.mqtt.password) >= 32
    assert cfg.language == "ko"
    assert cfg.mqtt.password not in result.output
    assert "kill -HUP" in result.output
    assert _stored_devices(site.database_url) == {"robot-kim-1": "s-kim"}


def test_show_password_prints_the_password_in_the_config(site: Site) -> None:
    result = site.device("s-kim", "robot.toml", "--show-password")
    assert result.exit_code == 0, result.output
    password = load_config(site.root / "robot.toml").mqtt.password
    assert password is not None
    assert password in result.output


def test_generated_device_ids_are_robot_and_eight_hex(site: Site) -> None:
    first = _provisioned(site, "one.toml")
    second = _provisioned(site, "two.toml")
    for cfg in (first, second):
        assert cfg.device_id.startswith("robot-")
        assert len(cfg.device_id) == len("robot-") + 8
        int(cfg.device_id.removeprefix("robot-"), 16)
    assert first.device_id != second.device_id


def test_reprovisioning_a_device_without_force_is_refused(site: Site) -> None:
    first = _provisioned(site, "robot.toml", "--device-id", "robot-kim-1")
    again = site.device("s-kim", "other.toml", "--device-id", "robot-kim-1")
    assert again.exit_code == 2
    assert "robot-kim-1" in again.output
    assert "already provisioned" in again.output
    assert "--force" in again.output
    assert not (site.root / "other.toml").exists()
    assert load_config(site.root / "robot.toml").mqtt.password == first.mqtt.password


def test_existing_config_is_not_overwritten_without_force(site: Site) -> None:
    _provisioned(site, "robot.toml")
    again = site.device("s-kim", "robot.toml")
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert len(_stored_devices(site.database_url)) == 1


def test_force_reprovisions_with_a_new_password(site: Site) -> None:
    first = _provisioned(site, "robot.toml", "--device-id", "robot-kim-1")
    second = _provisioned(site, "robot.toml", "--device-id", "robot-kim-1", "--force")
    assert second.mqtt.password != first.mqtt.password
    users = [line.split(":")[0] for line in site.passwd.read_text().splitlines()]
    assert users == ["robot-kim-1"]


def test_unknown_senior_exits_2_and_writes_nothing(site: Site) -> None:
    result = site.device("s-nobody", "robot.toml")
    assert result.exit_code == 2
    assert "no senior 's-nobody'" in result.output
    assert "dolbom provision senior" in result.output
    assert not (site.root / "robot.toml").exists()
    assert not site.passwd.exists()
    assert not site.acl.exists()
    assert _stored_devices(site.database_url) == {}


def test_invalid_device_id_is_refused(site: Site) -> None:
    result = site.device("s-kim", "robot.toml", "--device-id", "Robot A")
    assert result.exit_code == 2
    assert "invalid device id" in result.output
    assert not site.passwd.exists()


def test_acl_is_copied_from_the_committed_one(site: Site) -> None:
    _provisioned(site, "robot.toml")
    assert site.acl.read_text() == REPO_ACL.read_text()


def test_committed_acl_has_every_device_pattern() -> None:
    assert missing_acl_lines(REPO_ACL.read_text()) == []


def test_existing_acl_gets_the_patterns_once(site: Site) -> None:
    site.acl.write_text("user admin\ntopic readwrite #\n")
    _provisioned(site, "one.toml")
    _provisioned(site, "two.toml")
    lines = site.acl.read_text().splitlines()
    assert lines[:2] == ["user admin", "topic readwrite #"]
    for pattern in DEVICE_ACL_PATTERNS:
        assert lines.count(pattern) == 1


def test_senior_must_be_new_unless_forced(site: Site) -> None:
    again = site.run("senior", "--id", "s-kim", "--name", "Kim")
    assert again.exit_code == 2
    assert "already exists" in again.output
    english = site.run("senior", "--id", "s-kim", "--name", "Kim", "--language", "en", "--force")
    assert english.exit_code == 0, english.output
    assert _provisioned(site, "robot.toml").language == "en"


def test_tls_config_names_the_ca_file(site: Site) -> None:
    ca = site.root / "ca.crt"
    ca.write_text("not checked by provisioning\n")
    cfg = _provisioned(site, "robot.toml", "--tls", "--ca-file", str(ca))
    assert cfg.mqtt.tls
    assert cfg.mqtt.ca_file == str(ca.resolve())


def test_tls_ca_path_may_be_the_robots_own(site: Site) -> None:
    result = site.device("s-kim", "robot.toml", "--tls", "--ca-file", "/etc/dolbom/robot-ca.crt")
    assert result.exit_code == 0, result.output
    assert "install it there on the robot" in result.output
    assert load_config(site.root / "robot.toml").mqtt.ca_file == "/etc/dolbom/robot-ca.crt"


@pytest.mark.postgres
def test_provision_registers_the_device_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    site = _site(tmp_path, pg_url)
    device_id = f"robot-pg-{uuid.uuid4().hex[:6]}"
    cfg = _provisioned(site, "robot.toml", "--device-id", device_id)
    assert cfg.device_id == device_id
    assert _stored_devices(pg_url)[device_id] == "s-kim"
    unknown = site.device("s-nobody", "other.toml")
    assert unknown.exit_code == 2
    assert not (tmp_path / "other.toml").exists()
