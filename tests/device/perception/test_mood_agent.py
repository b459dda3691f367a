"""The mood stage inside the real agent: the safety loop first, a `mood` event, no words out."""

import asyncio
from pathlib import Path

import numpy as np

from device.agent import Agent
from device.audio.pipeline import Utterance
from device.config import DeviceConfig
from device.dialog.intents import Intent
from device.outbox import Outbox
from device.perception.emotion import EmotionModel
from device.perception.mood import MoodStage
from protocol import EventType, Priority
from tests.device.test_agent import FakeSource, RecordingSpeaker, ScriptedEars

ARTIFACTS = Path(__file__).resolve().parents[3] / "models" / "artifacts"
SR = 16000


def _utt(text: str, intent: Intent = Intent.NONE) -> Utterance:
    t = np.arange(SR) / SR
    audio = (0.1 * np.sin(2 * np.pi * 170 * t) * np.sin(np.pi * 4 * t) ** 2 * 32767).astype(
        np.int16
    )
    return Utterance(0.0, 1.0, text, intent, 0.9, "", samples=audio)


async def test_the_agent_emits_a_mood_summary_after_the_safety_event_and_no_words(
    tmp_path: Path,
) -> None:
    said = ["아이고 허리야 너무 아파", "살려 주세요", "무릎이 쑤셔서 못 걷겠어"]
    utterances = [_utt(said[0]), _utt(said[1], Intent.HELP), _utt(said[2])]
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    outbox = Outbox(config.outbox_path, config.device_id)
    stage = MoodStage(EmotionModel.load_newest(ARTIFACTS), period_s=1.0)
    agent = Agent(
        config,
        source=FakeSource(),
        listener=ScriptedEars(utterances),
        speaker=RecordingSpeaker(),
        outbox=outbox,
        link=None,
        stages=[stage],
    )

    def counted() -> int:
        return sum(
            int(e.payload["utterances"]) for e in outbox.pending(100) if e.type is EventType.MOOD
        )

    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    deadline = asyncio.get_running_loop().time() + 60.0
    while counted() < 3 and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polls the outbox
        await asyncio.sleep(0.05)
    stop.set()
    await task

    envelopes = outbox.pending(100)
    emergency = [e for e in envelopes if e.type is EventType.EMERGENCY]
    assert len(emergency) == 1
    assert emergency[0].priority is Priority.CRITICAL
    mood = [e for e in envelopes if e.type is EventType.MOOD]
    assert mood, "no mood event within the time limit"
    assert mood[0].model is not None
    assert mood[0].model.name == "emotion"
    assert sum(e.payload["utterances"] for e in mood) == 3
    assert any(e.payload["shares"]["pain"] > 0 for e in mood)
    wire = " ".join(e.model_dump_json() for e in envelopes)
    for text in said:
        for word in text.split():
            assert word not in wire
