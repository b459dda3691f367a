"""JSON Schema export of the whole contract (`dolbom protocol schema`)."""

from typing import Any

from pydantic import BaseModel

from protocol.commands import (
    Command,
    CommandResult,
    CommandType,
    ModelRolloutPayload,
    SayMessagePayload,
    SchedulePayload,
)
from protocol.consent import ConsentCommandPayload, DataDeletionPayload
from protocol.delivery import StoredReport
from protocol.envelope import PROTOCOL_VERSION, Envelope
from protocol.events import DEFAULT_PRIORITY, PAYLOAD_MODELS
from protocol.topics import ROOT, TopicKind

COMMAND_PAYLOADS: dict[CommandType, type[BaseModel]] = {
    CommandType.SCHEDULE: SchedulePayload,
    CommandType.MODEL_ROLLOUT: ModelRolloutPayload,
    CommandType.CONSENT: ConsentCommandPayload,
    CommandType.DATA_DELETION: DataDeletionPayload,
    CommandType.SAY_MESSAGE: SayMessagePayload,
}
"""The commands whose payload has a model (alert_ack and settings are free-form)."""


def contract_schema() -> dict[str, Any]:
    """One document: envelope, a payload schema per event type, commands, results, topics."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dolbom wire contract",
        "version": PROTOCOL_VERSION,
        "topics": {kind.value: f"{ROOT}/{{device_id}}/{kind.value}" for kind in TopicKind},
        "envelope": Envelope.model_json_schema(),
        "payloads": {
            t.value: {**m.model_json_schema(), "x-default-priority": DEFAULT_PRIORITY[t].value}
            for t, m in PAYLOAD_MODELS.items()
        },
        "command": Command.model_json_schema(),
        "command_payloads": {t.value: m.model_json_schema() for t, m in COMMAND_PAYLOADS.items()},
        "command_result": CommandResult.model_json_schema(),
        "stored_report": StoredReport.model_json_schema(),
    }
