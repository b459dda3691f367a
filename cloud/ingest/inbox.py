"""The bounded in-memory queue between paho's thread and the ingest thread; critical overtakes."""

import threading
import time
from collections import deque
from dataclasses import dataclass

from cloud.ingest.handler import SAFETY_TYPES, ParsedMessage
from protocol import Priority


@dataclass(frozen=True, slots=True)
class Received:
    """One message paho handed over, decoded once; `mid`/`qos`/`generation` acknowledge it."""

    message: ParsedMessage
    mid: int = 0
    qos: int = 0
    generation: int = 0
    received_s: float = 0.0  # time.monotonic() when paho delivered it

    @property
    def urgent(self) -> bool:
        """Critical events and safety events (emergency, fall, no response, inactivity, whatever
        priority the robot gave them) overtake everything queued."""
        env = self.message.envelope
        return self.message.priority is Priority.CRITICAL or (
            env is not None and env.type in SAFETY_TYPES
        )


class Inbox:
    """Two lanes, critical and the rest, holding at most `capacity` messages together."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._urgent: deque[Received] = deque()
        self._normal: deque[Received] = deque()
        self._changed = threading.Condition()
        # How many routine messages the waiting `take` wants before it stops filling: `put`
        # wakes it only for the first message, an urgent one, or a full batch, not for each
        # (a 500-message fill woke the ingest thread 500 times, each a GIL hand-over).
        self._want = 1

    def __len__(self) -> int:
        with self._changed:
            return len(self._urgent) + len(self._normal)

    def put(self, item: Received, timeout_s: float, *, force: bool = False) -> bool:
        """Queue a message; False when the inbox stayed full for `timeout_s`.

        `force` queues it even when full (a broker resending its unacknowledged messages after
        a reconnect: Mosquitto 2.0 resends all of them at once, past the receive window).
        """
        with self._changed:
            if not force and not self._changed.wait_for(self._has_room, timeout_s):
                return False
            urgent = item.urgent
            (self._urgent if urgent else self._normal).append(item)
            queued = len(self._urgent) + len(self._normal)
            if urgent or queued == 1 or len(self._normal) >= self._want:
                self._changed.notify_all()
            return True

    def urgent_waiting(self) -> bool:
        """True when a critical message waits (the ingest thread then yields to it)."""
        return bool(self._urgent)

    def take(self, max_items: int, wait_s: float, fill_s: float) -> list[Received]:
        """Critical messages at once if any; else up to `max_items`, filling for `fill_s`.

        A critical batch brings its devices' queued messages along (`processing_order` keeps
        a device's order). Waits up to `wait_s` for the first message; [] when none came.
        """
        with self._changed:
            if not self._changed.wait_for(self._has_any, wait_s):
                return []
            deadline = time.monotonic() + fill_s
            self._want = max_items
            try:
                while not self._urgent and len(self._normal) < max_items:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
            finally:
                self._want = 1
            if self._urgent:
                batch = self._take_urgent(max_items)
            else:
                batch = [self._normal.popleft() for _ in range(min(max_items, len(self._normal)))]
            self._changed.notify_all()
            return batch

    def _take_urgent(self, max_items: int) -> list[Received]:
        """The critical messages, with their devices' queued others: a device keeps its order."""
        urgent = [self._urgent.popleft() for _ in range(min(max_items, len(self._urgent)))]
        devices = {r.message.device_id for r in urgent}
        kept: deque[Received] = deque()
        for r in self._normal:
            (urgent if r.message.device_id in devices else kept).append(r)
        self._normal = kept
        return sorted(urgent, key=lambda r: r.received_s)  # arrival order; stable

    def drop_before(self, generation: int) -> int:
        """Forget queued messages of connections before `generation`; how many were dropped.

        They can no longer be acknowledged: a persistent session's broker sends them again on
        the new connection. Kept, they would fill the inbox with work whose acks are thrown
        away, and paho's thread, waiting for room, would stop answering the broker.
        """
        with self._changed:
            before = len(self._urgent) + len(self._normal)
            self._urgent = deque(r for r in self._urgent if r.generation >= generation)
            self._normal = deque(r for r in self._normal if r.generation >= generation)
            self._changed.notify_all()
            return before - len(self._urgent) - len(self._normal)

    def _has_room(self) -> bool:
        return len(self._urgent) + len(self._normal) < self._capacity

    def _has_any(self) -> bool:
        return bool(self._urgent or self._normal)
