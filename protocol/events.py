"""Event types, priorities and the payload model of each type.

Payloads carry derived numbers and labels only: every model forbids extra fields, and none has
a field for words or audio, so a transcript cannot ride along by accident.
"""

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventType(StrEnum):
    """Every event a device may send."""

    HEARTBEAT = "heartbeat"
    EMERGENCY = "emergency"
    FALL = "fall"
    NO_RESPONSE = "no_response"
    INACTIVITY = "inactivity"
    CHECK_IN = "check_in"
    MOOD = "mood"
    ACTIVITY = "activity"
    CONVERSATION = "conversation"
    REMINDER = "reminder"
    SCREENING = "screening"
    TOUCH = "touch"
    BATTERY = "battery"
    DEVICE_FAULT = "device_fault"
    CONSENT = "consent"
    SAFETY_CHECK = "safety_check"
    MESSAGE = "message"  # what became of a caregiver's message (say_message): never its words


class Priority(StrEnum):
    """Delivery priority: the outbox sends critical events before everything else."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 is sent first."""
        return _RANK[self]


_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

Label = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.:-]+$")]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]
Minutes = Annotated[float, Field(ge=0.0)]


class Payload(BaseModel):
    """Base of every payload: frozen, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(Payload):
    """A payload that summarises a time window."""

    period_start: AwareDatetime
    period_end: AwareDatetime


class SelfTest(Payload):
    """One self-test result."""

    name: Label
    ok: bool
    detail: str = Field(default="", max_length=200)


class TriggerSource(StrEnum):
    """What raised an emergency."""

    VOICE = "voice"
    BUTTON = "button"
    DISTRESS_SOUND = "distress_sound"  # a wordless distress sound, then no "I'm fine"


class CountdownOutcome(StrEnum):
    """How the "are you OK?" countdown ended."""

    SKIPPED = "skipped"  # a spoken call for help: no question asked
    HELP_REQUESTED = "help_requested"  # the senior asked for help during the countdown
    SILENCE = "silence"  # nobody answered before the deadline
    CANCELLED = "cancelled"  # "I'm fine": a near miss, logged


class HeartbeatPayload(Payload):
    uptime_s: float = Field(ge=0)
    agent_version: str = Field(max_length=32)
    outbox_pending: Count
    self_tests: list[SelfTest] = Field(default_factory=list, max_length=32)
    rss_mb: float | None = Field(default=None, ge=0)


class EmergencyPayload(Payload):
    trigger: TriggerSource
    intent: Label | None = None
    confidence: Share = 1.0
    language: Label | None = None
    countdown: CountdownOutcome = CountdownOutcome.SKIPPED
    detected_at: AwareDatetime | None = None


class SafetyCheckPayload(Payload):
    """The robot asked "do you need help?" (a maybe-call for help, or a distress sound) and
    the senior said they are fine. A number and labels only: never the words or the sound."""

    cause: TriggerSource
    confidence: Share
    countdown: CountdownOutcome = CountdownOutcome.CANCELLED
    sound: Label | None = None  # the sound classifier's class, for a distress sound


class FallPayload(Payload):
    confidence: Share
    countdown: CountdownOutcome
    impact_g: float | None = Field(default=None, ge=0)


class NoResponsePayload(Payload):
    context: Label
    waited_s: float = Field(ge=0)


class InactivityPayload(Payload):
    last_activity: AwareDatetime
    hours: float = Field(ge=0)


class CheckInPayload(Payload):
    question_id: Label
    answer: Label
    mood: Label | None = None


class MoodPayload(Period):
    shares: dict[Label, Share]
    valence: float = Field(ge=-1.0, le=1.0)
    arousal: float = Field(ge=-1.0, le=1.0)
    utterances: Count


class ActivityPayload(Period):
    """Minutes per class of the band's activity model in the period. Activity 2.x sends
    `still`, `light`, `walking`, `active` and `rest` (still for 20 min or more in a row); a
    wrist cannot tell posture, so 1.x's lying / sitting / standing are no longer sent."""

    minutes: dict[Label, Minutes]


class ConversationPayload(Period):
    turns: Count
    robot_turns: Count
    talk_minutes: Minutes


class ReminderStatus(StrEnum):
    GIVEN = "given"
    CONFIRMED = "confirmed"
    MISSED = "missed"


class ReminderPayload(Payload):
    reminder_id: Label
    kind: Label
    status: ReminderStatus
    attempts: Count = 1


class ScreeningPayload(Payload):
    instrument: Label
    answers: list[int | None] = Field(max_length=64)
    score: float
    complete: bool


class TouchPayload(Period):
    hug: Count = 0
    pat: Count = 0
    squeeze: Count = 0


class BatteryPayload(Payload):
    level_pct: float = Field(ge=0, le=100)
    charging: bool


class DeviceFaultPayload(Payload):
    component: Label
    code: Label
    detail: str = Field(default="", max_length=200)


class ConsentPayload(Payload):
    stream: Label
    granted: bool
    form_version: str = Field(max_length=32)


class MessageStatus(StrEnum):
    """What became of a `say_message` command."""

    SPOKEN = "spoken"  # said aloud with the senior there
    EXPIRED = "expired"  # no good moment came before it expired
    DROPPED = "dropped"  # the robot's queue of unsaid messages was full


class MessagePayload(Payload):
    """A caregiver's message was spoken, expired or dropped: the id and times only."""

    message_id: Label
    status: MessageStatus
    waited_s: float = Field(ge=0)  # from arrival on the robot to this outcome


PAYLOAD_MODELS: dict[EventType, type[Payload]] = {
    EventType.HEARTBEAT: HeartbeatPayload,
    EventType.EMERGENCY: EmergencyPayload,
    EventType.FALL: FallPayload,
    EventType.NO_RESPONSE: NoResponsePayload,
    EventType.INACTIVITY: InactivityPayload,
    EventType.CHECK_IN: CheckInPayload,
    EventType.MOOD: MoodPayload,
    EventType.ACTIVITY: ActivityPayload,
    EventType.CONVERSATION: ConversationPayload,
    EventType.REMINDER: ReminderPayload,
    EventType.SCREENING: ScreeningPayload,
    EventType.TOUCH: TouchPayload,
    EventType.BATTERY: BatteryPayload,
    EventType.DEVICE_FAULT: DeviceFaultPayload,
    EventType.CONSENT: ConsentPayload,
    EventType.SAFETY_CHECK: SafetyCheckPayload,
    EventType.MESSAGE: MessagePayload,
}

DEFAULT_PRIORITY: dict[EventType, Priority] = {
    EventType.EMERGENCY: Priority.CRITICAL,
    EventType.FALL: Priority.CRITICAL,
    EventType.NO_RESPONSE: Priority.CRITICAL,
    EventType.INACTIVITY: Priority.HIGH,
    EventType.DEVICE_FAULT: Priority.HIGH,
    EventType.BATTERY: Priority.NORMAL,
    EventType.CHECK_IN: Priority.NORMAL,
    EventType.REMINDER: Priority.NORMAL,
    EventType.SCREENING: Priority.NORMAL,
    EventType.HEARTBEAT: Priority.LOW,
    EventType.MOOD: Priority.LOW,
    EventType.ACTIVITY: Priority.LOW,
    EventType.CONVERSATION: Priority.LOW,
    EventType.TOUCH: Priority.LOW,
    EventType.CONSENT: Priority.NORMAL,
    EventType.SAFETY_CHECK: Priority.NORMAL,
    EventType.MESSAGE: Priority.NORMAL,
}
