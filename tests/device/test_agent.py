"""The agent coordinates the stages: utterances in, events and spoken prompts out."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from device.agent import Agent, State, Step
from device.audio.pipeline import Utterance
from device.audio.source import AudioChunk
from device.config import DeviceConfig, SafetyConfig
from device.dialog.intents import Intent
from device.outbox import Outbox
from protocol import Command, CommandType, EventType, Priority
from protocol.events import CountdownOutcome, HeartbeatPayload


class ScriptedEars:
    """Hears the given utterances, one per chunk, then nothing."""

    def __init__(self, utterances: list[Utterance]) -> None:
        self._queue = list(utterances)

    def process(self, chunk: AudioChunk) -> Utterance | None:
        return self._queue.pop(0) if self._queue else None


class FakeSource:
    """Silence chunks until closed."""

    def __init__(self) -> None:
        self._closed = threading.Event()

    def chunks(self) -> Iterator[AudioChunk]:
        n = 0
        while not self._closed.wait(0.01):
            yield AudioChunk(np.zeros(512, np.int16), n * 0.032)
            n += 1

    def close(self) -> None:
        self._closed.set()


class RecordingSpeaker:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, language: str) -> None:
        self.said.append(text)


def _utt(intent: Intent, text: str = "...") -> Utterance:
    return Utterance(0.0, 1.0, text, intent, 0.9, "")


def _agent(
    tmp_path: Path, utterances: list[Utterance], countdown_s: float = 30.0
) -> tuple[Agent, Outbox, RecordingSpeaker, list[Step]]:
    config = DeviceConfig(
        device_id="robot-test",
        data_dir=tmp_path,
        speech_out="print",
        safety=SafetyConfig(countdown_s=countdown_s),
    )
    outbox = Outbox(config.outbox_path, config.device_id)
    speaker = RecordingSpeaker()
    steps: list[Step] = []
    agent = Agent(
        config,
        source=FakeSource(),
        listener=ScriptedEars(utterances),
        speaker=speaker,
        outbox=outbox,
        link=None,
        observer=steps.append,
    )
    return agent, outbox, speaker, steps


async def _run_until(agent: Agent, done: Callable[[], bool], timeout_s: float = 5.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not done() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polls a plain predicate
        await asyncio.sleep(0.02)
    stop.set()
    await task


def _events(outbox: Outbox) -> list[tuple[EventType, Priority, dict[str, object]]]:
    return [(e.type, e.priority, e.payload) for e in outbox.pending(100)]


async def test_call_for_help_is_written_to_the_outbox_as_critical(tmp_path: Path) -> None:
    agent, outbox, _speaker, _ = _agent(tmp_path, [_utt(Intent.HELP, "살려 주세요")])
    await _run_until(agent, lambda: any(t is EventType.EMERGENCY for t, _, _ in _events(outbox)))
    emergencies = [(p, pl) for t, p, pl in _events(outbox) if t is EventType.EMERGENCY]
    assert len(emergencies) == 1
    priority, payload = emergencies[0]
    assert priority is Priority.CRITICAL
    assert payload["countdown"] == CountdownOutcome.SKIPPED
    assert payload["intent"] == "help"
    assert "transcript" not in payload
    assert "살려" not in str(payload)
    assert agent.state is State.STOPPED


async def test_heartbeat_with_self_tests_is_queued_at_start(tmp_path: Path) -> None:
    agent, outbox, _, _ = _agent(tmp_path, [])
    await _run_until(agent, lambda: outbox.pending_count() > 0)
    (kind, priority, payload), *_ = _events(outbox)
    assert (kind, priority) == (EventType.HEARTBEAT, Priority.LOW)
    self_tests = payload["self_tests"]
    assert isinstance(self_tests, list)
    assert {t["name"]: t["ok"] for t in self_tests} == {"audio": True, "outbox": True}


def _heartbeat_tests(outbox: Outbox) -> dict[str, tuple[bool, str]]:
    payload = [pl for t, _, pl in _events(outbox) if t is EventType.HEARTBEAT][-1]
    tests = payload["self_tests"]
    assert isinstance(tests, list)
    return {str(t["name"]): (bool(t["ok"]), str(t["detail"])) for t in tests}


def _agent_with_asr(
    tmp_path: Path,
    check: Callable[[], tuple[bool, str]],
    clock: "SteppedClock | None" = None,
    heartbeat_interval_s: float = 60.0,
    asr_check_every_s: float = 600.0,
) -> tuple[Agent, Outbox]:
    config = DeviceConfig(
        device_id="robot-test",
        data_dir=tmp_path,
        speech_out="print",
        heartbeat_interval_s=heartbeat_interval_s,
        asr_check_every_s=asr_check_every_s,
    )
    outbox = Outbox(config.outbox_path, config.device_id)
    agent = Agent(
        config,
        source=FakeSource(),
        listener=ScriptedEars([]),
        speaker=RecordingSpeaker(),
        outbox=outbox,
        link=None,
        asr_check=check,
        clock=clock,
    )
    return agent, outbox


async def test_heartbeat_reports_what_the_recogniser_probe_heard(tmp_path: Path) -> None:
    calls: list[int] = []

    def probe() -> tuple[bool, str]:
        calls.append(1)
        return False, "probe heard '' (confidence 0.00)"

    agent, outbox = _agent_with_asr(tmp_path, probe)
    await _run_until(agent, lambda: outbox.pending_count() > 0)
    assert _heartbeat_tests(outbox)["asr"] == (False, "probe heard '' (confidence 0.00)")
    assert calls == [1]


async def test_a_probe_that_raises_is_a_failed_asr_test_not_a_dead_agent(tmp_path: Path) -> None:
    def probe() -> tuple[bool, str]:
        raise RuntimeError("kaldi said no")

    agent, outbox = _agent_with_asr(tmp_path, probe)
    await _run_until(agent, lambda: outbox.pending_count() > 0)
    assert _heartbeat_tests(outbox)["asr"] == (False, "self-test raised: kaldi said no")
    assert agent.state is State.STOPPED


class SteppedClock:
    """The agent's time, moved on by the test."""

    def __init__(self) -> None:
        self.t = 0.0
        self._start = datetime.now(UTC)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.t)


async def test_the_recogniser_probe_runs_again_only_after_its_configured_interval(
    tmp_path: Path,
) -> None:
    clock = SteppedClock()
    probed_at: list[float] = []

    def probe() -> tuple[bool, str]:
        probed_at.append(clock.t)
        return True, "probe heard '살려 주세요' (confidence 1.00)"

    agent, outbox = _agent_with_asr(
        tmp_path, probe, clock, heartbeat_interval_s=60.0, asr_check_every_s=900.0
    )

    def heartbeats() -> int:
        return sum(1 for t, _, _ in _events(outbox) if t is EventType.HEARTBEAT)

    async def heartbeat_at(t: float, count: int) -> None:
        clock.t = t
        deadline = asyncio.get_running_loop().time() + 5.0
        while heartbeats() < count and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polls a plain predicate
            await asyncio.sleep(0.02)
        assert heartbeats() == count

    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await heartbeat_at(0.0, 1)
        await heartbeat_at(660.0, 2)  # the old fixed 10 min would probe here
        assert probed_at == [0.0]
        await heartbeat_at(900.0, 3)
        assert probed_at == [0.0, 900.0]
        assert _heartbeat_tests(outbox)["asr"] == (
            True,
            "probe heard '살려 주세요' (confidence 1.00)",
        )
    finally:
        stop.set()
        await task


async def test_heartbeat_outbox_test_fails_on_an_old_backlog(tmp_path: Path) -> None:
    agent, outbox, _, _ = _agent(tmp_path, [])
    stale = datetime.now(UTC) - timedelta(hours=2)  # the cloud has been unreachable for 2 h
    outbox.append(
        EventType.HEARTBEAT,
        HeartbeatPayload(uptime_s=1, agent_version="t", outbox_pending=0),
        ts=stale,
    )
    await _run_until(agent, lambda: outbox.pending_count() > 1)
    ok, detail = _heartbeat_tests(outbox)["outbox"]
    assert not ok
    assert detail.startswith("oldest unsent event waits 72")


async def test_im_fine_after_i_fell_is_a_near_miss_not_an_alarm(tmp_path: Path) -> None:
    agent, outbox, speaker, _ = _agent(
        tmp_path, [_utt(Intent.FELL), _utt(Intent.NONE), _utt(Intent.FINE)]
    )
    await _run_until(agent, lambda: any(t is EventType.EMERGENCY for t, _, _ in _events(outbox)))
    [(priority, payload)] = [(p, pl) for t, p, pl in _events(outbox) if t is EventType.EMERGENCY]
    assert priority is Priority.NORMAL
    assert payload["countdown"] == CountdownOutcome.CANCELLED
    assert any("괜찮으세요" in line for line in speaker.said)


async def test_silence_after_i_fell_escalates_when_the_countdown_ends(tmp_path: Path) -> None:
    agent, outbox, _, _ = _agent(tmp_path, [_utt(Intent.FELL)], countdown_s=0.3)
    await _run_until(agent, lambda: any(t is EventType.EMERGENCY for t, _, _ in _events(outbox)))
    [(priority, payload)] = [(p, pl) for t, p, pl in _events(outbox) if t is EventType.EMERGENCY]
    assert priority is Priority.CRITICAL
    assert payload["countdown"] == CountdownOutcome.SILENCE


async def test_acknowledgement_command_is_answered_and_spoken(tmp_path: Path) -> None:
    agent, _outbox, speaker, steps = _agent(tmp_path, [_utt(Intent.HELP)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    for _ in range(250):
        if any(s.name == "outbox" for s in steps):
            break
        await asyncio.sleep(0.02)
    command = Command(
        command_id="c1",
        device_id="robot-test",
        ts=datetime.now(UTC),
        type=CommandType.ALERT_ACK,
        payload={"by": "지은"},
    )
    result = agent.on_command(command)
    assert result.ok
    assert result.command_id == "c1"
    for _ in range(250):
        if any("지은" in line for line in speaker.said):
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert any("지은님이 연락을 받으셨어요" in line for line in speaker.said)


async def test_final_transcript_of_an_early_reported_call_raises_nothing_more(
    tmp_path: Path,
) -> None:
    early = Utterance(0.0, 1.0, "살려 주세요", Intent.HELP, 1.0, "", early=True)
    final = Utterance(0.0, 1.0, "살려 주세요", Intent.HELP, 1.0, "", reported_early=True)
    agent, outbox, speaker, steps = _agent(tmp_path, [early, final])
    await _run_until(agent, lambda: sum(s.name == "heard" for s in steps) >= 2)
    emergencies = [t for t, _, _ in _events(outbox) if t is EventType.EMERGENCY]
    assert len(emergencies) == 1
    assert sum("보호자에게" in line for line in speaker.said) == 1


class LoudSource(FakeSource):
    """A loud room: every chunk carries sound."""

    def chunks(self) -> Iterator[AudioChunk]:
        n = 0
        while not self._closed.wait(0.005):
            yield AudioChunk(np.full(512, 1000, np.int16), n * 0.032)
            n += 1


class EarsThatRecordLoudness(ScriptedEars):
    def __init__(self, utterances: list[Utterance]) -> None:
        super().__init__(utterances)
        self.loud: list[bool] = []

    def process(self, chunk: AudioChunk) -> Utterance | None:
        self.loud.append(bool(np.abs(chunk.samples).max() > 0))
        return super().process(chunk)


class SlowSpeaker(RecordingSpeaker):
    def say(self, text: str, language: str) -> None:
        super().say(text, language)
        time.sleep(0.3)


async def test_robot_does_not_listen_to_its_own_voice(tmp_path: Path) -> None:
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    ears = EarsThatRecordLoudness([_utt(Intent.HELP)])
    speaker = SlowSpeaker()
    agent = Agent(
        config,
        source=LoudSource(),
        listener=ears,
        speaker=speaker,
        outbox=Outbox(config.outbox_path, config.device_id),
        link=None,
    )
    await _run_until(agent, lambda: bool(speaker.said) and len(ears.loud) > 400, timeout_s=10)
    assert ears.loud[0]  # before the robot spoke, the room was heard
    muted = ears.loud.count(False)
    assert muted > 10  # while it spoke (0.3 s) and the echo tail after, the ears got silence
    assert ears.loud[-1]  # and afterwards it listens again


def test_unsupported_command_is_refused_with_a_reason(tmp_path: Path) -> None:
    agent, _, _, _ = _agent(tmp_path, [])
    result = agent.on_command(
        Command(
            command_id="c2",
            device_id="robot-test",
            ts=datetime.now(UTC),
            type=CommandType.MODEL_ROLLOUT,
        )
    )
    assert not result.ok
    assert "not supported" in result.detail
