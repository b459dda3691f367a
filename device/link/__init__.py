"""The robot's connection to the cloud: MQTT with a durable outbox behind it."""

from device.link.backoff import next_delay
from device.link.mqtt import MqttLink

__all__ = ["MqttLink", "next_delay"]
