"""Typed words as the robot's ears, for `dolbom device chat`: the real Agent hears a line of
text as one utterance and decides on it exactly as it decides on what its recogniser heard.

A line becomes the free transcript of one utterance; its intent and safety band come from the
robot's own `match_intent` and `decide` (no grammar reading: typing has no acoustic evidence),
so a long sentence that mentions help is not a call for help here either. The agent's audio
thread pulls lines through `process`, driven by a silent source.
"""

import queue
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from device.audio.asr import AnswerKind, Transcript
from device.audio.pipeline import Utterance
from device.audio.source import AudioChunk
from device.dialog.intents import match_intent
from device.safety.evidence import decide

CHUNK_SAMPLES = 512
CHUNK_S = CHUNK_SAMPLES / 16000
CHARS_PER_S = 8.0  # how long a typed line "takes to say"


class QuietSource:
    """Silence, one 32 ms chunk every `period_s` real seconds, until closed."""

    def __init__(self, period_s: float = 0.01) -> None:
        self.period_s = period_s
        self._closed = threading.Event()

    def chunks(self) -> Iterator[AudioChunk]:
        """Silent chunks until `close`."""
        n = 0
        while not self._closed.wait(self.period_s):
            yield AudioChunk(np.zeros(CHUNK_SAMPLES, np.int16), n * CHUNK_S)
            n += 1

    def close(self) -> None:
        """Stop the stream."""
        self._closed.set()


class TextEars:
    """Ears that hear typed lines (thread-safe: `hear` from the console, `process` from the
    agent's audio thread)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._lines: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._expected: AnswerKind | None = None

    def hear(self, text: str) -> None:
        """The senior said `text`."""
        self._lines.put(text)

    def expect(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """The dialog expects an answer: the next line is that answer's words too."""
        with self._lock:
            self._expected = kind

    def process(self, chunk: AudioChunk) -> Utterance | None:
        """The next typed line as an utterance, if any."""
        try:
            text = self._lines.get_nowait()
        except queue.Empty:
            return None
        with self._lock:
            expected, self._expected = self._expected, None
        duration_s = max(1.0, len(text) / CHARS_PER_S)
        heard = Transcript(text=text, grammar_text="", grammar_confidence=0.0)
        match = match_intent(text, language=self.language)
        decision = decide(heard, match, duration_s)
        return Utterance(
            start_s=chunk.start_s,
            end_s=chunk.start_s + duration_s,
            text=text,
            intent=decision.intent,
            confidence=decision.confidence,
            grammar_text="",
            answer_kind=expected,
            answer_text=text if expected is not None else "",
            answer_confidence=1.0 if expected is not None else 0.0,
            reasons=decision.reasons,
        )
