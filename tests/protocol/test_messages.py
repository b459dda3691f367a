"""A caregiver's message to the robot: the `say_message` command, the `message` event, and
their JSON Schemas in the exported contract."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from dolbom.cli import app
from protocol import Command, CommandType, EventType, decode_command, decode_envelope, encode
from protocol.commands import MESSAGE_MAX_CHARS, SayMessagePayload
from protocol.envelope import make_envelope
from protocol.events import MessagePayload, MessageStatus

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)


def _payload(**overrides: object) -> dict[str, object]:
    return {
        "message_id": "0f3c9a",
        "sender": "딸 지영",
        "text": "엄마, 저녁에 전화할게요",
        "expires_at": LATER.isoformat(),
    } | overrides


def test_a_say_message_command_round_trips_through_the_wire() -> None:
    command = Command(
        command_id="c1",
        device_id="robot-001",
        ts=AT,
        type=CommandType.SAY_MESSAGE,
        payload=_payload(),
    )
    decoded = decode_command(command.model_dump_json().encode())
    assert decoded.type is CommandType.SAY_MESSAGE
    message = SayMessagePayload.model_validate(decoded.payload)
    assert (message.sender, message.text) == ("딸 지영", "엄마, 저녁에 전화할게요")
    assert message.expires_at == LATER


def test_whitespace_and_newlines_collapse_to_single_spaces() -> None:
    message = SayMessagePayload.model_validate(_payload(text="  엄마,\n\n저녁에\t전화할게요 "))
    assert message.text == "엄마, 저녁에 전화할게요"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n ",
        "x" * (MESSAGE_MAX_CHARS + 1),
        "bell\x07",
        "right\u202eto-left",
        "zero\u200bwidth",
    ],
    ids=["empty", "blank", "too-long", "control", "bidi-override", "zero-width-space"],
)
def test_empty_long_or_hidden_character_texts_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        SayMessagePayload.model_validate(_payload(text=text))


def test_an_emoji_sequence_with_a_joiner_is_kept() -> None:
    message = SayMessagePayload.model_validate(_payload(text="사랑해요 👩\u200d👧"))
    assert message.text.endswith("👩\u200d👧")


@pytest.mark.parametrize(
    "bad",
    [
        {"message_id": "Has Spaces"},
        {"expires_at": "2026-12-05T21:00:00"},  # no zone
        {"sender": "x" * 41},
        {"audio": "UklGRg=="},  # nothing but the four fields
    ],
    ids=["id", "naive-expiry", "sender", "extra-field"],
)
def test_malformed_payloads_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SayMessagePayload.model_validate(_payload(**bad))


def test_the_message_event_carries_an_id_and_a_status_never_words() -> None:
    payload = MessagePayload(message_id="0f3c9a", status=MessageStatus.SPOKEN, waited_s=42.0)
    env = make_envelope("robot-001", 7, payload, event_type=EventType.MESSAGE, ts=AT)
    back = decode_envelope(encode(env))
    assert back.type is EventType.MESSAGE
    assert back.payload == {"message_id": "0f3c9a", "status": "spoken", "waited_s": 42.0}
    with pytest.raises(ValidationError):
        MessagePayload.model_validate(
            {"message_id": "0f3c9a", "status": "spoken", "waited_s": 1.0, "text": "고마워"}
        )


def test_the_exported_contract_holds_both_schemas(tmp_path: Path) -> None:
    out = tmp_path / "contract.json"
    result = CliRunner().invoke(app, ["protocol", "schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    say = doc["command_payloads"]["say_message"]
    assert set(say["required"]) == {"message_id", "sender", "text", "expires_at"}
    assert say["properties"]["text"]["maxLength"] == MESSAGE_MAX_CHARS
    assert say["additionalProperties"] is False
    assert "say_message" in doc["command"]["$defs"]["CommandType"]["enum"]
    event = doc["payloads"]["message"]
    assert set(event["properties"]) == {"message_id", "status", "waited_s"}
    assert event["x-default-priority"] == "normal"
