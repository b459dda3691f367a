"""The bounded in-memory queue between paho's thread and the ingest threads; critical overtakes.

One ingest thread (`Inbox(capacity)`): `take` hands out critical messages first, and the thread
yields to one that arrives while it stores a batch. With an urgent lane
(`Inbox(capacity, urgent_lane=True)`, PostgreSQL): a thread of its own takes critical messages
(`take_urgent`) and stores them on its own connection while the routine thread goes on; `take`
hands out routine messages only, and none of a device whose critical message is being stored,
so a device's later messages still come after it (an "I'm fine" after its fall).
"""

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

    def __init__(self, capacity: int, *, urgent_lane: bool = False) -> None:
        self._capacity = capacity
        self.urgent_lane = urgent_lane
        self._urgent: deque[Received] = deque()
        self._normal: deque[Received] = deque()
        self._changed = threading.Condition()
        self._arrivals = 0  # critical messages queued so far: the routine thread yields on a change
        # Urgent lane: per device, its critical messages queued or in the lane's hands
        self._busy: dict[str | None, int] = {}
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
            self._arrivals += urgent
            if urgent and self.urgent_lane:
                self._mark(item, 1)
            queued = len(self._urgent) + len(self._normal)
            if urgent or queued == 1 or len(self._normal) >= self._want:
                self._changed.notify_all()
            return True

    def urgent_waiting(self) -> bool:
        """True when a critical message waits (the ingest thread then yields to it)."""
        return bool(self._urgent)

    def urgent_arrivals(self) -> int:
        """How many critical messages were queued so far: a change means one arrived."""
        return self._arrivals

    def held_back(self, batch: list[Received]) -> tuple[list[Received], list[Received]]:
        """(messages the routine thread may store now, those of devices whose critical message
        is queued or being stored). A device is busy from its critical message's `put`, so
        after taking `urgent_arrivals()` the routine thread sees every such device here or
        sees the count change."""
        with self._changed:
            if not self._busy:
                return batch, []
            free = [r for r in batch if r.message.device_id not in self._busy]
            return free, [r for r in batch if r.message.device_id in self._busy]

    def wait_lane_idle(self, timeout_s: float) -> bool:
        """Wait until no critical message is queued or being stored; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._urgent and not self._busy, timeout_s)

    def requeue(self, batch: list[Received]) -> None:
        """Put routine messages taken earlier back at the front (in their order), whatever
        the room: they are stored once their device's critical message is."""
        with self._changed:
            self._normal.extendleft(reversed(batch))
            self._changed.notify_all()

    def take(self, max_items: int, wait_s: float, fill_s: float) -> list[Received]:
        """Critical messages at once if any; else up to `max_items`, filling for `fill_s`.

        A critical batch brings its devices' queued messages along (`processing_order` keeps
        a device's order). Waits up to `wait_s` for the first message; [] when none came.
        With an urgent lane: routine messages only, none of a device in `take_urgent`'s hands.
        """
        lane = self.urgent_lane
        with self._changed:
            if not self._changed.wait_for(lambda: self._ready(lane) > 0, wait_s):
                return []
            deadline = time.monotonic() + fill_s
            self._want = max_items
            try:
                while (lane or not self._urgent) and self._ready(lane) < max_items:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
            finally:
                self._want = 1
            if self._urgent and not lane:
                batch = self._take_urgent(max_items)
            elif self._busy:
                batch, kept = [], deque[Received]()
                for r in self._normal:
                    free = len(batch) < max_items and r.message.device_id not in self._busy
                    (batch if free else kept).append(r)
                self._normal = kept
            else:
                batch = [self._normal.popleft() for _ in range(min(max_items, len(self._normal)))]
            self._changed.notify_all()
            return batch

    def take_urgent(self, max_items: int, wait_s: float) -> list[Received]:
        """The urgent lane's thread: critical messages with their devices' queued others.

        Their devices stay out of `take` from the critical message's `put` until
        `release`: a message a device sent after its emergency is stored after it, and the
        routine thread never holds the device's row while the lane waits for it. Waits up to
        `wait_s`; [] when none came.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._urgent), wait_s):
                return []
            batch = self._take_urgent(max_items)
            self._changed.notify_all()
            return batch

    def release(self, batch: list[Received]) -> None:
        """Part of `take_urgent`'s batch is settled (stored, or left to the broker): its
        devices are free for `take` again once none of their critical messages is left."""
        with self._changed:
            for r in batch:
                if r.urgent:
                    self._mark(r, -1)
            self._changed.notify_all()

    def _mark(self, item: Received, delta: int) -> None:
        device = item.message.device_id
        left = self._busy.get(device, 0) + delta
        if left > 0:
            self._busy[device] = left
        else:
            self._busy.pop(device, None)

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
            for r in self._urgent:
                if r.generation < generation and self.urgent_lane:
                    self._mark(r, -1)
            self._urgent = deque(r for r in self._urgent if r.generation >= generation)
            self._normal = deque(r for r in self._normal if r.generation >= generation)
            self._changed.notify_all()
            return before - len(self._urgent) - len(self._normal)

    def _has_room(self) -> bool:
        return len(self._urgent) + len(self._normal) < self._capacity

    def _ready(self, lane: bool) -> int:
        """Messages `take` may hand out now (an upper bound is enough without busy devices)."""
        if not lane:
            return len(self._urgent) + len(self._normal)
        if not self._busy:
            return len(self._normal)
        return sum(r.message.device_id not in self._busy for r in self._normal)
