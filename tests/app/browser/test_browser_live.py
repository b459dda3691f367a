"""The whole path in chromium: an emergency published to the real Mosquitto appears on the
caregiver's open page (ingest, alert engine, SSE stream, htmx), and the tap on 'I'm on it'
reaches the robot as a command over the broker."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from pydantic import SecretStr

from cloud.accounts import Passwords, create_account
from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store.models import CaregiverLink, Device, Role, Senior
from protocol import commands_topic, events_topic
from tests.cloud.api.conftest import PASSWORD
from tests.cloud.helpers import NOW, MqttPeer, emergency, new_device_id, wait_until

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def cloud(
    mqtt_broker: tuple[str, int], tmp_path: Path, passwords: Passwords
) -> Iterator[tuple[str, str]]:
    """The cloud (ingest, alerts, API and app) on Mosquitto; (its URL, the robot's id)."""
    host, port = mqtt_broker
    settings = CloudSettings(
        database_url=f"sqlite:///{tmp_path / 'cloud.sqlite3'}",
        mqtt_host=host,
        mqtt_port=port,
        mqtt_share_group=f"test-{uuid.uuid4().hex[:10]}",
        api_token=SecretStr("live-test-token-0123"),
        auth_secret=SecretStr("live-test-secret-0123456789-0123456789-abc"),
        auth_cookie_secure=False,
        http_port=0,
        sse_poll_s=0.05,
        data_dir=str(tmp_path / "data"),
    )
    svc = CloudService(settings)
    svc.start(mqtt_wait_s=10)
    try:
        assert svc.worker is not None
        assert svc.worker.wait_subscribed(10), "the cloud could not subscribe on Mosquitto"
        device = new_device_id()
        with svc.sessions() as s, s.begin():
            alice = create_account(
                s, passwords, username="alice", role=Role.CAREGIVER, password=PASSWORD, now=NOW
            )
            s.add(Senior(id="s-a", display_name="김순자", settings={}, created_at=NOW))
            s.flush()
            s.add(CaregiverLink(account_id=alice.id, senior_id="s-a", relation="daughter"))
            s.add(Device(id=device, senior_id="s-a", first_seen=NOW, last_seen=NOW))
        url = svc.start_api()
        yield url, device
    finally:
        svc.stop()


def test_an_emergency_over_mqtt_appears_on_the_open_page_and_the_ack_reaches_the_robot(
    cloud: tuple[str, str], chromium: Browser, mqtt_broker: tuple[str, int]
) -> None:
    base_url, device = cloud
    robot = MqttPeer(*mqtt_broker, subscribe=[commands_topic(device)])
    try:
        page = chromium.new_context(base_url=base_url, locale="en-US").new_page()
        page.goto("/app/login")
        page.fill("#username", "alice")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/")
        assert page.locator("#cards >> text=Emergency call").count() == 0
        robot.publish(events_topic(device), emergency(device, 1))
        # no reload: the alert stream tells the page, which fetches its cards again
        page.wait_for_selector("#cards >> text=Emergency call")
        page.click("#cards >> text=Emergency call")
        page.click("text=I'm on it (acknowledge)")
        page.wait_for_selector("text=The robot tells the senior who is coming")
        topic, raw = wait_until(
            lambda: next(iter(robot.messages), None), what="the ack command at the robot"
        )
        command = json.loads(raw)
        assert topic == commands_topic(device)
        assert command["type"] == "alert_ack"
    finally:
        robot.close()
