"""Commands from the cloud to a device, and the device's result for each."""

import json
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from protocol.errors import ProtocolError
from protocol.topics import DEVICE_ID_PATTERN


class CommandType(StrEnum):
    """What the cloud can ask of a robot."""

    ALERT_ACK = "alert_ack"  # a caregiver acknowledged: the robot tells the senior help is coming
    SCHEDULE = "schedule"  # reminder schedules
    SETTINGS = "settings"
    MODEL_ROLLOUT = "model_rollout"
    CONSENT = "consent"
    DATA_DELETION = "data_deletion"
    SAY_MESSAGE = "say_message"  # a caregiver's short message, said aloud at a good moment


class Command(BaseModel):
    """One command; `command_id` is unique and echoed in the result."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: int = 1
    command_id: str = Field(min_length=1, max_length=64)
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    ts: AwareDatetime
    type: CommandType
    payload: dict[str, Any] = Field(default_factory=dict)


class CommandResult(BaseModel):
    """The device's answer to one command."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: int = 1
    command_id: str = Field(min_length=1, max_length=64)
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    ts: AwareDatetime
    ok: bool
    detail: str = Field(default="", max_length=500)


HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_SPEC_ID = r"^[a-z0-9_.:-]{1,64}$"


class ReminderSpec(BaseModel):
    """One reminder in a `schedule` command: local times ("HH:MM") on weekdays (0 = Monday)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int | Annotated[str, Field(pattern=_SPEC_ID)]
    kind: str = Field(min_length=1, max_length=32)  # medicine, meal, water, walk, other
    label: str = Field(min_length=1, max_length=200)
    times: list[Annotated[str, Field(pattern=HHMM_PATTERN)]] = Field(min_length=1, max_length=24)
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: list(range(7)), min_length=1, max_length=7
    )


class ScreeningSpec(BaseModel):
    """A study's screening for the robot to ask aloud, on a day from `due` to `until`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_SPEC_ID)
    instrument: str = Field(min_length=1, max_length=32)  # protocol.instruments.InstrumentId
    due: date
    until: date | None = None  # None: a week after `due`


class SchedulePayload(BaseModel):
    """The payload of a `schedule` command (or the `dialog` key of a `settings` command).

    A part that is absent is left as it is on the robot: the reminders router sends
    `reminders`, a study sends `screenings`. An empty list clears that part.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str | None = Field(default=None, max_length=64)  # IANA name, e.g. "Asia/Seoul"
    reminders: list[ReminderSpec] | None = Field(default=None, max_length=100)
    screenings: list[ScreeningSpec] | None = Field(default=None, max_length=20)


MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$"


class ModelRolloutPayload(BaseModel):
    """The payload of a `model_rollout` command: which package to fetch from the cloud's API.

    No URL: the robot fetches `/model-packages/{name}/{version}/sidecar` and
    `/model-packages/{name}/{version}/model?chunk=i` (i < chunks, `chunk_bytes` each) from
    its configured cloud, with `token` (signed by the cloud for this device and package) as
    the bearer token, and checks both sha256 digests before installing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=MODEL_NAME_PATTERN)
    version: str = Field(pattern=SEMVER_PATTERN, max_length=32)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # of the .onnx
    size_bytes: int = Field(gt=0, le=64 * 2**20)
    sidecar_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    chunk_bytes: int = Field(ge=4096, le=4 * 2**20)
    chunks: int = Field(ge=1, le=16_384)
    token: str = Field(min_length=16, max_length=1024)


MESSAGE_MAX_CHARS = 200
SENDER_MAX_CHARS = 40
_ALLOWED_FORMAT = {"\u200d"}  # the zero-width joiner inside emoji sequences


def spoken_text(value: str) -> str:
    """Text the robot may say: whitespace (newlines too) collapsed to single spaces; control
    and invisible format characters refused (they hide text from the sender's review)."""
    for ch in value:
        category = unicodedata.category(ch)
        if ch in "\t\n\r" or ch in _ALLOWED_FORMAT:
            continue
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ValueError(f"character U+{ord(ch):04X} is not allowed")
    text = " ".join(value.split())
    if not text:
        raise ValueError("the text is empty")
    return text


MessageText = Annotated[
    str, Field(min_length=1, max_length=MESSAGE_MAX_CHARS), AfterValidator(spoken_text)
]
SenderName = Annotated[
    str, Field(min_length=1, max_length=SENDER_MAX_CHARS), AfterValidator(spoken_text)
]


class SayMessagePayload(BaseModel):
    """The payload of a `say_message` command: a caregiver's short message for the senior.

    The robot keeps it (a bounded queue) and says it at a good moment: the senior is there
    (heard, touched or sensed lately), not in quiet hours, no safety check running, nothing
    else holding the floor. Then it reports a `message` event: `spoken`, or `expired` (still
    unsaid at `expires_at`) or `dropped` (the queue was full): the id only, never words.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    message_id: str = Field(pattern=_SPEC_ID)
    sender: SenderName  # how the robot names who wrote it, e.g. "딸 지영"
    text: MessageText
    expires_at: AwareDatetime


M = TypeVar("M", bound=BaseModel)


def _decode(raw: bytes, model: type[M]) -> M:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"{model.__name__} is not UTF-8 JSON: {e}") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise ProtocolError(f"{model.__name__} {where}: {first['msg']}") from None


def decode_command(raw: bytes) -> Command:
    """Parse a command, or raise ProtocolError."""
    return _decode(raw, Command)


def decode_result(raw: bytes) -> CommandResult:
    """Parse a command result, or raise ProtocolError."""
    return _decode(raw, CommandResult)
