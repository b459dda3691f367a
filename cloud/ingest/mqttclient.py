"""paho-mqtt's client with buffered socket reads and many acknowledgements in one write.

Measured on a 30,000-message backlog (issue 16, `benchmarks/ingest.py --profile`): paho reads a
packet in at least three `recv` calls (its type byte, each byte of its remaining length, then
the rest) after a `select` per packet, and sends every PUBACK as its own packet with a byte to
its wake-up socket pair. That was 139,000 `recv` calls for 30,000 messages; each releases and
takes back the GIL that the ingest thread holds while it stores, and the network thread spent
more time in `recv` than in everything else. Here:

- `_sock_recv` reads up to 64 KiB at once and serves paho's small reads from that buffer (per
  socket: a reconnect starts empty), and `loop_read` keeps reading packets while the buffer
  holds data (the socket's `select` cannot see it);
- `ack_many` queues the PUBACKs of a whole batch as one write (a PUBACK is four bytes:
  type, remaining length 2, packet id; MQTT 5 allows leaving out reason code 0, as paho does);
- `_handle_publish` decodes the common incoming PUBLISH (MQTT 5, QoS 1, acknowledged by us, a
  topic and no properties: what the robots send) without building paho's `Properties` for it:
  that object's constructor and `clear()` were 8 % of the network thread's own time (cProfile,
  30,000-message drain). Anything else (properties present, QoS 0 or 2, a topic alias, paho's
  logging on) goes through paho's own decoder.

Only paho's private `_sock_recv` and `_packet_queue` are used; the pin in pyproject.toml keeps
the paho version they were written against, and tests/cloud/ingest/test_mqttclient.py checks
both against a real broker.
"""

import struct
import time
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

_READ_BYTES = 65536
_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")


class BufferedClient(mqtt.Client):
    """A paho `Client` that reads 64 KiB per `recv` and acknowledges a batch in one write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._rsock: object = None

    def _buffered(self) -> int:
        if self._sock is not self._rsock:  # a new connection: nothing of the old one is kept
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        return len(self._rbuf) - self._rpos

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._buffered():
            data = super()._sock_recv(_READ_BYTES)  # BlockingIOError when nothing waits
            if len(data) <= bufsize:  # b"" (closed) or exactly what was asked for
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start : self._rpos]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read packets until the buffer is empty (each turn consumes at least one byte)."""
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._buffered():
            rc = super().loop_read(max_packets)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        """A QoS 1 MQTT 5 PUBLISH without properties, decoded here; anything else by paho."""
        header: int = self._in_packet["command"]
        packet: bytes | bytearray = self._in_packet["packet"]
        if (
            header & 0x06 != 0x02  # QoS 1 only
            or not self._manual_ack
            or self._protocol != MQTTProtocolVersion.MQTTv5
            or self._logger is not None
            or self.on_log is not None
        ):
            return super()._handle_publish()
        topic_end = 2 + ((packet[0] << 8) | packet[1]) if len(packet) >= 2 else 0
        # topic, packet id (2 bytes), property length 0 (1 byte); an empty topic is an alias
        if topic_end <= 2 or len(packet) < topic_end + 3 or packet[topic_end + 2] != 0:
            return super()._handle_publish()
        message = mqtt.MQTTMessage((packet[topic_end] << 8) | packet[topic_end + 1], b"")
        message.topic = bytes(packet[2:topic_end])
        message.dup = bool(header & 0x08)
        message.qos = 1
        message.retain = bool(header & 0x01)
        message.payload = bytes(packet[topic_end + 3 :])
        message.timestamp = time.monotonic()  # paho's own clock for messages
        self._handle_on_message(message)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> MQTTErrorCode:
        """PUBACK every QoS 1 message id in `mids`, as one write on the network thread."""
        if not mids:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        packet = b"".join(_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids)
        return self._packet_queue(_PUBACK, packet, 0, 0)
