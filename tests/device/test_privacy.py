"""The robot's consent filter and privacy stage: held streams, safety never held, purges."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.outbox import Outbox
from device.privacy import CONSENT_FILE, TRANSCRIPTS_DIR, ConsentFilter, PrivacyStage
from protocol import Command, CommandType, EventType
from protocol.consent import NEVER_FILTERED, STREAM_OF_EVENT, DataStream
from protocol.delivery import SEQS_DROPPED_CODE
from protocol.events import (
    ConversationPayload,
    DeviceFaultPayload,
    EmergencyPayload,
    MoodPayload,
    TriggerSource,
)

NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DEVICE = "dev-privacy"


def _command(kind: CommandType, payload: dict[str, object]) -> Command:
    return Command(
        command_id=uuid.uuid4().hex, device_id=DEVICE, ts=NOW, type=kind, payload=payload
    )


def _consent(**streams: bool) -> Command:
    flags = {s.value: streams.get(s.value, False) for s in DataStream}
    return _command(
        CommandType.CONSENT, {"study_id": "pilot-a", "form_version": "v2", "streams": flags}
    )


def test_robot_in_no_study_sends_everything(tmp_path: Path) -> None:
    f = ConsentFilter.in_dir(tmp_path)
    assert not f.in_study
    assert all(f.allows(t) for t in EventType)


def test_withheld_stream_is_filtered_and_safety_never_is(tmp_path: Path) -> None:
    stage = PrivacyStage(tmp_path, DEVICE)
    result = stage.on_command(_consent(mood=True, activity=True))
    assert result is not None
    assert result.ok
    f = stage.filter
    assert f.allows(EventType.MOOD)
    assert f.allows(EventType.ACTIVITY)
    assert not f.allows(EventType.CONVERSATION)
    assert not f.allows(EventType.SCREENING)
    for t in NEVER_FILTERED:  # alerts withheld too, yet every safety event passes
        assert f.allows(t)
    for t in (
        EventType.EMERGENCY,
        EventType.FALL,
        EventType.NO_RESPONSE,
        EventType.HEARTBEAT,
        EventType.BATTERY,
        EventType.DEVICE_FAULT,
    ):
        assert f.allows(t)


def test_consent_survives_a_restart(tmp_path: Path) -> None:
    PrivacyStage(tmp_path, DEVICE).on_command(_consent(conversation=True))
    again = ConsentFilter.in_dir(tmp_path)
    assert again.in_study
    assert again.allows(EventType.CONVERSATION)
    assert not again.allows(EventType.MOOD)


def test_unreadable_consent_file_holds_every_research_stream(tmp_path: Path) -> None:
    (tmp_path / CONSENT_FILE).write_text("{not json", "utf-8")
    f = ConsentFilter.in_dir(tmp_path)
    assert not any(f.allows(t) for t in STREAM_OF_EVENT if t not in NEVER_FILTERED)
    assert f.allows(EventType.EMERGENCY)


def test_invalid_consent_payload_is_refused_and_state_kept(tmp_path: Path) -> None:
    stage = PrivacyStage(tmp_path, DEVICE)
    stage.on_command(_consent(mood=True))
    bad = _command(CommandType.CONSENT, {"study_id": "x", "streams": {"telepathy": True}})
    result = stage.on_command(bad)
    assert result is not None
    assert not result.ok
    assert "form_version" in result.detail
    assert stage.filter.allows(EventType.MOOD)


def test_data_deletion_purges_queued_events_and_transcripts(tmp_path: Path) -> None:
    outbox_path = tmp_path / "outbox.sqlite3"
    with Outbox(outbox_path, DEVICE) as outbox:
        mood = MoodPayload(
            period_start=NOW,
            period_end=NOW,
            shares={"calm": 1.0},
            valence=0.1,
            arousal=0.0,
            utterances=1,
        )
        talk = ConversationPayload(
            period_start=NOW, period_end=NOW, turns=1, robot_turns=1, talk_minutes=0.5
        )
        outbox.append(EventType.MOOD, mood, ts=NOW)
        outbox.append(EventType.CONVERSATION, talk, ts=NOW)
        outbox.append(EventType.EMERGENCY, EmergencyPayload(trigger=TriggerSource.BUTTON), ts=NOW)
    transcripts = tmp_path / TRANSCRIPTS_DIR / "2026-03-02"
    transcripts.mkdir(parents=True)
    (transcripts / "a.jsonl").write_text('{"text": "..."}\n', "utf-8")
    (transcripts / "b.jsonl").write_text('{"text": "..."}\n', "utf-8")
    stage = PrivacyStage(tmp_path, DEVICE, outbox_path=outbox_path)
    order = {"study_id": "pilot-a", "streams": [s.value for s in DataStream], "transcripts": True}
    result = stage.on_command(_command(CommandType.DATA_DELETION, order))
    assert result is not None
    assert result.ok
    assert result.detail == "purged 2 queued events and 2 transcript files"
    with Outbox(outbox_path, DEVICE) as outbox:
        left = outbox.pending()
    # the call for help is still delivered; the purged seqs are declared so the cloud's stored
    # report does not wait for them (protocol.delivery.SEQS_DROPPED_CODE)
    assert [e.type for e in left] == [EventType.EMERGENCY, EventType.DEVICE_FAULT]
    fault = DeviceFaultPayload.model_validate(left[1].payload)
    assert (fault.component, fault.code, fault.detail) == ("outbox", SEQS_DROPPED_CODE, "1-2")
    assert not any(p.is_file() for p in (tmp_path / TRANSCRIPTS_DIR).rglob("*"))


def test_withdrawing_mood_forgets_what_the_robot_learnt_of_the_voice(tmp_path: Path) -> None:
    baseline = tmp_path / "mood" / "voice_baseline.json"
    baseline.parent.mkdir()
    baseline.write_text('{"pitch_hz": [180.0, 20.0]}', "utf-8")
    stage = PrivacyStage(tmp_path, DEVICE, outbox_path=tmp_path / "outbox.sqlite3")
    keep = {"study_id": "pilot-a", "streams": ["activity"], "transcripts": False}
    result = stage.on_command(_command(CommandType.DATA_DELETION, keep))
    assert result is not None
    assert result.ok
    assert baseline.exists()  # mood was not withdrawn
    order = {"study_id": "pilot-a", "streams": ["mood"], "transcripts": False}
    result = stage.on_command(_command(CommandType.DATA_DELETION, order))
    assert result is not None
    assert result.ok
    assert result.detail.endswith("and the learnt voice baseline")
    assert not baseline.exists()


def test_other_commands_are_not_the_privacy_stages(tmp_path: Path) -> None:
    stage = PrivacyStage(tmp_path, DEVICE)
    assert stage.on_command(_command(CommandType.SCHEDULE, {})) is None


@pytest.mark.parametrize("stream", list(DataStream))
def test_each_stream_maps_to_filterable_events_or_safety(stream: DataStream) -> None:
    types = [t for t, s in STREAM_OF_EVENT.items() if s is stream]
    assert types, f"stream {stream} covers no event type"


def test_the_robot_is_composed_with_the_privacy_stage_first(tmp_path: Path) -> None:
    from device.config import DeviceConfig
    from device.main import default_stages

    stages = default_stages(DeviceConfig(device_id=DEVICE, data_dir=tmp_path, speech_out="print"))
    assert isinstance(stages[0], PrivacyStage)
    assert stages[0].outbox_path == tmp_path / "outbox.sqlite3"
