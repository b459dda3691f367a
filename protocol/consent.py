"""Consent per data stream: which events each stream covers, and the two privacy commands.

A pilot study asks for consent per stream (Korea's PIPA treats health data as sensitive and
needs a separate consent for each use). The robot applies the same mapping before an event
enters its outbox; safety events are never held back, because a withdrawal from research
must never switch off the care the senior relies on.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from protocol.events import EventType


class DataStream(StrEnum):
    """What a participant consents to, one stream at a time."""

    MOOD = "mood"
    ACTIVITY = "activity"
    CONVERSATION = "conversation"
    SCREENING = "screening"
    ALERTS = "alerts"


STREAM_OF_EVENT: dict[EventType, DataStream] = {
    EventType.MOOD: DataStream.MOOD,
    EventType.CHECK_IN: DataStream.MOOD,
    EventType.ACTIVITY: DataStream.ACTIVITY,
    EventType.TOUCH: DataStream.ACTIVITY,
    EventType.REMINDER: DataStream.ACTIVITY,
    EventType.CONVERSATION: DataStream.CONVERSATION,
    EventType.SCREENING: DataStream.SCREENING,
    EventType.EMERGENCY: DataStream.ALERTS,
    EventType.FALL: DataStream.ALERTS,
    EventType.NO_RESPONSE: DataStream.ALERTS,
    EventType.INACTIVITY: DataStream.ALERTS,
    EventType.SAFETY_CHECK: DataStream.ALERTS,
}

# Sent whatever the consent says: they keep the senior safe and the robot serviceable.
NEVER_FILTERED: frozenset[EventType] = frozenset(
    {
        EventType.EMERGENCY,
        EventType.FALL,
        EventType.NO_RESPONSE,
        EventType.INACTIVITY,
        EventType.SAFETY_CHECK,
        EventType.DEVICE_FAULT,
        EventType.HEARTBEAT,
        EventType.BATTERY,
        EventType.CONSENT,
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsentCommandPayload(_Strict):
    """`consent` command: the participant's current consent, one flag per stream."""

    study_id: str = Field(min_length=1, max_length=64)
    form_version: str = Field(min_length=1, max_length=32)
    streams: dict[DataStream, bool]


class DataDeletionPayload(_Strict):
    """`data_deletion` command: purge queued events of these streams and local transcripts."""

    study_id: str = Field(min_length=1, max_length=64)
    streams: list[DataStream] = Field(max_length=len(DataStream))
    transcripts: bool = True
    reason: str = Field(default="withdrawal", max_length=64)


def event_types_of(streams: set[DataStream] | frozenset[DataStream]) -> frozenset[EventType]:
    """The event types the streams cover, minus those never filtered."""
    return frozenset(
        t for t, s in STREAM_OF_EVENT.items() if s in streams and t not in NEVER_FILTERED
    )
