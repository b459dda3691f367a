"""Offline English recognition with pocketsphinx (an optional extra; it bundles its own model).

Behind the same seam as the Korean Vosk recogniser (device.audio.asr.Recognizer): the free
transcript (pocketsphinx's US English language model) decides intents with the English
phrase lists of device.dialog.intents, which hold the English safety keywords ("help me",
"I fell", "I can't get up", "I'm fine", ...). There is no safety grammar: grammar_text stays
empty, so an English call for help needs a close free match, the strict rule.

Constrained recognition of expected answers is Korean only for now. Measured here (2 cores
shared, espeak-ng clips, plumbing only): a pocketsphinx JSGF grammar of the answers with a
garbage loop of 30-200 common words decoded at a real-time factor of 3-100 (unusable), and its
keyword spotter (RTF ~0.06) fires "yeah" on ordinary sentences at untuned thresholds, which can
only be tuned on human English recordings we do not have. So in English `answer_grammar`
returns a grammar without a decoder: the answer comes from the free transcript alone
(device.dialog.answers.parse_yes_no), and Utterance.answer_text stays empty.
"""

import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device.audio.asr import (
    AnswerGrammar,
    AnswerKind,
    Transcript,
)
from device.audio.source import SAMPLE_RATE_HZ, AudioChunk, read_wav
from device.errors import AsrError, AudioError

logger = logging.getLogger(__name__)


def default_model_dir() -> Path:
    """The US English model inside the pocketsphinx wheel: nothing is ever downloaded."""
    try:
        import pocketsphinx  # type: ignore[import-untyped]
    except ImportError:
        raise AsrError(
            "English recognition needs the optional pocketsphinx package (pip install "
            "pocketsphinx), or set language = 'ko'"
        ) from None
    return Path(pocketsphinx.get_model_path())


PROBE_WAV = Path(__file__).with_name("probe_pain_en.wav")
"""espeak-ng (en-us, 120 wpm) saying "it hurts" (made by tests/fixtures/audio/make_espeak_clips.py,
1.1 s): the committed vector the English ears decode in every heartbeat's `asr` self-test."""
PROBE_PHRASE = "it hurts"
PROBE_GRAMMAR = ("help me", "somebody help", "it hurts", "i fell", "i fell down", "i am fine")
"""The probe's grammar: English safety phrases, so a probe heard as another call fails."""


def _decoder(dictionary: Path | None = None, **extra: Any) -> Any:
    import pocketsphinx

    model = default_model_dir()
    try:
        return pocketsphinx.Decoder(
            hmm=str(model / "en-us" / "en-us"),
            dict=str(dictionary or model / "en-us" / "cmudict-en-us.dict"),
            samprate=SAMPLE_RATE_HZ,
            loglevel="FATAL",
            **extra,
        )
    except (RuntimeError, ValueError) as e:
        raise AsrError(f"can't start pocketsphinx with its bundled model: {e}") from None


class EnglishRecognizer:
    """Streams one utterance into pocketsphinx's free decoder (US English, bundled model)."""

    def __init__(self) -> None:
        self._free = _decoder(lm=str(default_model_dir() / "en-us" / "en-us.lm.bin"))
        self._answer_lock = threading.Lock()
        self._next_answer: AnswerGrammar | None = None
        self._answer: AnswerGrammar | None = None
        self._in_utterance = False

    def answer_grammar(self, kind: AnswerKind, options: Sequence[str] = ()) -> AnswerGrammar:
        """No constrained decoder in English (see the module's docstring): free transcript only."""
        if kind is AnswerKind.SCALE and not options:
            raise AsrError("a scale answer needs its options")
        phrases = tuple(" ".join(o.lower().split()) for o in options)
        return AnswerGrammar(kind, phrases, None, frozenset(w for p in phrases for w in p.split()))

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        """Decode the following utterances with this answer grammar too (from the next start)."""
        with self._answer_lock:
            self._next_answer = grammar

    def start(self) -> None:
        """Begin a new utterance, forgetting any unfinished one."""
        if self._in_utterance:
            self._free.end_utt()
        self._free.start_utt()
        with self._answer_lock:
            self._answer = self._next_answer
        self._in_utterance = True

    def accept(self, chunk: AudioChunk) -> None:
        """Feed 32 ms of audio to the decoders."""
        if not self._in_utterance:
            self.start()
        data = chunk.samples.tobytes()
        self._free.process_raw(data, False, False)

    def finish(self) -> Transcript:
        """End the utterance: the free transcript (no safety grammar in English)."""
        if not self._in_utterance:
            return Transcript("", "", 0.0)
        self._free.end_utt()
        self._in_utterance = False
        hyp = self._free.hyp()
        text = _clean(hyp.hypstr if hyp is not None else "")
        return Transcript(text, "", 0.0)

    def self_test(self, wav: Path = PROBE_WAV) -> tuple[bool, str]:
        """Decode the committed probe with the English safety phrases: (ok, why).

        A decoder of its own (the bundled acoustic model, a grammar of PROBE_GRAMMAR and a
        dictionary of its words only: ~70 ms, +7 MB while it runs), so the audio thread's
        decoder and its open utterance are left alone."""
        try:
            samples = read_wav(wav)
        except AudioError as e:
            return False, f"probe unreadable: {e}"[:200]
        try:
            with tempfile.TemporaryDirectory(prefix="dolbom-probe-") as tmp:
                grammar = Path(tmp) / "probe.gram"
                grammar.write_text(
                    "#JSGF V1.0;\ngrammar probe;\npublic <s> = "
                    + " | ".join(PROBE_GRAMMAR)
                    + ";\n",
                    encoding="utf-8",
                )
                dictionary = Path(tmp) / "probe.dict"
                dictionary.write_text(_probe_dictionary(), encoding="utf-8")
                decoder = _decoder(dictionary, jsgf=str(grammar))
            decoder.start_utt()
            decoder.process_raw(samples.tobytes(), False, True)
            decoder.end_utt()
            hyp = decoder.hyp()
        except Exception as e:  # pocketsphinx raises RuntimeError/ValueError from C
            return False, f"recogniser failed on the probe: {e}"[:200]
        heard = _clean(hyp.hypstr if hyp is not None else "")
        return heard == PROBE_PHRASE, f"probe heard {heard!r}"

    def partial_text(self) -> str:
        """The free transcript of the open utterance so far."""
        if not self._in_utterance:
            return ""
        hyp = self._free.hyp()
        return _clean(hyp.hypstr if hyp is not None else "")


def _probe_dictionary() -> str:
    """The bundled pronunciations of PROBE_GRAMMAR's words (variants included)."""
    words = {w for p in PROBE_GRAMMAR for w in p.split()}
    bundled = default_model_dir() / "en-us" / "cmudict-en-us.dict"
    with open(bundled, encoding="utf-8") as f:
        lines = [line for line in f if line.split(" ", 1)[0].split("(")[0] in words]
    return "".join(lines)


def _clean(word: str) -> str:
    """Drop pocketsphinx's fillers and silences (<s>, </s>, <sil>, [NOISE]) and "(2)" variants."""
    out = []
    for w in word.split():
        if w.startswith(("<", "[", "+")):
            continue
        out.append(w.split("(")[0])
    return " ".join(out)
