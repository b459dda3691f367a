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
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device.audio.asr import (
    AnswerGrammar,
    AnswerKind,
    Transcript,
)
from device.audio.source import SAMPLE_RATE_HZ, AudioChunk
from device.errors import AsrError

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


def _decoder(**extra: Any) -> Any:
    import pocketsphinx

    model = default_model_dir()
    try:
        return pocketsphinx.Decoder(
            hmm=str(model / "en-us" / "en-us"),
            dict=str(model / "en-us" / "cmudict-en-us.dict"),
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

    def partial_text(self) -> str:
        """The free transcript of the open utterance so far."""
        if not self._in_utterance:
            return ""
        hyp = self._free.hyp()
        return _clean(hyp.hypstr if hyp is not None else "")


def _clean(word: str) -> str:
    """Drop pocketsphinx's fillers and silences (<s>, </s>, <sil>, [NOISE]) and "(2)" variants."""
    out = []
    for w in word.split():
        if w.startswith(("<", "[", "+")):
            continue
        out.append(w.split("(")[0])
    return " ".join(out)
