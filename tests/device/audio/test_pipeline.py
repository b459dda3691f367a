"""The Listener: no recognition while silent (fakes), and the real chain on committed clips."""

from typing import Any

import numpy as np
import pytest

from device.audio.asr import AnswerKind, SpeechRecognizer, Transcript
from device.audio.pipeline import Listener, robot_listener
from device.audio.sounds import SoundClassifier
from device.audio.source import CHUNK_S, AudioChunk, WavSource
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.dialog.intents import Intent

from .conftest import ESPEAK_NO, ESPEAK_ORDINARY, HELP_CLIPS


class ScriptedVad(SileroVad):
    """Speech probability from the chunk's first sample (0 or 1), no model."""

    def __init__(self) -> None:
        pass

    def probability(self, chunk: AudioChunk) -> float:
        return float(chunk.samples[0] > 0)


class CountingRecognizer(SpeechRecognizer):
    """Counts the chunks it is fed and always hears a call for help."""

    def __init__(self) -> None:
        self.fed = 0
        self.started = 0
        self.idles: list[int] = []  # `fed` at each idle()

    def start(self) -> None:
        self.started += 1

    def idle(self) -> None:
        self.idles.append(self.fed)

    def accept(self, chunk: AudioChunk) -> None:
        self.fed += 1

    def finish(self) -> Transcript:
        return Transcript("살려 주세요", "살려 주세요", 1.0)

    def partial_text(self) -> str:
        return ""  # nothing decided before the segment closes


class EarlyRecognizer(CountingRecognizer):
    """Its partial transcript already holds the whole call for help."""

    def __init__(self, partial: str) -> None:
        super().__init__()
        self.partial = partial
        self.partials_asked = 0

    def partial_text(self) -> str:
        self.partials_asked += 1
        return self.partial


def chunks(pattern: list[int]) -> list[AudioChunk]:
    return [AudioChunk(np.full(512, v, np.int16), i * CHUNK_S) for i, v in enumerate(pattern)]


def test_listener_feeds_no_audio_to_the_recognizer_while_nobody_speaks() -> None:
    recognizer = CountingRecognizer()
    listener = Listener(recognizer, ScriptedVad(), VadConfig())
    results = [listener.process(c) for c in chunks([0] * 300 + [1] * 2 + [0] * 300)]
    assert results == [None] * 602
    assert (recognizer.fed, recognizer.started) == (0, 0)


def test_listener_returns_one_utterance_per_segment_with_its_intent() -> None:
    recognizer = CountingRecognizer()
    listener = Listener(recognizer, ScriptedVad(), VadConfig())
    results = [listener.process(c) for c in chunks([0] * 20 + [1] * 30 + [0] * 30)]
    heard = [u for u in results if u is not None]
    assert len(heard) == 1
    assert heard[0].intent is Intent.HELP
    assert heard[0].start_s == pytest.approx(20 * CHUNK_S)
    assert heard[0].end_s == pytest.approx(50 * CHUNK_S)
    assert recognizer.started == 1
    assert not listener.speech_active


def test_the_recogniser_is_told_it_is_idle_once_after_each_utterance_never_during_one() -> None:
    recognizer = CountingRecognizer()
    listener = Listener(recognizer, ScriptedVad(), VadConfig(hangover_s=0.4))
    pattern = [0] * 20 + [1] * 30 + [0] * 40 + [1] * 20 + [0] * 40
    idles_at = []
    for i, c in enumerate(chunks(pattern)):
        before = len(recognizer.idles)
        listener.process(c)
        if len(recognizer.idles) > before:
            idles_at.append(i)
            assert not listener.speech_active
    assert recognizer.started == 2
    # Once per utterance, at the chunk after the one its segment closed on (0.4 s of hangover).
    assert idles_at == [50 + 12 + 1, 110 + 12 + 1]
    assert 0 < recognizer.idles[0] < recognizer.idles[1] == recognizer.fed  # nothing fed after


def test_call_for_help_is_reported_at_the_first_silent_chunk_not_after_the_hangover() -> None:
    listener = Listener(EarlyRecognizer("살려 주세요"), ScriptedVad(), VadConfig(hangover_s=0.4))
    results = [listener.process(c) for c in chunks([0] * 20 + [1] * 30 + [0] * 30)]
    heard = [(i, u) for i, u in enumerate(results) if u is not None]
    assert [(i, u.early, u.reported_early) for i, u in heard] == [
        (50, True, False),  # the first silent chunk after the speech
        (50 + 12, False, True),  # the segment closes after 0.4 s: already reported
    ]
    assert heard[0][1].intent is Intent.HELP
    assert heard[0][1].end_s == pytest.approx(50 * CHUNK_S)


def test_partial_that_is_not_a_call_for_help_waits_for_the_final_transcript() -> None:
    recognizer = EarlyRecognizer("오늘 날씨가 좋네요")
    listener = Listener(recognizer, ScriptedVad(), VadConfig(hangover_s=0.4))
    results = [listener.process(c) for c in chunks([0] * 20 + [1] * 30 + [0] * 30)]
    heard = [u for u in results if u is not None]
    assert [(u.early, u.reported_early) for u in heard] == [(False, False)]
    assert 1 <= recognizer.partials_asked <= 5  # only a few looks during the hangover


def test_listener_reports_speech_active_while_a_segment_is_open() -> None:
    listener = Listener(CountingRecognizer(), ScriptedVad(), VadConfig())
    for c in chunks([0] * 5 + [1] * 10):
        listener.process(c)
    assert listener.speech_active


@pytest.mark.slow
def test_robot_ears_act_on_or_ask_about_human_calls_for_help(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model)
    acted, asked = [], []
    for clip in HELP_CLIPS:
        heard = list(robot_listener(recognizer, VadConfig()).listen(WavSource(clip)))
        if any(u.intent is Intent.HELP for u in heard):
            acted.append(clip.name)
        elif any(u.intent in (Intent.CHECK, Intent.DISTRESS) for u in heard):
            asked.append(clip.name)
    print(f"human help clips: acted on {acted}, asked about {asked}")
    assert len(HELP_CLIPS) == 5
    # measured (benchmarks/intent_recall.py): both clean calls and, with the steady-noise
    # suppressor, the drone "살려주세요" at once; the drone "도와주세요" asked about
    assert {"call_clean_1.wav", "call_clean_2.wav", "sallyeojuseyo_drone.wav"} <= set(acted)
    assert len(acted) + len(asked) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("clip", ESPEAK_ORDINARY, ids=lambda p: p.stem)
def test_real_listener_raises_no_emergency_on_ordinary_espeak_sentence(
    vosk_model: Any, clip: Any
) -> None:
    listener = Listener(SpeechRecognizer(vosk_model), SileroVad(), VadConfig())
    heard = list(listener.listen(WavSource(clip)))
    assert heard, "the plumbing should produce at least one utterance"
    assert all(u.intent not in (Intent.HELP, Intent.FELL, Intent.PAIN) for u in heard)


@pytest.mark.slow
@pytest.mark.parametrize("expecting", [None, AnswerKind.YES_NO], ids=["idle", "asked"])
@pytest.mark.parametrize("clip", ESPEAK_NO, ids=lambda p: p.stem)
def test_a_spoken_no_or_fine_is_never_a_call_nor_a_check(
    vosk_model: Any, clip: Any, expecting: AnswerKind | None
) -> None:
    """espeak-ng's "아니요" was heard as PAIN (the safety grammar's "아파 요", P 0.99) and its
    "아니에요" as a check ("아 이예요" ~ "아야"): plumbing, but a no must never be a call."""
    listener = robot_listener(
        SpeechRecognizer(vosk_model), VadConfig(), sounds=SoundClassifier.load()
    )
    listener.expect(expecting)
    heard = list(listener.listen(WavSource(clip)))
    assert heard
    alarms = (Intent.HELP, Intent.PAIN, Intent.FELL, Intent.CHECK, Intent.DISTRESS)
    assert [(u.text, u.grammar_text, u.intent) for u in heard if u.intent in alarms] == []
    assert not any("아파" in u.grammar_text or "아야" in u.grammar_text for u in heard)
