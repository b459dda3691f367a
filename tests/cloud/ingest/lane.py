"""An ingest worker driven without a broker: its acknowledgements recorded instead of sent, and
messages handed to its inbox as paho's thread does (`IngestWorker._enqueue`)."""

from collections.abc import Sequence

from paho.mqtt.enums import MQTTErrorCode

from cloud.ingest import IngestWorker, Received, parse_message
from protocol import events_topic


def recorded_acks(worker: IngestWorker) -> list[int]:
    """The list the worker's acknowledgements go to, in the order it sends them."""
    acked: list[int] = []

    def ack_many(mids: Sequence[int]) -> MQTTErrorCode:
        acked.extend(mids)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    worker._client.ack_many = ack_many  # type: ignore[method-assign]
    return acked


def received(device_id: str, raw: bytes, mid: int) -> Received:
    """`raw` as the worker receives it on the robot's events topic (QoS 1, message id `mid`)."""
    return Received(parse_message(events_topic(device_id), raw), mid=mid, qos=1, received_s=mid)


def hand_in(worker: IngestWorker, item: Received) -> None:
    """Into the worker's inbox, its arrival noted for the in-order acknowledgements."""
    worker._ack_order.received(item.generation, item.mid, item.qos)
    assert worker._inbox.put(item, timeout_s=0)
