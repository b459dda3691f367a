"""A caregiver's messages waiting on the robot for a good moment to be said.

Pure: the companion hands in each `say_message` payload with the local time, and asks for the
oldest message when it may speak (senior there, no quiet hours, no safety check, floor free;
`device.dialog.companion` decides that). The book bounds the wait: at most `max_pending`
messages (a further one is dropped), none kept past its `expires_at`, and a message delivered
twice (MQTT is at least once) is said once. Every outcome becomes a `message` event with the
id only: spoken, expired or dropped.
"""

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from device.dialog.actions import Emit
from protocol import EventType
from protocol.commands import SayMessagePayload
from protocol.events import MessagePayload, MessageStatus

REMEMBERED_IDS = 100
"""Ids of settled messages kept to recognise a second delivery of the same command."""


@dataclass(frozen=True)
class MessagePolicy:
    """How long and how many messages wait, and what counts as the senior being there."""

    max_pending: int = 5
    present_within: timedelta = timedelta(minutes=10)
    """Heard, touched or sensed this recently: the senior is in the room to hear it."""


@dataclass(frozen=True)
class PendingMessage:
    """A message not yet said."""

    message_id: str
    sender: str
    text: str
    expires_at: datetime
    received_at: datetime


class MessageBook:
    """The robot's bounded queue of caregivers' messages, oldest first."""

    def __init__(self, policy: MessagePolicy | None = None) -> None:
        self.policy = policy or MessagePolicy()
        self.pending: list[PendingMessage] = []
        self._settled: deque[str] = deque(maxlen=REMEMBERED_IDS)

    def _known(self, message_id: str) -> bool:
        return message_id in self._settled or any(m.message_id == message_id for m in self.pending)

    def _outcome(self, message_id: str, status: MessageStatus, waited: timedelta) -> Emit:
        self._settled.append(message_id)
        waited_s = round(max(0.0, waited.total_seconds()), 1)
        payload = MessagePayload(message_id=message_id, status=status, waited_s=waited_s)
        return Emit(EventType.MESSAGE, payload)

    def add(self, message: SayMessagePayload, now: datetime) -> list[Emit]:
        """Queue a message; one already expired, or one past a full queue, is reported back."""
        if self._known(message.message_id):
            return []  # the same command again: it is queued or settled already
        if message.expires_at <= now:
            return [self._outcome(message.message_id, MessageStatus.EXPIRED, timedelta(0))]
        if len(self.pending) >= self.policy.max_pending:
            return [self._outcome(message.message_id, MessageStatus.DROPPED, timedelta(0))]
        self.pending.append(
            PendingMessage(
                message.message_id, message.sender, message.text, message.expires_at, now
            )
        )
        return []

    def expire(self, now: datetime) -> list[Emit]:
        """Report and forget the messages whose time is over."""
        expired = [m for m in self.pending if m.expires_at <= now]
        if not expired:
            return []
        self.pending = [m for m in self.pending if m.expires_at > now]
        return [
            self._outcome(m.message_id, MessageStatus.EXPIRED, now - m.received_at) for m in expired
        ]

    def next(self, now: datetime) -> PendingMessage | None:
        """The oldest message still valid at `now`."""
        return next((m for m in self.pending if m.expires_at > now), None)

    def spoken(self, message: PendingMessage, now: datetime) -> Emit:
        """The robot said it: off the queue, reported."""
        self.pending = [m for m in self.pending if m.message_id != message.message_id]
        return self._outcome(message.message_id, MessageStatus.SPOKEN, now - message.received_at)

    # -- the device's state file ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Pending messages (a caregiver's words, kept until said or expired) and settled ids."""
        return {
            "pending": [
                {
                    "message_id": m.message_id,
                    "sender": m.sender,
                    "text": m.text,
                    "expires_at": m.expires_at.isoformat(),
                    "received_at": m.received_at.isoformat(),
                }
                for m in self.pending
            ],
            "settled": list(self._settled),
        }

    def load(self, raw: dict[str, Any]) -> None:
        """Back from the state file."""
        self.pending = [
            PendingMessage(
                str(m["message_id"]),
                str(m["sender"]),
                str(m["text"]),
                datetime.fromisoformat(str(m["expires_at"])),
                datetime.fromisoformat(str(m["received_at"])),
            )
            for m in raw.get("pending", [])
        ][: self.policy.max_pending]
        self._settled = deque((str(i) for i in raw.get("settled", [])), maxlen=REMEMBERED_IDS)
