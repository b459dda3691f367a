"""Acknowledgements in the order the broker sent the messages (MQTT 5, MQTT-4.6.0-2).

The worker stores the most urgent messages first, so it settles them out of order: an
emergency that arrives behind 5,000 heartbeats is stored before them. MQTT 5 requires a
receiver to send PUBACK (QoS 1) and PUBREC (QoS 2) in the order the PUBLISH packets arrived;
Mosquitto tolerates any order, but a broker that takes acknowledgements in order only (rumqttd
settles the oldest message in flight whatever packet id the ack names) would lose the message
left unacknowledged and send an acknowledged one again. So storing may jump the queue, but
acknowledging may not: a settled message's ack waits until every message received before it
on the same connection is settled too. The wait is for storage of messages already in hand
(milliseconds), never for an alert: alerts go out when the row commits, not when it is acked.
"""

import threading
from collections import deque
from collections.abc import Iterable


class AckOrder:
    """The acknowledgements that may go out now, in arrival order, for one connection at a time.

    `received` is called on paho's thread for every QoS 1/2 message as it is queued; `settle`
    on the worker's thread with what was stored (or dead-lettered). A new connection (another
    `generation`) starts a new order: the old connection's messages can't be acknowledged on
    it, the broker sends them again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._order: deque[tuple[int, int]] = deque()  # (mid, qos), oldest first
        self._settled: set[int] = set()

    def received(self, generation: int, mid: int, qos: int) -> None:
        if qos == 0:
            return  # nothing to acknowledge
        with self._lock:
            if generation != self._generation:
                self._restart(generation)
            self._order.append((mid, qos))

    def settle(self, generation: int, mids: Iterable[int]) -> list[tuple[int, int]]:
        """Mark `mids` settled; the (mid, qos) pairs whose acks may go out now, in order."""
        with self._lock:
            if generation != self._generation:
                return []  # a connection that is gone: the broker sends them again
            self._settled.update(mids)
            ready: list[tuple[int, int]] = []
            while self._order and self._order[0][0] in self._settled:
                mid, qos = self._order.popleft()
                self._settled.discard(mid)  # a packet id is reused once acknowledged
                ready.append((mid, qos))
            return ready

    def waiting(self) -> int:
        """Messages received on this connection and not yet acknowledged."""
        with self._lock:
            return len(self._order)

    def _restart(self, generation: int) -> None:
        self._generation = generation
        self._order.clear()
        self._settled.clear()
