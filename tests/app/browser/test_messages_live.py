"""A caregiver's message over the real Mosquitto: the API sends `say_message`, the robot's own
dialog stage takes the command as it arrives on the wire, says it once the senior is sensed,
and its `message` event, published back to the broker, shows on the open page as heard."""

import uuid
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser

from device.clock import ScaledClock
from device.config import DeviceConfig
from device.dialog.stage import DialogStage
from device.sensors import Presence
from protocol import EventType, commands_topic, decode_command, encode, events_topic
from protocol.envelope import make_envelope
from protocol.events import MessagePayload
from tests.app.browser.pages import _login
from tests.cloud.api.conftest import PASSWORD
from tests.cloud.helpers import MqttPeer, wait_until
from tests.device.dialog.test_stage import FakeContext

pytestmark = pytest.mark.mosquitto

TEXT = "엄마, 저녁에 전화할게요"
SEOUL = ZoneInfo("Asia/Seoul")


def test_a_message_reaches_the_robots_dialog_and_comes_back_heard(
    cloud: tuple[str, str],
    chromium: Browser,
    mqtt_broker: tuple[str, int],
    tmp_path: Path,
) -> None:
    base_url, device = cloud
    robot = MqttPeer(*mqtt_broker, subscribe=[commands_topic(device)])
    try:
        page = chromium.new_context(base_url=base_url, locale="en-US").new_page()
        _login(page, "alice")
        page.goto("/app/seniors/s-a/messages")
        page.fill("#msg-text", TEXT)
        page.fill("#msg-sender", "딸 지영")
        page.locator("#msg-text").locator("xpath=ancestor::form").locator("button").click()
        page.wait_for_selector("#msg-list >> text=Waiting for a good moment")

        _, raw = wait_until(lambda: next(iter(robot.messages), None), what="say_message")
        command = decode_command(raw)
        # The robot's dialog stage, at 10:00 in Seoul today (outside its quiet hours).
        today = datetime.now(SEOUL).date()
        clock = ScaledClock(1.0, datetime.combine(today, time(10, 0), tzinfo=SEOUL))
        stage = DialogStage.from_config(
            DeviceConfig(device_id=device, data_dir=tmp_path / "robot", speech_out="print")
        )
        ctx = FakeContext(clock)
        stage.start(ctx)
        result = stage.on_command(command)
        assert result is not None
        assert result.ok, result.detail
        [arrived] = ctx.posted
        stage.handle(arrived, 0.0)
        stage.tick(1.0)
        assert not any(TEXT in line for line in ctx.said)  # nobody sensed yet: it waits
        stage.handle(Presence(True, 2.0), 2.0)
        stage.tick(3.0)
        assert any(TEXT in line for line in ctx.said)
        [report] = [p for t, p in ctx.emitted if t is EventType.MESSAGE]
        assert report["status"] == "spoken"
        env = make_envelope(
            device,
            1,
            MessagePayload.model_validate(report),
            event_type=EventType.MESSAGE,
            ts=clock.now(),
            epoch=uuid.uuid4().int >> 80,
        )
        robot.publish(events_topic(device), encode(env))

        with httpx.Client(base_url=base_url) as api:
            token = api.post("/auth/login", json={"username": "alice", "password": PASSWORD})
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            wait_until(
                lambda: (
                    api.get("/seniors/s-a/messages", headers=auth).json()[0]["state"] == "spoken"
                ),
                what="the robot's report in the store",
            )
        page.reload()
        page.wait_for_selector("#msg-list >> text=Heard at")
    finally:
        robot.close()
