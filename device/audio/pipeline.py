"""The ears end to end: VAD → segmenter → streaming ASR → intent, one Utterance per segment."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Utterance:
    """One spoken segment: when (stream seconds), what was heard, and what it meant."""

    start_s: float
    end_s: float
    text: str
    intent: Intent
    confidence: float
    grammar_text: str


class Listener:
    """Listens to chunks; only runs the recogniser while someone speaks."""

    def __init__(self, recognizer: SpeechRecognizer, vad: SileroVad, config: VadConfig) -> None:
        self.recognizer = recognizer
        self.vad = vad
        self.segmenter = SpeechSegmenter(config)

    @property
    def speech_active(self) -> bool:
        """True while a speech segment is open."""
        return self.segmenter.in_speech

    def process(self, chunk: AudioChunk) -> Utterance | None:
        """Feed one chunk; returns the utterance when a segment ends on this chunk."""
        return self._handle(self.segmenter.process(self.vad.probability(chunk), chunk))

    def flush(self) -> Utterance | None:
        """The stream ended: finish an utterance still being spoken."""
        return self._handle(self.segmenter.flush())

    def listen(self, source: AudioSource) -> Iterator[Utterance]:
        """Every utterance in a source, including one cut off by the end of the stream."""
        for chunk in source.chunks():
            utterance = self.process(chunk)
            if utterance is not None:
                yield utterance
        last = self.flush()
        if last is not None:
            yield last

    def _handle(self, events: list[SegmentEvent]) -> Utterance | None:
        utterance = None
        for event in events:
            if isinstance(event, SpeechStarted):
                self.recognizer.start()
                for chunk in event.pre_roll:
                    self.recognizer.accept(chunk)
            elif isinstance(event, SpeechContinues):
                self.recognizer.accept(event.chunk)
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
                )
                logger.debug("heard %r → %s (%.2f)", heard.text, match.intent, match.confidence)
        return utterance
