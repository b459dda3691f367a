"""The ears end to end: VAD → segmenter → streaming ASR → intent, one Utterance per segment."""

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from device.audio.asr import AnswerGrammar, AnswerKind, Recognizer
from device.audio.source import AudioChunk, AudioSource
from device.audio.vad import (
    SegmentEvent,
    SileroVad,
    SpeechContinues,
    SpeechEnded,
    SpeechSegmenter,
    SpeechStarted,
)
from device.config import VadConfig
from device.dialog.intents import Intent, match_intent
from device.errors import AsrError

logger = logging.getLogger(__name__)

EARLY_CHECK_EVERY = 3
"""During the hangover, look at the partial transcript on silent chunks 1, 4, 7, ... (~0.1 s)."""


@dataclass(frozen=True)
class Utterance:
    """One spoken segment: when (stream seconds), what was heard, and what it meant."""

    start_s: float
    end_s: float
    text: str
    intent: Intent
    confidence: float
    grammar_text: str
    early: bool = False  # decided on the partial transcript, before the segment closed
    reported_early: bool = False  # the final transcript of a segment already reported early
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The segment's 16 kHz int16 audio, for on-device voice features; it never leaves the robot."""
    answer_kind: AnswerKind | None = None
    """The answer the dialog expected (Listener.expect) while this segment was decoded..."""
    answer_text: str = ""
    """...the constrained recogniser's answer words ("" when garbage dominated)..."""
    answer_confidence: float = 0.0
    """...and their mean word confidence. Resolve with device.dialog.answers.resolve_yes_no."""


class Listener:
    """Listens to chunks; only runs the recogniser while someone speaks."""

    def __init__(
        self,
        recognizer: Recognizer,
        vad: SileroVad,
        config: VadConfig,
        language: str = "ko",
    ) -> None:
        self.recognizer = recognizer
        self.vad = vad
        self.config = config
        self.language = language
        self.segmenter = SpeechSegmenter(config)
        self._early: Utterance | None = None
        self._silent_chunks = 0
        self._segment: list[np.ndarray] = []
        self._expect_lock = threading.Lock()
        self._expected: AnswerGrammar | None = None
        self._decoding: AnswerGrammar | None = None  # the answer grammar of the open segment
        self._installed: AnswerGrammar | None = None  # what the recognizer was last given

    def expect(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """Decode the next answer with constrained recognition too (None: stop expecting).

        Thread-safe (the dialog calls it from the agent's loop while audio runs in its own
        thread). The expectation holds until an utterance with any words ends, then lapses;
        that Utterance carries `answer_kind`, `answer_text`, `answer_confidence`.
        """
        grammar = None
        if kind is not None:
            try:
                grammar = self.recognizer.answer_grammar(kind, options)
            except AsrError as e:  # runtime options: the free transcript still answers
                logger.error("no constrained recognition for %s %s: %s", kind, list(options), e)
        with self._expect_lock:
            self._expected = grammar

    @property
    def expecting(self) -> AnswerKind | None:
        """The kind of answer currently expected, if any."""
        with self._expect_lock:
            return None if self._expected is None else self._expected.kind

    @property
    def speech_active(self) -> bool:
        """True while a speech segment is open."""
        return self.segmenter.in_speech

    def process(self, chunk: AudioChunk) -> Utterance | None:
        """Feed one chunk; returns the utterance when a segment ends on this chunk.

        A call for help is reported early: at the first silent chunks after speech, if the
        partial free transcript already matches a help phrase closely (the same rule that
        decides alone at the segment's end), instead of waiting out the VAD's hangover.
        """
        prob = self.vad.probability(chunk)
        utterance = self._handle(self.segmenter.process(prob, chunk))
        if utterance is not None or not self.segmenter.in_speech:
            self._silent_chunks = 0
            return utterance
        if prob >= self.config.threshold:
            self._silent_chunks = 0
            return None
        self._silent_chunks += 1
        if self._early is None and self._silent_chunks % EARLY_CHECK_EVERY == 1:
            return self._early_help()
        return None

    def _early_help(self) -> Utterance | None:
        text = self.recognizer.partial_text()
        match = match_intent(text, language=self.language)  # no grammar: a close free match
        if match.intent is not Intent.HELP:
            return None
        self._early = Utterance(
            start_s=self.segmenter.start_s,
            end_s=self.segmenter.last_speech_end_s,
            text=text,
            intent=match.intent,
            confidence=match.confidence,
            grammar_text="",
            early=True,
        )
        logger.debug("early %r → help (%.2f)", text, match.confidence)
        return self._early

    def flush(self) -> Utterance | None:
        """The stream ended: finish an utterance still being spoken."""
        return self._handle(self.segmenter.flush())

    def listen(self, source: AudioSource) -> Iterator[Utterance]:
        """Every final utterance in a source (early reports left out), including a cut-off one."""
        for chunk in source.chunks():
            utterance = self.process(chunk)
            if utterance is not None and not utterance.early:
                yield utterance
        last = self.flush()
        if last is not None:
            yield last

    def _handle(self, events: list[SegmentEvent]) -> Utterance | None:
        utterance = None
        for event in events:
            if isinstance(event, SpeechStarted):
                with self._expect_lock:
                    expected = self._expected
                if expected is not self._installed:
                    self.recognizer.use_answer(expected)
                    self._installed = expected
                self._decoding = expected
                self.recognizer.start()
                self._segment = []
                for chunk in event.pre_roll:
                    self.recognizer.accept(chunk)
                    self._segment.append(chunk.samples)
            elif isinstance(event, SpeechContinues):
                self.recognizer.accept(event.chunk)
                self._segment.append(event.chunk.samples)
            elif isinstance(event, SpeechEnded):
                heard = self.recognizer.finish()
                match = match_intent(
                    heard.text, heard.grammar_text, heard.grammar_confidence, self.language
                )
                decoded, self._decoding = self._decoding, None
                if decoded is not None and (heard.text or heard.answer_text):
                    with self._expect_lock:
                        if self._expected is decoded:  # answered: the expectation lapses
                            self._expected = None
                utterance = Utterance(
                    start_s=event.start_s,
                    end_s=event.end_s,
                    text=heard.text,
                    intent=match.intent,
                    confidence=match.confidence,
                    grammar_text=heard.grammar_text,
                    reported_early=self._early is not None,
                    samples=np.concatenate(self._segment) if self._segment else None,
                    answer_kind=None if decoded is None else decoded.kind,
                    answer_text=heard.answer_text,
                    answer_confidence=heard.answer_confidence,
                )
                self._early = None
                self._segment = []
                logger.debug("heard %r → %s (%.2f)", heard.text, match.intent, match.confidence)
        return utterance
