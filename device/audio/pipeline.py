"""The ears end to end: VAD → segmenter → streaming ASR → intent, one Utterance per segment."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from device.audio.asr import SpeechRecognizer
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


class Listener:
    """Listens to chunks; only runs the recogniser while someone speaks."""

    def __init__(self, recognizer: SpeechRecognizer, vad: SileroVad, config: VadConfig) -> None:
        self.recognizer = recognizer
        self.vad = vad
        self.config = config
        self.segmenter = SpeechSegmenter(config)
        self._early: Utterance | None = None
        self._silent_chunks = 0
        self._segment: list[np.ndarray] = []

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
        match = match_intent(text)  # no grammar: only a close free match counts
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
                match = match_intent(heard.text, heard.grammar_text, heard.grammar_confidence)
                utterance = Utterance(
                    start_s=event.start_s,
                    end_s=event.end_s,
                    text=heard.text,
                    intent=match.intent,
                    confidence=match.confidence,
                    grammar_text=heard.grammar_text,
                    reported_early=self._early is not None,
                    samples=np.concatenate(self._segment) if self._segment else None,
                )
                self._early = None
                self._segment = []
                logger.debug("heard %r → %s (%.2f)", heard.text, match.intent, match.confidence)
        return utterance
