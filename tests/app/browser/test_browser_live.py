"""The whole path in chromium: an emergency published to the real Mosquitto appears on the
caregiver's open page (ingest, alert engine, SSE stream, htmx), and the tap on 'I'm on it'
reaches the robot as a command over the broker."""

import json

import pytest
from playwright.sync_api import Browser

from protocol import commands_topic, events_topic
from tests.app.browser.pages import _login
from tests.cloud.helpers import MqttPeer, emergency, wait_until

pytestmark = pytest.mark.mosquitto


def test_an_emergency_over_mqtt_appears_on_the_open_page_and_the_ack_reaches_the_robot(
    cloud: tuple[str, str], chromium: Browser, mqtt_broker: tuple[str, int]
) -> None:
    base_url, device = cloud
    robot = MqttPeer(*mqtt_broker, subscribe=[commands_topic(device)])
    try:
        page = chromium.new_context(base_url=base_url, locale="en-US").new_page()
        _login(page, "alice")
        assert page.locator("#cards >> text=Emergency call").count() == 0
        robot.publish(events_topic(device), emergency(device, 1))
        # no reload: the alert stream tells the page, which fetches its cards again
        page.wait_for_selector("#cards >> text=Emergency call")
        page.click("#cards a.alertlink >> text=Emergency call")  # the alert, not the status line
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
