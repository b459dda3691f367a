"""Commands from the cloud to a device, and the device's result for each."""

import json
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

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
