"""English ears: pocketsphinx behind the recogniser seam, chosen by the robot's language."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from device.audio.asr import AnswerKind, SpeechRecognizer
from device.audio.asr_english import PROBE_WAV, EnglishRecognizer, _clean
from device.audio.pipeline import Listener
from device.audio.source import WavSource, read_wav, split_chunks
from device.audio.vad import SileroVad
from device.config import VadConfig, config_from_dict
from device.dialog.intents import EMERGENCY_INTENTS, Intent
from device.errors import AsrError
from device.main import build_agent, open_recognizer
from device.outbox import Outbox
from device.speech.tts import PrintSpeaker
from protocol import EventType

CLIPS = Path(__file__).resolve().parents[2] / "fixtures" / "dialog" / "audio"
EN_CLIPS = sorted(CLIPS.glob("en_*.wav"))


@pytest.fixture(scope="module")
def english() -> EnglishRecognizer:
    return EnglishRecognizer()


def test_language_en_selects_the_english_recognizer() -> None:
    config = config_from_dict({"device_id": "robot-en-1", "language": "en"})
    assert isinstance(open_recognizer(config), EnglishRecognizer)


@pytest.mark.slow
def test_language_ko_selects_vosk(vosk_model: Any) -> None:
    config = config_from_dict({"device_id": "robot-ko-1", "language": "ko"})
    assert isinstance(open_recognizer(config), SpeechRecognizer)


def test_english_recognizer_transcribes_a_clip_into_lower_case_words(
    english: EnglishRecognizer,
) -> None:
    english.start()
    for chunk in split_chunks(read_wav(CLIPS / "en_want_song.wav")):
        english.accept(chunk)
    assert english.partial_text() == english.partial_text().lower()
    heard = english.finish()
    assert heard.text  # plumbing: espeak-ng is no measure of what it recognises
    assert heard.text == heard.text.lower()
    assert (heard.grammar_text, heard.grammar_confidence) == ("", 0.0)


def test_finish_without_start_is_empty(english: EnglishRecognizer) -> None:
    assert english.finish().text == ""


@pytest.mark.parametrize("clip", EN_CLIPS, ids=lambda p: p.stem)
def test_english_pipeline_runs_end_to_end_and_raises_no_everyday_emergency(
    english: EnglishRecognizer, clip: Path
) -> None:
    listener = Listener(english, SileroVad(), VadConfig(), language="en")
    heard = list(listener.listen(WavSource(clip)))
    assert heard
    assert all(u.intent not in EMERGENCY_INTENTS for u in heard)


def test_english_expectation_falls_back_to_the_free_transcript(english: EnglishRecognizer) -> None:
    listener = Listener(english, SileroVad(), VadConfig(), language="en")
    listener.expect(AnswerKind.YES_NO)
    (heard, *_) = list(listener.listen(WavSource(CLIPS / "en_yes.wav")))
    assert heard.answer_kind is AnswerKind.YES_NO
    assert heard.answer_text == ""  # no constrained decoder in English (see asr_english)


def test_a_scale_without_options_is_refused(english: EnglishRecognizer) -> None:
    with pytest.raises(AsrError, match="options"):
        english.answer_grammar(AnswerKind.SCALE)


def test_fillers_and_pronunciation_variants_are_cleaned() -> None:
    assert _clean("<s> yes(2) [NOISE] <sil> please </s>") == "yes please"


@pytest.mark.parametrize("clip", ["en_no.wav", "en_fine.wav"])
def test_english_no_and_im_fine_to_the_robots_question_are_never_a_call(
    english: EnglishRecognizer, clip: str
) -> None:
    listener = Listener(english, SileroVad(), VadConfig(), language="en")
    listener.expect(AnswerKind.YES_NO)
    heard = list(listener.listen(WavSource(CLIPS / clip)))
    assert heard
    assert all(u.intent not in (*EMERGENCY_INTENTS, Intent.CHECK) for u in heard)


def test_english_self_test_hears_the_committed_probe(english: EnglishRecognizer) -> None:
    ok, detail = english.self_test()
    assert ok, detail
    assert detail == "probe heard 'it hurts'"


def test_english_probe_is_the_committed_espeak_clip() -> None:
    espeak = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "espeak"
    assert PROBE_WAV.read_bytes() == (espeak / "en_safety_pain.wav").read_bytes()


def test_english_self_test_fails_on_another_phrase_and_leaves_the_utterance_alone(
    english: EnglishRecognizer,
) -> None:
    english.start()
    for chunk in split_chunks(read_wav(CLIPS / "en_want_song.wav")):
        english.accept(chunk)
    before = english.partial_text()
    ok, detail = english.self_test(CLIPS / "en_fine.wav")
    assert not ok
    assert detail.startswith("probe heard")
    assert detail != "probe heard 'it hurts'"
    assert english.partial_text() == before
    assert english.finish().text


def test_english_self_test_fails_on_a_missing_probe(
    english: EnglishRecognizer, tmp_path: Path
) -> None:
    ok, detail = english.self_test(tmp_path / "gone.wav")
    assert not ok
    assert detail.startswith("probe unreadable")


async def test_the_english_robot_reports_its_asr_self_test(tmp_path: Path) -> None:
    """build_agent wires the English probe into the heartbeat, as it does the Korean one."""
    config = config_from_dict(
        {"device_id": "robot-en-2", "language": "en", "data_dir": str(tmp_path)}
    )
    ears = Listener(EnglishRecognizer(), SileroVad(), VadConfig(), language="en")
    source = WavSource(CLIPS / "en_greeting.wav", realtime=True)
    agent = build_agent(
        config, source=source, listener=ears, speaker=PrintSpeaker(lambda _t: None),
        stages=[], offline=True,
    )  # fmt: skip
    outbox = Outbox(config.outbox_path, config.device_id)

    def heartbeats() -> list[dict[str, object]]:
        return [e.payload for e in outbox.pending(100) if e.type is EventType.HEARTBEAT]

    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    while not heartbeats() and not task.done():  # noqa: ASYNC110 - polls the outbox
        await asyncio.sleep(0.02)
    stop.set()
    await task
    tests = heartbeats()[0]["self_tests"]
    assert isinstance(tests, list)
    assert [(t["ok"], t["detail"]) for t in tests if t["name"] == "asr"] == [
        (True, "probe heard 'it hurts'")
    ]
