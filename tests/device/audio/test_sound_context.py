"""Which segments the sound classifier hears: wordless, long enough, and not inside fluent
speech (a television's fragments between words were taken for moaning)."""

from collections.abc import Mapping

import numpy as np

from device.audio.asr import AnswerGrammar, AnswerKind, SpeechRecognizer, Transcript
from device.audio.pipeline import Listener
from device.audio.sounds import SoundClassifier, SoundEvent
from device.audio.source import CHUNK_S, AudioChunk
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.dialog.intents import Intent


class ScriptedVad(SileroVad):
    def __init__(self) -> None:
        pass

    def probability(self, chunk: AudioChunk) -> float:
        return float(chunk.samples[0] > 0)


class Scripted(SpeechRecognizer):
    """Hears the given texts, one per segment."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)

    def start(self) -> None:
        pass

    def accept(self, chunk: AudioChunk) -> None:
        pass

    def finish(self) -> Transcript:
        return Transcript(self.texts.pop(0), "", 0.0)

    def partial_text(self) -> str:
        return ""

    def answer_grammar(self, kind: AnswerKind, options: object = ()) -> AnswerGrammar:
        raise AssertionError("not expected")

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        pass


class AlwaysDistress(SoundClassifier):
    """Calls a segment shorter than 2.4 s (pre-roll and hangover included) distress, a longer
    one speech. (The ears also classify segments with words that decided nothing - a cry
    decoded as nonsense syllables - so the sentences below reach it, and it says speech.)"""

    def __init__(self) -> None:
        self.calls = 0

    def classify(self, pcm: np.ndarray, sample_rate_hz: int = 16000) -> SoundEvent:
        self.calls += 1
        if len(pcm) >= 2.4 * sample_rate_hz:
            return SoundEvent("speech", 0.05, False, {"speech": 0.95})
        scores: Mapping[str, float] = {"moaning": 0.9}
        return SoundEvent("moaning", 0.9, True, scores)


def run(pattern: list[int], texts: list[str]) -> tuple[list[Intent], int]:
    sounds = AlwaysDistress()
    listener = Listener(Scripted(texts), ScriptedVad(), VadConfig(), sounds=sounds)
    chunks = [AudioChunk(np.full(512, v, np.int16), i * CHUNK_S) for i, v in enumerate(pattern)]
    heard = [u for u in (listener.process(c) for c in chunks) if u is not None]
    return [u.intent for u in heard], sounds.calls


def test_a_wordless_segment_in_a_quiet_room_is_classified() -> None:
    intents, calls = run([0] * 10 + [1] * 30 + [0] * 30, [""])
    assert intents == [Intent.DISTRESS]
    assert calls == 1


def test_a_short_fragment_is_not_classified() -> None:
    intents, calls = run([0] * 10 + [1] * 10 + [0] * 30, [""])  # 0.32 s of sound
    assert intents == [Intent.NONE]
    assert calls == 0


def test_a_wordless_segment_right_after_a_sentence_is_not_classified() -> None:
    sentence, gap, sound = [1] * 60, [0] * 20, [1] * 30  # 0.64 s between them
    intents, calls = run(
        [0] * 10 + sentence + gap + sound + [0] * 30, ["오늘 날씨가 참 좋네요", ""]
    )
    assert intents == [Intent.NONE, Intent.NONE]
    assert calls == 1  # the sentence (speech), never the sound right after it


def test_a_wordless_segment_well_after_a_sentence_is_classified() -> None:
    sentence, gap, sound = [1] * 60, [0] * 80, [1] * 30  # 2.6 s between them
    intents, calls = run(
        [0] * 10 + sentence + gap + sound + [0] * 30, ["오늘 날씨가 참 좋네요", ""]
    )
    assert intents == [Intent.NONE, Intent.DISTRESS]
    assert calls == 2  # the sentence (speech), then the sound
