"""The real Vosk model: grammar words checked against its vocabulary; both recognisers stream."""

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.audio.asr import (
    DEFAULT_GRAMMAR_PHRASES,
    PROBE_WAV,
    SpeechRecognizer,
    check_vocabulary,
    load_model,
)
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


class CountingGraph:
    """Stands for the mapped graph: counts its releases."""

    def __init__(self) -> None:
        self.releases = 0

    def release_soon(self) -> None:
        self.releases += 1


def test_warm_decodes_the_probe_then_leaves_no_trace_of_it(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model, rss_growth_mb=100.0)
    graph = CountingGraph()
    recognizer.graph = graph  # type: ignore[assignment]
    assert recognizer.warm() > 0.0  # CPU seconds: it decoded something
    assert graph.releases == 1  # the probe's graph pages leave the RSS
    empty = recognizer.finish()  # nothing of the probe is left in the utterance
    assert (empty.text, empty.grammar_text, empty.grammar_words) == ("", "", ())
    recognizer.start()
    assert recognizer.renewals == 0
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    for chunk in WavSource(clean).chunks():
        recognizer.accept(chunk)
    heard = recognizer.finish()
    assert heard.text.replace(" ", "") == "도와주세요"  # not "살려 주세요 도와주세요"
    assert heard.grammar_text.replace(" ", "") == "도와주세요"


def test_warm_takes_the_memory_budgets_baseline(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model, rss_growth_mb=100.0)
    recognizer.warm()
    ballast = np.ones(300 * 2**20 // 8)  # grown by 300 MB since the warm-up
    recognizer.start()  # without the warm-up's baseline this start would take it, at +300 MB
    assert recognizer.renewals == 1
    recognizer.finish()
    assert ballast.sum() > 0


def test_the_graph_is_released_when_an_utterance_is_decided_and_after_the_probe(
    vosk_model: Any,
) -> None:
    recognizer = SpeechRecognizer(vosk_model)
    assert recognizer.graph is None  # the shared model is read into the heap
    graph = CountingGraph()
    recognizer.graph = graph  # type: ignore[assignment]
    recognizer.release_every_s = None  # only when decided
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    for decided in range(2):
        recognizer.start()
        assert graph.releases == decided
        for chunk in WavSource(clean).chunks():
            recognizer.accept(chunk)
            assert graph.releases == decided  # not while the senior speaks, with no interval
        heard = recognizer.finish()
        assert graph.releases == decided + 1  # once the utterance is decoded
        assert heard.text.replace(" ", "") == "도와주세요"  # the second decode after a release
    assert recognizer.self_test()[0]
    assert graph.releases == 3  # the probe's pages too
    recognizer.release_graph_pages = False
    recognizer.start()
    recognizer.finish()
    assert recognizer.self_test()[0]
    assert graph.releases == 3


def test_a_long_decode_releases_the_graph_every_interval_of_audio(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model)
    graph = CountingGraph()
    recognizer.graph = graph  # type: ignore[assignment]
    recognizer.release_every_s = 0.5
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    chunks = list(WavSource(clean).chunks())
    audio_s = sum(len(c.samples) for c in chunks) / 16000
    assert audio_s > 1.0
    recognizer.start()
    for chunk in chunks:
        recognizer.accept(chunk)
    during = graph.releases
    heard = recognizer.finish()
    assert during == int(audio_s / 0.5 + 1e-9) or during == int(audio_s / 0.5) - 1
    assert graph.releases == during + 1
    assert heard.text.replace(" ", "") == "도와주세요"  # released mid-decode: the same words


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


@pytest.mark.slow
def test_an_over_budget_recogniser_is_renewed_in_idle_time_not_at_the_next_start(
    vosk_model: Any,
) -> None:
    recognizer = SpeechRecognizer(vosk_model, rss_growth_mb=100.0)
    recognizer.start()  # the process's size now is the baseline
    recognizer.finish()
    recognizer.idle()
    assert recognizer.renewals == 0  # within its budget: nothing to do
    recognizer.start()
    ballast = np.ones(300 * 2**20 // 8)  # the process grows by 300 MB during an utterance
    recognizer.finish()
    assert recognizer.renewals == 0  # never inside finish(): the decision does not wait
    recognizer.idle()
    assert recognizer.renewals == 1  # between utterances
    recognizer.idle()
    assert recognizer.renewals == 1  # once
    del ballast
    recognizer.start()
    assert recognizer.renewals == 1  # not again at the start
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    for chunk in WavSource(clean).chunks():
        recognizer.accept(chunk)
    assert recognizer.finish().text.replace(" ", "") == "도와주세요"  # the renewed one hears


@pytest.mark.slow
def test_a_renewal_left_due_is_done_at_the_next_start(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model, rss_growth_mb=100.0)
    recognizer.start()
    ballast = np.ones(300 * 2**20 // 8)
    recognizer.finish()  # over budget: due
    del ballast  # back within it before anyone called idle()
    recognizer.start()
    assert recognizer.renewals == 1


def test_file_pages_do_not_count_as_the_recognisers_growth(vosk_model: Any, tmp_path: Path) -> None:
    """A mapped file's pages (the mapped speech graph's) grow the RSS, not the heap: no renewal."""
    import mmap

    recognizer = SpeechRecognizer(vosk_model, rss_growth_mb=100.0)
    recognizer.start()
    pages = tmp_path / "graph.bin"
    with open(pages, "wb") as out:
        out.truncate(300 * 2**20)
    with open(pages, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        touched = sum(mapped[i] for i in range(0, len(mapped), mmap.PAGESIZE))  # 300 MB resident
        for _ in range(2):
            recognizer.start()
    assert touched == 0
    assert recognizer.renewals == 0


def test_a_negative_memory_budget_is_refused(vosk_model: Any) -> None:
    with pytest.raises(AsrError, match="rss_growth_mb"):
        SpeechRecognizer(vosk_model, rss_growth_mb=-1.0)


ESPEAK = Path(__file__).parents[2] / "fixtures" / "audio" / "espeak"


def test_probe_is_the_committed_espeak_clip() -> None:
    assert PROBE_WAV.read_bytes() == (ESPEAK / "safety_help.wav").read_bytes()


def test_self_test_decodes_the_committed_probe(vosk_model: Any) -> None:
    ok, detail = SpeechRecognizer(vosk_model).self_test()
    assert ok, detail
    assert detail.startswith("probe heard '살려 주세요'")


def test_self_test_fails_when_the_probe_is_heard_as_something_else(vosk_model: Any) -> None:
    ok, detail = SpeechRecognizer(vosk_model).self_test(ESPEAK / "safety_fine.wav")  # 괜찮아요
    assert not ok
    assert "'살려 주세요'" not in detail


def test_self_test_fails_on_silence_and_on_a_missing_probe(vosk_model: Any, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    with wave.open(str(quiet), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.zeros(16_000, np.int16).tobytes())
    recognizer = SpeechRecognizer(vosk_model)
    assert recognizer.self_test(quiet)[0] is False
    ok, detail = recognizer.self_test(tmp_path / "gone.wav")
    assert not ok
    assert detail.startswith("probe unreadable")


def test_self_test_leaves_the_open_utterance_alone(vosk_model: Any) -> None:
    recognizer = SpeechRecognizer(vosk_model)
    recognizer.start()
    clean = next(p for p in HELP_CLIPS if p.name == "call_clean_2.wav")
    chunks = list(WavSource(clean).chunks())
    half = len(chunks) // 2
    for chunk in chunks[:half]:
        recognizer.accept(chunk)
    assert recognizer.self_test()[0]
    for chunk in chunks[half:]:
        recognizer.accept(chunk)
    assert recognizer.finish().text.replace(" ", "") == "도와주세요"


def test_the_robots_recogniser_is_warmed_before_its_first_audio(
    vosk_model: Any, tmp_path: Path
) -> None:
    from device.config import DeviceConfig
    from device.main import open_recognizer

    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, asr_rss_growth_mb=100.0)
    recognizer = open_recognizer(config)
    assert isinstance(recognizer, SpeechRecognizer)
    ballast = np.ones(300 * 2**20 // 8)
    recognizer.start()
    assert recognizer.renewals == 1  # its baseline was taken by the warm-up, before the ballast
    assert ballast.sum() > 0
