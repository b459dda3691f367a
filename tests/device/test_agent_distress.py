"""End to end through the robot's own ears: a scream → the robot asks → silence → an alert
with the distress_sound cause; "괜찮아요" instead → a safety_check event without words.

The scream is synthetic (the sound model's own harmonic test sweep, loud, over a modelled
quiet room): it tests the plumbing from audio to alert, not the classifier's recall, which
benchmarks/sound.py measures on human recordings held out by speaker."""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import harmonic, room_noise
from device.agent import Agent
from device.audio.asr import AnswerGrammar, AnswerKind, SpeechRecognizer, Transcript, Word
from device.audio.pipeline import robot_listener
from device.audio.sound_features import self_test_signal
from device.audio.sounds import SoundClassifier
from device.audio.source import CHUNK_SAMPLES, AudioChunk
from device.config import DeviceConfig, SafetyConfig, VadConfig
from device.outbox import Outbox
from device.speech.prompts import Prompt, render
from protocol import EventType, Priority
from tests.device.test_agent import RecordingSpeaker as PlainSpeaker
from tests.device.test_agent import _run_until


class WordlessRecognizer(SpeechRecognizer):
    """Hears no words in the first segment (a scream has none), then `replies` in order."""

    def __init__(self, replies: list[str] | None = None) -> None:
        self.replies = list(replies or [])
        self.segments = 0

    def start(self) -> None:
        pass

    def accept(self, chunk: AudioChunk) -> None:
        pass

    def finish(self) -> Transcript:
        self.segments += 1
        text = "" if self.segments == 1 or not self.replies else self.replies.pop(0)
        return Transcript(text, "", 0.0)

    def partial_text(self) -> str:
        return ""

    def answer_grammar(self, kind: AnswerKind, options: object = ()) -> AnswerGrammar:
        return AnswerGrammar(kind, (), None, frozenset())

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        pass


def _pcm_chunks(x: np.ndarray) -> list[np.ndarray]:
    pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return [
        pcm[i : i + CHUNK_SAMPLES] for i in range(0, len(pcm) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES)
    ]


class ClipThenQuiet:
    """Plays `audio`, then a quiet room until closed; `reply` is played once `answer` is set."""

    def __init__(self, audio: np.ndarray, reply: np.ndarray | None = None) -> None:
        self._chunks = _pcm_chunks(audio)
        self._quiet = _pcm_chunks(room_noise(1.0, seed=11))
        self._reply = _pcm_chunks(reply) if reply is not None else []
        self._closed = threading.Event()
        self.answer = threading.Event()
        self.ready: Callable[[], bool] = lambda: True  # the ears are listening again

    def chunks(self) -> Iterator[AudioChunk]:
        n = 0
        for samples in self._chunks:
            yield AudioChunk(samples, n * 0.032)
            n += 1
        while not self._closed.wait(0.005):
            if self.answer.is_set() and self._reply and self.ready():
                for samples in self._reply:
                    yield AudioChunk(samples, n * 0.032)
                    n += 1
                self._reply = []
            yield AudioChunk(self._quiet[n % len(self._quiet)], n * 0.032)
            n += 1

    def close(self) -> None:
        self._closed.set()


class RecordingSpeaker(PlainSpeaker):
    """Remembers what the robot said; `on_say` lets a test answer it."""

    def __init__(self) -> None:
        super().__init__()
        self.on_say: Callable[[str], None] | None = None

    def say(self, text: str, language: str) -> None:
        super().say(text, language)
        if self.on_say is not None:
            self.on_say(text)


def scream_in_a_quiet_room() -> np.ndarray:
    scream = self_test_signal().astype(np.float64) * 32767 * 2.0  # loud, a little clipped
    return np.concatenate([room_noise(6.0), scream, room_noise(1.5, seed=3)])


def _agent(
    tmp_path: Path, recognizer: WordlessRecognizer, source: ClipThenQuiet, countdown_s: float
) -> tuple[Agent, Outbox, RecordingSpeaker]:
    config = DeviceConfig(
        device_id="robot-distress",
        data_dir=tmp_path,
        speech_out="print",
        safety=SafetyConfig(countdown_s=countdown_s),
    )
    outbox = Outbox(config.outbox_path, config.device_id)
    listener = robot_listener(recognizer, VadConfig(), "ko", sounds=SoundClassifier.load())
    speaker = RecordingSpeaker()
    agent = Agent(
        config,
        source=source,
        listener=listener,
        speaker=speaker,
        outbox=outbox,
        link=None,
    )
    return agent, outbox, speaker


def _events(outbox: Outbox, kind: EventType) -> list[dict[str, object]]:
    return [e.payload for e in outbox.pending(100) if e.type is kind]


async def test_a_scream_then_silence_raises_a_distress_alert(tmp_path: Path) -> None:
    recognizer = WordlessRecognizer()
    agent, outbox, speaker = _agent(
        tmp_path, recognizer, ClipThenQuiet(scream_in_a_quiet_room()), countdown_s=0.5
    )
    await _run_until(agent, lambda: bool(_events(outbox, EventType.EMERGENCY)), timeout_s=60.0)
    assert render(Prompt.NEED_HELP, "ko") in speaker.said  # it asked first
    (payload,) = _events(outbox, EventType.EMERGENCY)
    assert payload["trigger"] == "distress_sound"
    assert payload["intent"] == "distress"
    assert payload["countdown"] == "silence"
    (envelope,) = [e for e in outbox.pending(100) if e.type is EventType.EMERGENCY]
    assert envelope.priority is Priority.CRITICAL


async def test_a_scream_then_im_fine_is_a_safety_check_without_words(tmp_path: Path) -> None:
    recognizer = WordlessRecognizer(replies=["괜찮아요"])
    reply = np.concatenate([harmonic(0.8, 180.0, -20.0), room_noise(0.8, seed=5)])
    source = ClipThenQuiet(scream_in_a_quiet_room(), reply)
    agent, outbox, speaker = _agent(tmp_path, recognizer, source, countdown_s=600.0)
    # answer once the robot has finished asking and its ears are open again (half duplex)
    source.ready = lambda: not agent.speaking and agent.clock.monotonic() > agent._deaf_until_s
    speaker.on_say = lambda text: (
        source.answer.set() if text == render(Prompt.NEED_HELP, "ko") else None
    )
    await _run_until(agent, lambda: bool(_events(outbox, EventType.SAFETY_CHECK)), timeout_s=60.0)
    (payload,) = _events(outbox, EventType.SAFETY_CHECK)
    assert payload["cause"] == "distress_sound"
    assert payload["countdown"] == "cancelled"
    assert payload["sound"] == "screaming"
    assert "괜찮" not in str(payload)
    assert not _events(outbox, EventType.EMERGENCY)


class MishearingRecognizer(WordlessRecognizer):
    """A scream (no words), then a "no" as Vosk and the grammars once heard espeak-ng's "아니요"."""

    def __init__(self, reply: Transcript) -> None:
        super().__init__()
        self.reply = reply

    def finish(self) -> Transcript:
        self.segments += 1
        return Transcript("", "", 0.0) if self.segments == 1 else self.reply


@pytest.mark.parametrize(
    "reply",
    [
        # free "아 이예요" ~ "아야" 0.75 was a check, and a check while asking escalated at once
        Transcript("아 이예요", "·", 0.0, answer_text="아니요", answer_confidence=0.69),
        # the safety grammar's "아파 요" with P 0.98 was PAIN
        Transcript(
            "기 요",
            "아파 요",
            1.0,
            answer_text="아니오",
            answer_confidence=0.84,
            grammar_words=(Word("아파", 1.0, 0.1, 0.3), Word("요", 1.0, 0.3, 0.5)),
        ),
        Transcript("아니 에 요", "아니 ·", 1.0),
    ],
    ids=["near-aya", "pain-grammar", "free-no"],
)
async def test_a_no_to_do_you_need_help_cancels_whatever_the_grammar_heard(
    tmp_path: Path, reply: Transcript
) -> None:
    recognizer = MishearingRecognizer(reply)
    answer = np.concatenate([harmonic(0.6, 180.0, -20.0), room_noise(0.8, seed=5)])
    source = ClipThenQuiet(scream_in_a_quiet_room(), answer)
    agent, outbox, speaker = _agent(tmp_path, recognizer, source, countdown_s=600.0)
    source.ready = lambda: not agent.speaking and agent.clock.monotonic() > agent._deaf_until_s
    speaker.on_say = lambda text: (
        source.answer.set() if text == render(Prompt.NEED_HELP, "ko") else None
    )
    await _run_until(agent, lambda: bool(_events(outbox, EventType.SAFETY_CHECK)), timeout_s=60.0)
    (payload,) = _events(outbox, EventType.SAFETY_CHECK)
    assert payload["countdown"] == "cancelled"
    assert not _events(outbox, EventType.EMERGENCY)
    assert render(Prompt.HELP_CALLED, "ko") not in speaker.said
