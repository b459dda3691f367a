"""Constrained answers: the Listener's expect seam (fakes) and the real Vosk answer grammar."""

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.audio.asr import (
    YES_NO_PHRASES_KO,
    AnswerGrammar,
    AnswerKind,
    SpeechRecognizer,
    Transcript,
    constrained_answer,
    garbage_syllables,
    spell_in_vocabulary,
)
from device.audio.pipeline import Listener, Utterance
from device.audio.source import CHUNK_S, AudioChunk, WavSource
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.errors import AsrError

CLIPS = Path(__file__).resolve().parents[2] / "fixtures" / "dialog" / "audio"


class ScriptedVad(SileroVad):
    def __init__(self) -> None:
        pass

    def probability(self, chunk: AudioChunk) -> float:
        return float(chunk.samples[0] > 0)


class FakeRecognizer(SpeechRecognizer):
    """Hears `text`; with an answer grammar installed it also hears `answer`."""

    def __init__(self, text: str = "네", answer: str = "네") -> None:
        self.text, self.answer = text, answer
        self.installed: AnswerGrammar | None = None
        self.active: AnswerGrammar | None = None
        self.built: list[AnswerKind] = []

    def answer_grammar(self, kind: AnswerKind, options: Sequence[str] = ()) -> AnswerGrammar:
        if kind is AnswerKind.SCALE and not options:
            raise AsrError("a scale answer needs its options")
        self.built.append(kind)
        return AnswerGrammar(kind, tuple(options), None, frozenset())

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        self.installed = grammar

    def start(self) -> None:
        self.active = self.installed

    def accept(self, chunk: AudioChunk) -> None:
        pass

    def finish(self) -> Transcript:
        answer = self.answer if self.active is not None else ""
        return Transcript(self.text, "", 0.0, answer, 0.9 if answer else 0.0)

    def partial_text(self) -> str:
        return ""


def speak(listener: Listener, speech_chunks: int = 20) -> list[Utterance]:
    pattern = [0] * 5 + [1] * speech_chunks + [0] * 20
    chunks = [AudioChunk(np.full(512, v, np.int16), i * CHUNK_S) for i, v in enumerate(pattern)]
    return [u for u in (listener.process(c) for c in chunks) if u is not None]


def test_without_an_expectation_no_answer_grammar_is_built_or_used() -> None:
    recognizer = FakeRecognizer()
    (heard,) = speak(Listener(recognizer, ScriptedVad(), VadConfig()))
    assert recognizer.built == []
    assert (heard.answer_kind, heard.answer_text) == (None, "")


def test_expected_answer_is_decoded_and_reported_once_then_lapses() -> None:
    recognizer = FakeRecognizer()
    listener = Listener(recognizer, ScriptedVad(), VadConfig())
    listener.expect(AnswerKind.YES_NO)
    assert listener.expecting is AnswerKind.YES_NO
    (first,) = speak(listener)
    assert (first.answer_kind, first.answer_text, first.answer_confidence) == (
        AnswerKind.YES_NO,
        "네",
        0.9,
    )
    assert listener.expecting is None
    (second,) = speak(listener)
    assert (second.answer_kind, second.answer_text) == (None, "")
    assert recognizer.installed is None  # the grammar was taken off the recogniser


def test_an_utterance_with_no_words_does_not_use_up_the_expectation() -> None:
    recognizer = FakeRecognizer(text="", answer="")
    listener = Listener(recognizer, ScriptedVad(), VadConfig())
    listener.expect(AnswerKind.YES_NO)
    speak(listener)  # a cough: nothing heard
    assert listener.expecting is AnswerKind.YES_NO


def test_expect_none_cancels() -> None:
    listener = Listener(FakeRecognizer(), ScriptedVad(), VadConfig())
    listener.expect(AnswerKind.YES_NO)
    listener.expect(None)
    (heard,) = speak(listener)
    assert heard.answer_kind is None


def test_a_grammar_that_cannot_be_built_leaves_the_free_transcript_to_answer() -> None:
    listener = Listener(FakeRecognizer(), ScriptedVad(), VadConfig())
    listener.expect(AnswerKind.SCALE, [])  # no options: logged, not raised into the dialog
    assert listener.expecting is None
    (heard,) = speak(listener)
    assert heard.text == "네"


def test_expect_is_safe_from_another_thread_while_audio_runs() -> None:
    recognizer = FakeRecognizer()
    listener = Listener(recognizer, ScriptedVad(), VadConfig())
    done = threading.Event()

    def dialog() -> None:
        for i in range(200):
            listener.expect(AnswerKind.YES_NO if i % 2 else None)
        listener.expect(AnswerKind.YES_NO)
        done.set()

    thread = threading.Thread(target=dialog)
    thread.start()
    for _ in range(5):
        speak(listener)
    thread.join()
    assert done.is_set()
    expecting = listener.expecting  # the last expect, unless an utterance already used it
    (heard,) = speak(listener)
    assert heard.answer_kind is expecting
    assert listener.expecting is None


def test_constrained_answer_needs_answers_to_dominate_and_be_confident() -> None:
    answers = frozenset({"네", "아니요"})

    def word(w: str, c: float = 1.0) -> dict[str, Any]:
        return {"word": w, "conf": c}

    assert constrained_answer([word("네")], answers) == ("네", 1.0)
    assert constrained_answer([word("네"), word("가")], answers) == ("네", 1.0)  # half
    assert constrained_answer([word("네"), word("가"), word("나")], answers) == ("", 0.0)
    assert constrained_answer([word("네", 0.4)], answers) == ("", 0.0)
    assert constrained_answer([], answers) == ("", 0.0)


# -- the real model -------------------------------------------------------------------------


@pytest.mark.slow
def test_every_yes_no_phrase_is_in_the_model(vosk_model: Any) -> None:
    for phrase in YES_NO_PHRASES_KO:
        assert spell_in_vocabulary(vosk_model, phrase) == phrase


@pytest.mark.slow
def test_words_outside_the_vocabulary_are_spelled_by_syllables_or_refused(
    vosk_model: Any,
) -> None:
    assert spell_in_vocabulary(vosk_model, "거의 없다") == "거 의 없다"
    with pytest.raises(AsrError, match="vocabulary"):
        spell_in_vocabulary(vosk_model, "qqq")


@pytest.mark.slow
def test_garbage_path_is_thousands_of_syllables_without_the_answers(vosk_model: Any) -> None:
    garbage = garbage_syllables(vosk_model)
    assert len(garbage) > 1000
    recognizer = SpeechRecognizer(vosk_model)
    grammar = recognizer.answer_grammar(AnswerKind.YES_NO)
    assert {"네", "아니요"} <= grammar.answer_words
    assert recognizer.answer_grammar(AnswerKind.YES_NO) is grammar  # compiled once
    scale = recognizer.answer_grammar(AnswerKind.SCALE, ["거의 없다", "가끔 있다", "자주 있다"])
    assert scale.phrases == ("거 의 없다", "가끔 있다", "자주 있다")


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["ko_yes.wav", "ko_no.wav", "ko_done.wav"])
def test_real_listener_runs_an_expected_answer_end_to_end(vosk_model: Any, clip: str) -> None:
    """Plumbing only: espeak-ng is no measure of recognition (ARCHITECTURE's facts)."""
    listener = Listener(SpeechRecognizer(vosk_model), SileroVad(), VadConfig())
    listener.expect(AnswerKind.YES_NO)
    heard = list(listener.listen(WavSource(CLIPS / clip)))
    assert heard
    assert heard[0].answer_kind is AnswerKind.YES_NO
    assert 0.0 <= heard[0].answer_confidence <= 1.0


@pytest.mark.slow
def test_every_screening_scale_builds_a_korean_answer_grammar(vosk_model: Any) -> None:
    from protocol.instruments import INSTRUMENTS

    recognizer = SpeechRecognizer(vosk_model)
    for instrument in INSTRUMENTS.values():
        options = [o.ko for o in instrument.options]
        grammar = recognizer.answer_grammar(AnswerKind.SCALE, options)
        assert len(grammar.phrases) == len(options)
