"""The committed broker ACL pins each robot to its own topics (a private Mosquitto runs it)."""

import subprocess
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from protocol import commands_topic, events_topic
from protocol.topics import stored_topic
from tests.helpers.mosquitto import private_mosquitto
from tests.helpers.mqtt import Recorder

ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "dolbom.acl"
pytestmark = pytest.mark.mosquitto


def _client(port: int, user: str, password: str) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{user}-{uuid.uuid4().hex[:6]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(user, password)
    return client


def _connect_rc(port: int, user: str, password: str) -> int:
    client = _client(port, user, password)
    result: list[int] = []
    client.on_connect = lambda c, u, f, rc, p: result.append(rc.value)
    client.connect("127.0.0.1", port)
    for _ in range(100):
        client.loop(0.05)
        if result:
            break
    client.disconnect()
    return result[0]


@pytest.fixture
def acl_broker(tmp_path: Path) -> object:
    passwd = tmp_path / "passwd"
    for user, password in (("robot-a", "pw-a"), ("robot-b", "pw-b"), ("dolbom-cloud", "pw-c")):
        flag = ["-c"] if not passwd.exists() else []
        subprocess.run(["mosquitto_passwd", "-b", *flag, str(passwd), user, password], check=True)
    conf = f"allow_anonymous false\npassword_file {passwd}\nacl_file {ACL}\n"
    with private_mosquitto(conf) as port:
        yield port


def test_robot_publishes_only_on_its_own_topics(acl_broker: int) -> None:
    port = acl_broker
    with Recorder(
        port, ["dolbom/v1/devices/+/events"], username="dolbom-cloud", password="pw-c"
    ) as cloud:
        robot = _client(port, "robot-a", "pw-a")
        robot.connect("127.0.0.1", port)
        robot.loop_start()
        robot.publish(events_topic("robot-b"), b"forged", qos=1).wait_for_publish(5)
        robot.publish(events_topic("robot-a"), b"mine", qos=1).wait_for_publish(5)
        assert cloud.wait_for(lambda msgs: len(msgs) >= 1, 5)
        robot.loop_stop()
        robot.disconnect()
    topics = [m.topic for m in cloud.messages]
    assert topics == [events_topic("robot-a")]


def test_robot_cannot_read_another_robots_commands(acl_broker: int) -> None:
    port = acl_broker
    with Recorder(port, [commands_topic("robot-b")], username="robot-a", password="pw-a") as spy:
        cloud = _client(port, "dolbom-cloud", "pw-c")
        cloud.connect("127.0.0.1", port)
        cloud.loop_start()
        cloud.publish(commands_topic("robot-b"), b"{}", qos=1).wait_for_publish(5)
        cloud.loop_stop()
        cloud.disconnect()
        assert not spy.wait_for(lambda msgs: len(msgs) >= 1, 1.0)


def test_wrong_password_is_refused(acl_broker: int) -> None:
    assert _connect_rc(acl_broker, "robot-a", "wrong") != 0
    assert _connect_rc(acl_broker, "robot-a", "pw-a") == 0


def test_only_the_cloud_writes_stored_reports_and_each_robot_reads_only_its_own(
    acl_broker: int,
) -> None:
    port = acl_broker
    with (
        Recorder(port, [stored_topic("robot-a")], username="robot-a", password="pw-a") as own,
        Recorder(port, [stored_topic("robot-b")], username="robot-a", password="pw-a") as spy,
    ):
        forger = _client(port, "robot-b", "pw-b")
        forger.connect("127.0.0.1", port)
        forger.loop_start()
        forger.publish(stored_topic("robot-a"), b"forged", qos=1).wait_for_publish(5)
        forger.loop_stop()
        forger.disconnect()
        cloud = _client(port, "dolbom-cloud", "pw-c")
        cloud.connect("127.0.0.1", port)
        cloud.loop_start()
        cloud.publish(stored_topic("robot-b"), b"for b", qos=1).wait_for_publish(5)
        cloud.publish(stored_topic("robot-a"), b"for a", qos=1).wait_for_publish(5)
        cloud.loop_stop()
        cloud.disconnect()
        assert own.wait_for(lambda msgs: len(msgs) >= 1, 5)
        assert not spy.wait_for(lambda msgs: len(msgs) >= 1, 1.0)
    assert [m.payload for m in own.messages] == [b"for a"]
