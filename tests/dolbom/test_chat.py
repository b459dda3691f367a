"""`dolbom device chat`: the companion in a console, driven through typer's CliRunner."""

import json
from pathlib import Path

from typer.testing import CliRunner

from dolbom.cli import app

runner = CliRunner()


def _chat(lines: list[str], *args: str) -> str:
    result = runner.invoke(app, ["device", "chat", *args], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    return result.output


def test_chat_reminds_and_records_the_confirmation() -> None:
    out = _chat(
        [
            "/remind medicine 08:00 혈압약",
            "/present",
            "/time 08:00",
            "/wait 10s",
            "먹었어",
            "/quit",
        ],
        "--time",
        "07:50",
    )
    assert "schedule: reminders 1, screenings kept" in out
    assert "혈압약 드실 시간이에요" in out
    assert 'event reminder {"reminder_id": "1", "kind": "medicine", "status": "confirmed"' in out


def test_chat_check_in_follow_up_in_english() -> None:
    out = _chat(
        ["/present", "/wait 10s", "yes I slept well", "I feel sad", "/quit"],
        "--lang",
        "en",
        "--time",
        "09:00",
    )
    assert "Did you sleep well last night?" in out
    assert "How are you feeling today?" in out
    assert "Did something happen?" in out
    assert '"question_id": "mood", "answer": "sad", "mood": "sad"' in out


def test_chat_touch_and_a_call_for_help_run_the_safety_loop() -> None:
    out = _chat(
        ["/touch hug", "살려 주세요", "/touch pat", "/ack 지은", "/events", "/quit"],
        "--time",
        "15:00",
    )
    assert "저도 꼭 안아 드릴게요" in out or "안아 주셔서 고마워요" in out
    assert 'event emergency {"trigger": "voice", "intent": "help"' in out
    assert "지은님이 연락을 받으셨어요" in out
    after_help = out.split("지금 보호자에게 연락했어요")[1].split("robot 지은님이")[0]
    assert "robot" not in after_help  # the pat during the alert got no chatter


def test_chat_keeps_its_memory_in_the_data_dir_when_asked(tmp_path: Path) -> None:
    _chat(["옛날이야기 해 줘", "/wait 1m", "/quit"], "--time", "15:00", "--data-dir", str(tmp_path))
    state = json.loads((tmp_path / "dialog" / "state.json").read_text())
    assert state["preferences"]["counts"]["story:heungbu"]["finished"] == 1
    history = _chat(["/history", "/quit"], "--time", "15:10", "--data-dir", str(tmp_path))
    assert "senior: 옛날이야기 해 줘" in history


def test_chat_help_and_bad_input_are_explained() -> None:
    out = _chat(["/help", "/wait forever", "/fly", "/quit"])
    assert "/touch hug|pat|squeeze" in out
    assert "not a duration like 90s, 10m or 2h" in out
    assert "unknown command /fly" in out
    bad = runner.invoke(app, ["device", "chat", "--lang", "fr"], input="/quit\n")
    assert bad.exit_code == 2
    assert "--lang must be ko or en" in bad.output


def test_a_refused_reminder_does_not_block_the_next_one() -> None:
    out = _chat(["/remind medicine 25:00 혈압약", "/remind medicine 08:00 혈압약", "/quit"])
    assert "command refused" in out
    assert "schedule: reminders 1, screenings kept" in out


def test_incomplete_console_commands_say_how_to_write_them() -> None:
    out = _chat(["/remind", "/remind medicine", "/touch kick", "/quit"])
    assert out.count("usage: /remind KIND HH:MM LABEL") == 2
    assert "not enough values to unpack" not in out
    assert "usage: /touch hug|pat|squeeze" in out
    assert "TouchKind" not in out


def test_chat_decides_like_the_robot_a_long_story_about_help_is_asked_not_alerted() -> None:
    # The robot's own evidence decision (device.safety.evidence via the agent), not a copy:
    # a long sentence quoting a call for help makes the robot ask, and "괜찮아요" settles it.
    out = _chat(
        [
            "어제 드라마에서 누가 살려 주세요 하고 소리치더라고요 정말 무서웠어요",
            "괜찮아요",
            "/quit",
        ],
        "--time",
        "15:00",
    )
    assert "도와 드릴까요?" in out
    assert "event safety_check" in out
    assert '"countdown": "cancelled"' in out
    assert "event emergency" not in out


def test_chat_console_has_no_copy_of_the_safety_dispatch() -> None:
    import dolbom.commands.chat as chat_module

    source = Path(chat_module.__file__).read_text(encoding="utf-8")
    assert "_TRIGGERS" not in source
    assert "Countdown(" not in source
    assert "build_agent(" in source
