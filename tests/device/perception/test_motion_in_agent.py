"""The motion stage inside the real agent: a fall on the band ends as a critical fall event."""

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from device.agent import Agent, State
from device.audio.pipeline import Utterance
from device.audio.source import AudioChunk
from device.config import DeviceConfig, PerceptionConfig, SafetyConfig
from device.outbox import Outbox
from device.perception.motion import MotionStage
from device.sensors import ImuBatch, ImuSource
from models.data.imu_csv import read_imu_csv
from protocol import EventType, Priority
from protocol.events import CountdownOutcome
from tests.device.perception.conftest import IMU_CSV, TINY_MODELS


class DeafEars:
    def process(self, chunk: AudioChunk) -> Utterance | None:
        return None


class Silence:
    def __init__(self) -> None:
        self._closed = threading.Event()

    def chunks(self) -> Iterator[AudioChunk]:
        n = 0
        while not self._closed.wait(0.01):
            yield AudioChunk(np.zeros(512, np.int16), n * 0.032)
            n += 1

    def close(self) -> None:
        self._closed.set()


class Mute:
    def say(self, text: str, language: str) -> None:
        pass


async def _run_until(
    agent: Agent, started: Callable[[], None], done: Callable[[], bool], timeout_s: float = 10.0
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while agent.state is not State.LISTENING and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    started()
    while not done() and loop.time() < deadline:  # noqa: ASYNC110 - polls a plain predicate
        await asyncio.sleep(0.02)
    stop.set()
    await task


async def test_a_fall_on_the_band_raises_a_critical_fall_event_after_silence(
    tmp_path: Path,
) -> None:
    config = DeviceConfig(
        device_id="robot-test-01",
        data_dir=tmp_path,
        speech_out="print",
        safety=SafetyConfig(countdown_s=0.3),
        perception=PerceptionConfig(models_dir=str(TINY_MODELS)),
    )
    outbox = Outbox(config.outbox_path, config.device_id)
    agent = Agent(
        config,
        source=Silence(),
        listener=DeafEars(),
        speaker=Mute(),
        outbox=outbox,
        link=None,
        stages=[MotionStage.from_config(config)],
    )
    _, samples = read_imu_csv(IMU_CSV)

    def band() -> None:  # the band's batches, posted as the hardware layer does
        for i in range(0, len(samples), 50):
            agent.post(ImuBatch(ImuSource.BAND, i / 50.0, samples[i : i + 50]))

    def falls() -> list[tuple[Priority, dict[str, object]]]:
        return [(e.priority, e.payload) for e in outbox.pending(200) if e.type is EventType.FALL]

    await _run_until(agent, band, lambda: bool(falls()))
    [(priority, payload)] = falls()
    assert priority is Priority.CRITICAL
    assert payload["countdown"] == CountdownOutcome.SILENCE
    assert 0.0 < float(str(payload["confidence"])) <= 1.0
    assert float(str(payload["impact_g"])) > 1.0  # the impact the detector saw
    [fall] = [e for e in outbox.pending(200) if e.type is EventType.FALL]
    assert fall.model is not None
    assert fall.model.name == "fall"  # research rows can say which model raised it
