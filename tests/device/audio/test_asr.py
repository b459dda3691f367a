"""The real Vosk model: grammar words checked against its vocabulary; both recognisers stream."""

from typing import Any

import numpy as np
import pytest

from device.audio.asr import DEFAULT_GRAMMAR_PHRASES, SpeechRecognizer, check_vocabulary, load_model
from device.audio.source import WavSource
from device.errors import AsrError

from .conftest import HELP_CLIPS

pytestmark = pytest.mark.slow


def test_out_of_vocabulary_grammar_word_is_an_asr_error_naming_it(vosk_model: Any) -> None:
    with pytest.raises(AsrError, match="살려주세요"):
        SpeechRecognizer(vosk_model, ["도와주 세요", "살려주세요"])


def test_default_grammar_is_entirely_in_vocabulary(vosk_model: Any) -> None:
    check_vocabulary(vosk_model, DEFAULT_GRAMMAR_PHRASES)


def test_model_is_loaded_once_and_shared(vosk_model: Any) -> None:
    assert load_model() is vosk_model


def test_missing_model_folder_is_an_asr_error(tmp_path: Any) -> None:
    with pytest.raises(AsrError, match="no Vosk model"):
        load_model(tmp_path)


def test_recognizer_streams_a_clean_call_for_help(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model)
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    recognizer.start()
    for chunk in WavSource(clean).chunks():
        recognizer.accept(chunk)
    heard = recognizer.finish()
    assert heard.text.replace(" ", "") == "도와주세요"
    assert heard.grammar_text.replace(" ", "") == "도와주세요"
    assert 0.5 < heard.grammar_confidence <= 1.0


def test_finish_starts_a_fresh_utterance(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model)
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    recognizer.start()
    for chunk in WavSource(clean).chunks():
        recognizer.accept(chunk)
    recognizer.finish()
    empty = recognizer.finish()
    assert (empty.text, empty.grammar_text, empty.grammar_confidence) == ("", "", 0.0)


@pytest.mark.slow
def test_free_recognizer_is_renewed_only_past_the_memory_budget(vosk_model: Any) -> None:
    within = SpeechRecognizer(vosk_model, rss_growth_mb=1e9)
    over = SpeechRecognizer(vosk_model, rss_growth_mb=100.0)
    within.start()
    over.start()  # the process's size now is the baseline
    assert over.renewals == 0
    ballast = np.ones(300 * 2**20 // 8)  # the process grows by 300 MB
    for _ in range(2):
        within.start()
        over.start()
    assert ballast.sum() > 0
    assert within.renewals == 0
    assert over.renewals == 2


def test_a_negative_memory_budget_is_refused(vosk_model: Any) -> None:
    with pytest.raises(AsrError, match="rss_growth_mb"):
        SpeechRecognizer(vosk_model, rss_growth_mb=-1.0)
