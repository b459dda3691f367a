"""Stretches of sound above the room's noise floor, whether or not the VAD calls them speech.

Why (issue 12): measured through the robot's ears on the non-verbal development clips, 30 of 36
panting clips and 13 of 36 moaning clips never opened a speech segment at all (Silero does not
call breath or a low moan speech, and neither is loud enough for the gate's "loud" rule), and
most other moans were cut into 0.2-0.4 s fragments, too short to classify. The sound classifier
had heard them fine as whole clips. So the sound classifier also listens to the gate's own
view of the room: a span starts at the first chunk `above_floor_db` over the noise floor, ends
after `release_s` without one, and is handed over when it holds at least `min_active_s` of
such chunks. The listener decides whether to classify it (not inside or right after speech).

Pure (no clock, no threads): time comes from the chunks. Nothing is kept while the room is
quiet but a short pre-roll; a span never holds more than `max_s` of audio.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from device.audio.gate import GateDecision
from device.audio.source import CHUNK_S, AudioChunk


@dataclass(frozen=True)
class SpanConfig:
    """When a stretch of the room's sound counts as one sound for the classifier."""

    above_floor_db: float = 10.0
    """A chunk this far above the noise floor is active..."""
    min_dbfs: float = -50.0
    """...and at least this loud (a fridge's hum in a silent room is not a sound)."""
    release_s: float = 0.4
    """The span ends after this long without an active chunk (breaths of panting are closer)."""
    min_active_s: float = 0.5
    """A span with less active sound than this is not classified (a knock, a click)."""
    max_s: float = 5.0
    """A longer stretch is handed over in pieces of this length (the classifier's window)."""
    pre_roll_s: float = 0.1

    def __post_init__(self) -> None:
        if self.release_s < 0 or self.min_active_s <= 0 or self.max_s <= self.min_active_s:
            raise ValueError("need release_s ≥ 0 and 0 < min_active_s < max_s")


@dataclass(frozen=True)
class SoundSpan:
    """One stretch of sound: when (stream seconds), how much of it was active, and its audio."""

    start_s: float
    end_s: float
    active_s: float
    samples: np.ndarray

    def overlaps(self, start_s: float, end_s: float, margin_s: float = 0.0) -> bool:
        """Whether [start_s, end_s] comes within margin_s of this span."""
        return start_s <= self.end_s + margin_s and end_s >= self.start_s - margin_s


class SoundSpans:
    """Cuts the chunk stream into spans of sound above the floor (see the module's doc)."""

    def __init__(self, config: SpanConfig | None = None) -> None:
        self.config = config or SpanConfig()
        self._pre: deque[AudioChunk] = deque(maxlen=max(1, round(self.config.pre_roll_s / CHUNK_S)))
        self._chunks: list[AudioChunk] = []
        self._active_s = 0.0
        self._last_active_end_s = 0.0

    @property
    def open(self) -> bool:
        """A span is being collected."""
        return bool(self._chunks)

    def push(self, chunk: AudioChunk, gate: GateDecision) -> SoundSpan | None:
        """Feed one chunk with the gate's measurement of it; returns a span that just ended."""
        cfg = self.config
        active = (
            gate.level_dbfs >= cfg.min_dbfs
            and gate.level_dbfs - gate.floor_dbfs >= cfg.above_floor_db
        )
        if not self._chunks:
            if not active:
                self._pre.append(chunk)
                return None
            self._chunks = [*self._pre, chunk]
            self._pre.clear()
            self._active_s = chunk.end_s - chunk.start_s
            self._last_active_end_s = chunk.end_s
            return None
        self._chunks.append(chunk)
        if active:
            self._active_s += chunk.end_s - chunk.start_s
            self._last_active_end_s = chunk.end_s
        if chunk.end_s - self._last_active_end_s >= cfg.release_s:
            return self._close(keep_last=False)
        if chunk.end_s - self._chunks[0].start_s >= cfg.max_s:
            return self._close(keep_last=active)
        return None

    def flush(self) -> SoundSpan | None:
        """The stream ended: hand over a span still open."""
        return self._close(keep_last=False) if self._chunks else None

    def _close(self, *, keep_last: bool) -> SoundSpan | None:
        chunks, active_s = self._chunks, self._active_s
        self._chunks, self._active_s = [], 0.0
        if keep_last:  # the sound goes on: the next piece starts here
            self._chunks = [chunks[-1]]
            self._active_s = chunks[-1].end_s - chunks[-1].start_s
        if active_s < self.config.min_active_s:
            return None
        return SoundSpan(
            start_s=chunks[0].start_s,
            end_s=min(chunks[-1].end_s, self._last_active_end_s + CHUNK_S),
            active_s=active_s,
            samples=np.concatenate([c.samples for c in chunks]),
        )
