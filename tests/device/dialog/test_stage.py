"""The dialog stage inside a real Agent: commands in, lines and events out, quiet for safety."""

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from device.agent import Agent
from device.audio.asr import AnswerKind
from device.audio.pipeline import Utterance
from device.audio.source import AudioChunk
from device.clock import Clock, ScaledClock
from device.config import DeviceConfig, DialogConfig
from device.dialog.intents import Intent
from device.dialog.stage import DialogStage
from device.dialog.store import write_atomic
from device.dialog.transcripts import TranscriptLog
from device.main import default_stages
from device.outbox import Outbox
from device.sensors import Presence, Touch, TouchKind
from device.stages import Heard
from protocol import Command, CommandType, EventType
from protocol.envelope import ModelRef
from tests.device.dialog.conftest import SEOUL
from tests.device.test_agent import FakeSource, RecordingSpeaker


class CueEars:
    """Hears each utterance once the robot has said a line containing its cue."""

    def __init__(self, said: list[str], script: list[tuple[str, Utterance]]) -> None:
        self._said = said
        self._script = list(script)

    def process(self, chunk: AudioChunk) -> Utterance | None:
        if self._script and any(self._script[0][0] in line for line in list(self._said)):
            return self._script.pop(0)[1]
        return None


def _utt(text: str, intent: Intent = Intent.NONE) -> Utterance:
    return Utterance(0.0, 1.2, text, intent, 0.9, "")


def _config(tmp_path: Path, **dialog: Any) -> DeviceConfig:
    return DeviceConfig(
        device_id="robot-dialog",
        data_dir=tmp_path,
        speech_out="print",
        dialog=DialogConfig(**dialog),
    )


def _agent(
    config: DeviceConfig, script: list[tuple[str, Utterance]], start: datetime, speed: float
) -> tuple[Agent, Outbox, RecordingSpeaker]:
    speaker = RecordingSpeaker()
    outbox = Outbox(config.outbox_path, config.device_id)
    agent = Agent(
        config,
        source=FakeSource(),
        listener=CueEars(speaker.said, script),
        speaker=speaker,
        outbox=outbox,
        link=None,
        clock=ScaledClock(speed, start),
        stages=[DialogStage.from_config(config)],
    )
    return agent, outbox, speaker


async def _run(agent: Agent, done: Callable[[], bool], timeout_s: float = 8.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done() and loop.time() < deadline:  # noqa: ASYNC110 - polls a plain predicate
        await asyncio.sleep(0.02)
    stop.set()
    await task


def _events(outbox: Outbox, kind: EventType) -> list[dict[str, Any]]:
    return [e.payload for e in outbox.pending(500) if e.type is kind]


def _schedule_command(payload: dict[str, Any]) -> Command:
    return Command(
        command_id="sched-1",
        device_id="robot-dialog",
        ts=datetime.now(UTC),
        type=CommandType.SCHEDULE,
        payload=payload,
    )


SCHEDULE = {
    "timezone": "Asia/Seoul",
    "reminders": [{"id": 7, "kind": "medicine", "label": "혈압약", "times": ["08:00"]}],
}


def test_the_dialog_stage_is_composed_when_enabled(tmp_path: Path) -> None:
    on = default_stages(_config(tmp_path))
    off = default_stages(_config(tmp_path, enabled=False))
    assert any(isinstance(s, DialogStage) for s in on)
    assert not any(isinstance(s, DialogStage) for s in off)


async def test_a_scheduled_reminder_is_spoken_and_confirmed_inside_the_agent(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    start = datetime(2026, 11, 27, 7, 59, 50, tzinfo=SEOUL)
    script = [("혈압약 드실 시간이에요", _utt("약 먹었어요", Intent.DONE))]
    agent, outbox, speaker = _agent(config, script, start, speed=20.0)

    async def send_schedule() -> None:
        await asyncio.sleep(0.2)
        result = await asyncio.to_thread(agent.on_command, _schedule_command(SCHEDULE))
        assert result.ok, result.detail
        assert result.detail == "schedule: reminders 1, screenings kept"

    sender = asyncio.create_task(send_schedule())
    await _run(agent, lambda: bool(_events(outbox, EventType.REMINDER)))
    await sender
    assert _events(outbox, EventType.REMINDER) == [
        {"reminder_id": "7", "kind": "medicine", "status": "confirmed", "attempts": 1}
    ]
    assert any("잘하셨어요" in s or "잘 챙기셨네요" in s for s in speaker.said)
    saved = json.loads((tmp_path / "dialog" / "schedule.json").read_text())
    assert saved["reminders"][0]["label"] == "혈압약"
    for event in outbox.pending(500):  # nothing the senior said leaves the robot
        assert "먹었어" not in json.dumps(event.payload, ensure_ascii=False)


async def test_the_stage_stays_quiet_while_the_safety_loop_runs(tmp_path: Path) -> None:
    config = _config(tmp_path, answer_timeout_s=1.0)
    start = datetime(2026, 11, 27, 14, 0, tzinfo=SEOUL)
    script = [
        ("다음에 올 말은", _utt("살려 주세요", Intent.HELP)),
    ]
    agent, outbox, speaker = _agent(config, script, start, speed=10.0)

    async def ask_for_a_quiz() -> None:
        await asyncio.sleep(0.2)
        agent.post(_heard_quiz())

    asker = asyncio.create_task(ask_for_a_quiz())
    seen: list[float] = []

    def a_while_after_the_emergency() -> bool:  # ten simulated seconds after it
        if not seen and _events(outbox, EventType.EMERGENCY):
            seen.append(asyncio.get_running_loop().time())
        return bool(seen) and asyncio.get_running_loop().time() - seen[0] > 1.0

    await _run(agent, a_while_after_the_emergency)
    await asker
    assert seen, "the call for help raised no emergency"
    assert any("다음에 올 말은" in s for s in speaker.said)
    help_at = next(i for i, s in enumerate(speaker.said) if "보호자에게" in s)
    after = speaker.said[help_at:]
    assert not any("힌트" in s or "정답은" in s for s in after), after


def _heard_quiz() -> object:
    return _utt("퀴즈 내 줘", Intent.WANT_QUIZ)


async def test_a_bad_schedule_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    stage = DialogStage.from_config(_config(tmp_path))
    bad_time = {"reminders": [{"id": 1, "kind": "meal", "label": "점심", "times": ["25:00"]}]}
    result = stage.on_command(_schedule_command(bad_time))
    assert result is not None
    assert not result.ok
    assert result.detail.startswith("bad schedule: reminders.0.times.0")
    bad_zone = stage.on_command(_schedule_command({"timezone": "Mars/Olympus"}))
    assert bad_zone is not None
    assert "not a known time zone" in bad_zone.detail
    bad_instrument = {"screenings": [{"id": "s1", "instrument": "mmse", "due": "2026-11-27"}]}
    unknown = stage.on_command(_schedule_command(bad_instrument))
    assert unknown is not None
    assert "unknown instrument 'mmse'" in unknown.detail
    assert not (tmp_path / "dialog" / "schedule.json").exists()


def test_a_screening_can_arrive_in_a_settings_command(tmp_path: Path) -> None:
    stage = DialogStage.from_config(_config(tmp_path))
    command = Command(
        command_id="set-1",
        device_id="robot-dialog",
        ts=datetime.now(UTC),
        type=CommandType.SETTINGS,
        payload={
            "dialog": {"screenings": [{"id": "b", "instrument": "ucla3", "due": "2026-12-01"}]}
        },
    )
    result = stage.on_command(command)
    assert result is not None
    assert result.ok
    other = command.model_copy(update={"payload": {"volume": 3}})
    assert stage.on_command(other) is None  # settings for someone else


def test_transcripts_are_deleted_after_the_retention_period(tmp_path: Path) -> None:
    log = TranscriptLog(tmp_path / "t.jsonl", timedelta(hours=24))
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    log.add("senior", "어제 한 말", now - timedelta(hours=25))
    log.add("robot", "어제 대답", now - timedelta(hours=24, minutes=1))
    log.add("senior", "오늘 한 말", now - timedelta(hours=2))
    with (tmp_path / "t.jsonl").open("a") as f:
        f.write("not json\n")
    assert log.purge(now) == 3
    assert [e["text"] for e in log.entries()] == ["오늘 한 말"]
    assert log.purge(now + timedelta(hours=21)) == 0  # 23 hours old: kept
    assert log.purge(now + timedelta(hours=23)) == 1  # 25 hours old: gone
    assert log.entries() == []


async def test_the_stage_keeps_transcripts_on_the_robot_and_purges_them_at_start(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, transcript_retention_h=1.0)
    start = datetime(2026, 11, 27, 15, 0, tzinfo=SEOUL)
    stale = TranscriptLog(tmp_path / "transcripts" / "dialog.jsonl", timedelta(hours=1))
    stale.add("senior", "두 시간 전 이야기", start - timedelta(hours=2))
    agent, _outbox, speaker = _agent(config, [], start, speed=1.0)

    async def talk() -> None:
        await asyncio.sleep(0.2)
        agent.post(_utt("고마워", Intent.THANKS))

    talker = asyncio.create_task(talk())
    await _run(agent, lambda: len(speaker.said) > 0, timeout_s=4.0)
    await talker
    texts = [e["text"] for e in stale.entries()]
    assert "두 시간 전 이야기" not in texts
    assert "고마워" in texts
    assert speaker.said[0] in texts


class FakeContext:
    """The agent as the stage sees it, without the agent."""

    def __init__(self, clock: Clock) -> None:
        self.device_id = "robot-dialog"
        self.language = "ko"
        self.clock = clock
        self.safety_active = False
        self.speaking = False
        self.said: list[str] = []
        self.emitted: list[tuple[EventType, dict[str, Any]]] = []
        self.posted: list[object] = []
        self.expected: list[tuple[AnswerKind | None, tuple[str, ...]]] = []

    def emit(self, event_type: EventType, payload: Any, **_: Any) -> None:
        self.emitted.append((event_type, payload.model_dump(mode="json")))

    def say(self, text: str) -> None:
        self.said.append(text)

    def trigger(
        self,
        trigger: object,
        confidence: float = 1.0,
        *,
        model: ModelRef | None = None,
        impact_g: float | None = None,
    ) -> None:
        raise AssertionError("the dialog never triggers the safety loop")

    def post(self, item: object) -> None:
        self.posted.append(item)

    def expect_answer(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        self.expected.append((kind, tuple(options)))

    def step(self, name: str, detail: str) -> None:
        pass


def test_the_schedule_and_the_memory_survive_a_reboot(tmp_path: Path) -> None:
    config = _config(tmp_path)
    clock = ScaledClock(1.0, datetime(2026, 11, 27, 7, 0, tzinfo=SEOUL))
    first = DialogStage.from_config(config)
    ctx = FakeContext(clock)
    first.start(ctx)
    result = first.on_command(_schedule_command(SCHEDULE))
    assert result is not None
    assert result.ok
    [update] = ctx.posted
    first.handle(update, 0.0)
    first.companion.prefs.add("song:arirang", "asked_again")
    first.stop()

    second = DialogStage.from_config(config)
    second.start(FakeContext(clock))
    assert [r.label for r in second.companion.reminders.reminders] == ["혈압약"]
    assert second.companion.prefs.counts["song:arirang"]["asked_again"] == 1


def test_an_unreadable_state_file_is_set_aside_not_lost(tmp_path: Path) -> None:
    (tmp_path / "dialog").mkdir()
    (tmp_path / "dialog" / "state.json").write_text("{ not json")
    stage = DialogStage.from_config(_config(tmp_path))
    stage.start(FakeContext(ScaledClock(1.0, datetime(2026, 11, 27, 7, 0, tzinfo=SEOUL))))
    kept = list((tmp_path / "dialog").glob("state.json.bad-*"))
    assert len(kept) == 1
    assert kept[0].read_text() == "{ not json"


def test_the_stage_asks_the_ears_for_the_answer_it_expects(tmp_path: Path) -> None:
    stage = DialogStage.from_config(_config(tmp_path))
    ctx = FakeContext(ScaledClock(1.0, datetime(2026, 11, 27, 10, 0, tzinfo=SEOUL)))
    stage.start(ctx)
    stage.companion.greeted.add("2026-11-27:morning")
    stage.companion.checkin_day = "2026-11-27"
    ucla = {"screenings": [{"id": "w1", "instrument": "ucla3", "due": "2026-11-27"}]}
    assert stage.on_command(_schedule_command(ucla)) is not None
    stage.handle(ctx.posted.pop(), 0.0)
    stage.handle(Presence(True, 0.0), 0.0)
    stage.tick(1.0)
    assert ctx.said[-1].endswith("지금 몇 가지 여쭤봐도 될까요?")
    assert ctx.expected == [(AnswerKind.YES_NO, ())]
    # the free recogniser lost the "네"; the constrained one caught it
    lost = Utterance(
        0.0,
        0.6,
        "",
        Intent.NONE,
        0.0,
        "",
        answer_kind=AnswerKind.YES_NO,
        answer_text="네",
        answer_confidence=0.9,
    )
    stage.handle(Heard(lost, safety=False), 2.0)
    assert "함께 지낼 사람이 없다고" in ctx.said[-1]
    assert ctx.expected[-1] == (AnswerKind.SCALE, ("거의 없다", "가끔 있다", "자주 있다"))


class ManualClock:
    """Time that moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        self.elapsed_s = 0.0

    def monotonic(self) -> float:
        return self.elapsed_s

    def now(self) -> datetime:
        return self.at + timedelta(seconds=self.elapsed_s)


def test_a_reminder_settled_just_before_a_power_cut_is_not_reported_twice(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    clock = ManualClock(datetime(2026, 11, 27, 7, 59, 50, tzinfo=SEOUL))
    first = DialogStage.from_config(config)
    ctx = FakeContext(clock)
    first.start(ctx)
    first.on_command(_schedule_command(SCHEDULE))
    first.handle(ctx.posted.pop(), 0.0)
    first.handle(Presence(True, 0.0), 0.0)
    first.tick(0.0)
    while not any("혈압약" in line for line in ctx.said) and clock.elapsed_s < 600:
        clock.elapsed_s += 5.0  # after the greeting, the reminder due at 08:00 is spoken
        first.tick(clock.elapsed_s)
    assert any("혈압약" in line for line in ctx.said)
    first.handle(Heard(_utt("약 먹었어", Intent.DONE), safety=False), clock.elapsed_s)
    [confirmed] = [p for kind, p in ctx.emitted if kind is EventType.REMINDER]
    assert confirmed["status"] == "confirmed"
    # The power goes: no stop(), no periodic save yet. The robot comes back an hour later.
    later = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL))
    second = DialogStage.from_config(config)
    ctx2 = FakeContext(later)
    second.start(ctx2)
    for minute in range(0, 180, 1):
        later.elapsed_s = minute * 60.0
        second.tick(later.elapsed_s)
    assert [p for kind, p in ctx2.emitted if kind is EventType.REMINDER] == []
    assert not any("혈압약" in line for line in ctx2.said)


def test_a_broken_extra_content_pack_does_not_keep_the_robot_from_starting(
    tmp_path: Path,
) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "family.ko.toml").write_text('[pack]\nlanguage = "ko"\ncategory = "story"\n')
    stage = DialogStage.from_config(_config(tmp_path, content_dirs=(str(packs),)))
    assert len(stage.library) > 0  # the shipped packs still load
    [test] = stage.self_tests()
    assert not test.ok
    assert "family.ko.toml" in test.detail
    stage.start(FakeContext(ScaledClock(1.0, datetime(2026, 11, 27, 7, 0, tzinfo=SEOUL))))
    stage.save()  # a good save does not hide the content problem
    assert not stage.self_tests()[0].ok


def test_a_transcript_line_without_a_time_zone_is_purged_not_fatal(tmp_path: Path) -> None:
    log = TranscriptLog(tmp_path / "t.jsonl", timedelta(hours=24))
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    log.add("senior", "오늘 한 말", now - timedelta(hours=1))
    with (tmp_path / "t.jsonl").open("a") as f:
        f.write(json.dumps({"at": "2026-11-27T11:00:00", "who": "senior", "text": "x"}) + "\n")
    assert log.purge(now) == 1
    assert [e["text"] for e in log.entries()] == ["오늘 한 말"]


def test_a_touch_during_an_alert_is_not_taken_for_a_presence_sensor(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 15, 0, tzinfo=SEOUL))
    stage = DialogStage.from_config(_config(tmp_path))
    ctx = FakeContext(clock)
    stage.start(ctx)
    stage.companion.greeted.add("2026-11-27:afternoon")
    ctx.safety_active = True
    stage.handle(Touch(TouchKind.PAT, "head", 0.0), 0.0)
    stage.tick(0.0)
    ctx.safety_active = False
    assert stage.companion.present is None  # this robot has no presence sensor
    clock.elapsed_s = 2.5 * 3600  # 17:30, the senior went out long ago
    stage.tick(clock.elapsed_s)
    assert ctx.said == []  # no "good evening" to an empty room


def test_the_state_file_is_written_whole_even_when_the_disk_takes_it_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def short_write(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data[:7]))  # os.write may write less than it was given

    monkeypatch.setattr(os, "write", short_write)
    state = {"greeted": ["2026-11-27:morning"], "note": "잘 주무셨어요?" * 20}
    write_atomic(tmp_path / "state.json", json.dumps(state, ensure_ascii=False))
    monkeypatch.undo()
    assert json.loads((tmp_path / "state.json").read_text(encoding="utf-8")) == state


def test_a_transcript_line_is_kept_whole_when_the_disk_takes_it_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:5])))
    log = TranscriptLog(tmp_path / "t.jsonl", timedelta(hours=24))
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    log.add("senior", "오늘 한 말", now)
    log.add("robot", "네, 그러셨군요", now)
    monkeypatch.undo()
    assert [e["text"] for e in log.entries()] == ["오늘 한 말", "네, 그러셨군요"]


def test_a_state_file_that_does_not_fit_is_set_aside_and_the_robot_starts_clean(
    tmp_path: Path,
) -> None:
    (tmp_path / "dialog").mkdir()
    bad = {
        "greeted": ["2026-11-27:morning"],
        "reminders": {"reminders": [{"id": 1, "kind": "medicine"}]},  # no label, no times
    }
    (tmp_path / "dialog" / "state.json").write_text(json.dumps(bad))
    stage = DialogStage.from_config(_config(tmp_path))
    stage.start(FakeContext(ScaledClock(1.0, datetime(2026, 11, 27, 7, 0, tzinfo=SEOUL))))
    assert stage.companion.greeted == set()  # nothing half-restored
    [kept] = list((tmp_path / "dialog").glob("state.json.bad-*"))
    assert json.loads(kept.read_text()) == bad
