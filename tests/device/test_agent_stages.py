"""The agent hosts pluggable stages (device.stages): what they receive, what they may do,
and that a failing stage is switched off without taking the robot's safety loop with it."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from device.agent import Agent
from device.audio.asr import AnswerKind
from device.audio.pipeline import Utterance
from device.config import DeviceConfig
from device.dialog.intents import Intent
from device.outbox import Outbox
from device.safety.countdown import Trigger
from device.sensors import ButtonPress, ImuBatch, ImuSource, Touch, TouchKind
from device.stages import Heard, StageContext
from protocol import Command, CommandResult, CommandType, EventType, Priority
from protocol.envelope import ModelRef
from protocol.events import SelfTest, TouchPayload
from tests.device.test_agent import FakeSource, RecordingSpeaker, ScriptedEars, _run_until


class RecordingStage:
    """Keeps whatever it is handed; answers SETTINGS commands."""

    name = "recorder"

    def __init__(self) -> None:
        self.ctx: StageContext | None = None
        self.items: list[object] = []
        self.ticks = 0
        self.stopped = False

    def start(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def handle(self, item: object, now_s: float) -> None:
        self.items.append(item)

    def tick(self, now_s: float) -> None:
        self.ticks += 1

    def on_command(self, command: Command) -> CommandResult | None:
        if command.type is not CommandType.SETTINGS:
            return None
        return CommandResult(
            command_id=command.command_id, device_id=command.device_id, ts=command.ts, ok=True
        )

    def self_tests(self) -> list[SelfTest]:
        return [SelfTest(name="recorder", ok=True)]

    def stop(self) -> None:
        self.stopped = True


class BrokenStage(RecordingStage):
    """Raises on the first item it is handed."""

    name = "broken"

    def handle(self, item: object, now_s: float) -> None:
        raise RuntimeError("model file is corrupt")


def _agent(tmp_path: Path, utterances: list[Utterance], *stages: RecordingStage) -> Agent:
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    return Agent(
        config,
        source=FakeSource(),
        listener=ScriptedEars(utterances),
        speaker=RecordingSpeaker(),
        outbox=Outbox(config.outbox_path, config.device_id),
        link=None,
        stages=stages,
    )


def _types(agent: Agent) -> list[EventType]:
    return [e.type for e in agent._outbox.pending(100)]


async def test_stages_hear_utterances_with_the_safety_loops_verdict(tmp_path: Path) -> None:
    stage = RecordingStage()
    agent = _agent(
        tmp_path,
        [
            Utterance(0.0, 1.0, "오늘 날씨 좋네", Intent.NONE, 0.0, ""),
            Utterance(1.0, 2.0, "살려 주세요", Intent.HELP, 1.0, ""),
        ],
        stage,
    )
    await _run_until(agent, lambda: len(stage.items) >= 2)
    heard = [item for item in stage.items if isinstance(item, Heard)]
    assert [(h.utterance.intent, h.safety) for h in heard] == [
        (Intent.NONE, False),
        (Intent.HELP, True),
    ]
    assert stage.ticks > 0
    assert stage.stopped


async def test_posted_sensor_readings_reach_every_stage_and_the_button_calls_for_help(
    tmp_path: Path,
) -> None:
    first, second = RecordingStage(), RecordingStage()
    second.name = "second"
    agent = _agent(tmp_path, [], first, second)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await _run_until_started(agent)
    imu = ImuBatch(ImuSource.BAND, 0.0, np.zeros((50, 6), np.float32))
    agent.post(imu)
    agent.post(Touch(TouchKind.HUG, "belly", 0.1))
    agent.post(ButtonPress(long=False, at_s=0.2))
    for _ in range(200):
        if len(second.items) >= 3 and agent.safety_active:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    for stage in (first, second):
        assert [type(i).__name__ for i in stage.items] == ["ImuBatch", "Touch", "ButtonPress"]
    assert agent.safety_active  # the button started the "are you OK?" countdown


async def _run_until_started(agent: Agent) -> None:
    for _ in range(200):
        if agent._loop is not None:
            return
        await asyncio.sleep(0.01)


async def test_a_stage_emits_events_with_its_model_and_can_trigger_the_safety_loop(
    tmp_path: Path,
) -> None:
    stage = RecordingStage()
    agent = _agent(tmp_path, [], stage)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await _run_until_started(agent)
    for _ in range(100):
        if stage.ctx is not None:
            break
        await asyncio.sleep(0.01)
    assert stage.ctx is not None
    now = datetime.now(UTC)
    stage.ctx.emit(
        EventType.TOUCH,
        TouchPayload(period_start=now, period_end=now, hug=2),
        model=ModelRef(name="touch-rules", version="1.0.0"),
    )
    stage.ctx.trigger(Trigger.FALL, 0.9)
    stop.set()
    await task
    [touch] = [e for e in agent._outbox.pending(100) if e.type is EventType.TOUCH]
    assert touch.model == ModelRef(name="touch-rules", version="1.0.0")
    assert touch.payload["hug"] == 2
    assert agent.safety_active


async def test_a_failing_stage_is_switched_off_and_reported_while_the_robot_keeps_going(
    tmp_path: Path,
) -> None:
    broken, healthy = BrokenStage(), RecordingStage()
    agent = _agent(
        tmp_path,
        [
            Utterance(0.0, 1.0, "안녕", Intent.NONE, 0.0, ""),
            Utterance(1.0, 2.0, "도와 주세요", Intent.HELP, 1.0, ""),
        ],
        broken,
        healthy,
    )
    await _run_until(agent, lambda: EventType.EMERGENCY in _types(agent))
    events = agent._outbox.pending(100)
    [fault] = [e for e in events if e.type is EventType.DEVICE_FAULT]
    assert fault.payload["component"] == "broken"
    assert "corrupt" in str(fault.payload["detail"])
    assert fault.priority is Priority.HIGH
    assert any(e.type is EventType.EMERGENCY for e in events)  # safety still works
    assert len([i for i in healthy.items if isinstance(i, Heard)]) == 2
    assert broken.items == []


def test_commands_go_to_the_first_stage_that_takes_them(tmp_path: Path) -> None:
    stage = RecordingStage()
    agent = _agent(tmp_path, [], stage)
    ts = datetime.now(UTC)
    taken = agent.on_command(
        Command(command_id="c1", device_id="robot-test", ts=ts, type=CommandType.SETTINGS)
    )
    refused = agent.on_command(
        Command(command_id="c2", device_id="robot-test", ts=ts, type=CommandType.CONSENT)
    )
    assert taken.ok
    assert not refused.ok
    assert "not supported" in refused.detail


async def test_events_of_a_stream_without_consent_stay_on_the_robot(tmp_path: Path) -> None:
    stage = RecordingStage()
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    agent = Agent(
        config,
        source=FakeSource(),
        listener=ScriptedEars([]),
        speaker=RecordingSpeaker(),
        outbox=Outbox(config.outbox_path, config.device_id),
        link=None,
        stages=[stage],
        allows=lambda event_type: event_type is not EventType.TOUCH,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await _run_until_started(agent)
    for _ in range(100):
        if stage.ctx is not None:
            break
        await asyncio.sleep(0.01)
    assert stage.ctx is not None
    now = datetime.now(UTC)
    stage.ctx.emit(EventType.TOUCH, TouchPayload(period_start=now, period_end=now, hug=1))
    stage.ctx.trigger(Trigger.BUTTON)
    stop.set()
    await task
    types = _types(agent)
    assert EventType.TOUCH not in types
    assert agent.held_back == 1
    assert EventType.HEARTBEAT in types  # what consent does not cover still goes


class EarsThatTakeAnswers(ScriptedEars):
    def __init__(self) -> None:
        super().__init__([])
        self.expected: list[tuple[object, tuple[str, ...]]] = []

    def expect(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        self.expected.append((kind, tuple(options)))


def test_a_stage_can_ask_the_ears_for_a_constrained_answer(tmp_path: Path) -> None:
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    ears = EarsThatTakeAnswers()
    agent = Agent(
        config,
        source=FakeSource(),
        listener=ears,
        speaker=RecordingSpeaker(),
        outbox=Outbox(config.outbox_path, config.device_id),
        link=None,
    )
    agent.expect_answer(AnswerKind.YES_NO)
    agent.expect_answer(None)
    assert ears.expected == [(AnswerKind.YES_NO, ()), (None, ())]
    plain = _agent(tmp_path / "plain", [])
    plain.expect_answer(AnswerKind.YES_NO)  # ears without constrained recognition: ignored
