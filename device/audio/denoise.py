"""Steady-noise suppression in front of the recogniser: a Wiener filter whose noise is the room
as it sounded before the segment opened.

Why (issue 12): under a loud steady noise (a drone's propellers, ~-20 dBFS, the voice 10-13 dB
above it) the Vosk acoustic model did not hear "구해주세요" at all: not in the free transcript,
not in the safety grammar, not even in a grammar of the safety phrases alone (its best path
put the noise and the call together as "도와주 네 요"). Neither the energy gate nor the
segmentation were the cause: the whole clip, decoded in one piece without any gate, gave the same
nonsense. The recogniser's features carry the noise; suppress it and the words come back.

How (the textbook method, nothing fitted to any clip): the short-time spectrum (512-sample
sqrt-Hann windows, hop 256, perfect reconstruction) of each chunk fed to the recogniser is
multiplied by a Wiener gain with the decision-directed a-priori SNR of Ephraim and Malah
(alpha 0.98), floored at -20 dB. The noise power per frequency is the median over the room's
frames heard in the last `NOISE_WINDOW_S` before the segment (no speech segment open; digital
silence left out) divided by ln 2, the mean of an exponentially distributed power. It engages
only in a loud room (`MIN_ROOM_DBFS`): engaged everywhere, it cost ordinary speech in quiet
rooms (measured); a steady loud noise is taken out of the bins it occupies. Nothing runs
while no segment is open except keeping the last chunks
(a copy of 1 KB each): the spectra are computed once when a segment opens.

The sound classifier still hears the raw segment (it was trained on raw recordings).
"""

import math
from collections import deque

import numpy as np

from device.audio.gate import SILENCE_DBFS, level_dbfs
from device.audio.source import CHUNK_S, AudioChunk

FRAME = 512
HOP = FRAME // 2
NOISE_WINDOW_S = 3.0
"""How much of the room before a segment the noise estimate reads."""
MIN_NOISE_FRAMES = 8
"""Fewer room frames than this (~0.26 s): no estimate, the audio passes unchanged."""
ALPHA = 0.98
"""Decision-directed smoothing of the a-priori SNR (Ephraim and Malah, 1984)."""
MIN_ROOM_DBFS = -35.0
"""The suppressor engages only when the room before the segment is at least this loud (median
chunk level): a steady noise within ~10 dB of conversational speech at the robot's microphone
(the gate's loud level is -26 dBFS), where the recogniser loses words. Below it the audio passes
unchanged. Measured (benchmarks/intent_recall.py, 2026-12-05): engaged in every room, the
filter cost ordinary speech (free CER 0.39 → 0.415 on the 81 dev clips; checks 0 → 1 on the dev
clips and 1 → 2 on 27 min of talks, all in rooms at -55 to -68 dBFS), so a quiet room is left
as the recogniser was trained on."""
GAIN_FLOOR = 0.1
"""-20 dB: the filter never takes more than this out of a bin (less musical noise)."""

_WINDOW = np.sqrt(np.hanning(FRAME + 1)[:FRAME]).astype(np.float64)
"""Periodic sqrt-Hann: analysis times synthesis is a Hann window, which sums to one at hop
FRAME/2, so an all-pass gain gives back the input delayed by HOP samples."""


class NoiseSuppressor:
    """Streams one segment's chunks through a Wiener filter against the room's noise."""

    def __init__(self, noise_window_s: float = NOISE_WINDOW_S) -> None:
        self._room: deque[np.ndarray] = deque(maxlen=max(1, round(noise_window_s / CHUNK_S)))
        self._noise: np.ndarray | None = None
        self._in = np.zeros(0, np.float64)
        self._out = np.zeros(FRAME, np.float64)  # overlap-add accumulator
        self._prev_gain = np.ones(FRAME // 2 + 1)
        self._prev_snr = np.ones(FRAME // 2 + 1)
        self.active = False
        self.room_dbfs = SILENCE_DBFS
        """The room's median chunk level before the last segment (dBFS)."""

    def hear_room(self, chunk: AudioChunk) -> None:
        """Keep a chunk heard while no segment is open (the room; digital silence skipped)."""
        if chunk.samples.any():
            self._room.append(chunk.samples.copy())

    def start(self) -> None:
        """A segment opens: estimate the noise from the room just heard and reset the filter."""
        self._in = np.zeros(HOP, np.float64)  # a half frame of zeros: the first output is whole
        self._out = np.zeros(FRAME, np.float64)
        self._prev_gain = np.ones(FRAME // 2 + 1)
        self._prev_snr = np.ones(FRAME // 2 + 1)
        self.room_dbfs = SILENCE_DBFS
        self._noise = self._estimate()
        self.active = True

    @property
    def engaged(self) -> bool:
        """True while a segment is filtered (a loud steady room was heard before it)."""
        return self.active and self._noise is not None

    def _estimate(self) -> np.ndarray | None:
        if not self._room:
            return None
        x = np.concatenate(list(self._room)).astype(np.float64)
        n = (len(x) - FRAME) // HOP + 1
        if n < MIN_NOISE_FRAMES:
            return None
        self.room_dbfs = float(np.median([level_dbfs(c) for c in self._room]))
        if self.room_dbfs < MIN_ROOM_DBFS:
            return None  # a quiet room: the recogniser hears the audio as it is
        frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP][:n] * _WINDOW
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        noise: np.ndarray = np.maximum(np.median(power, axis=0) / math.log(2.0), 1e-3)
        return noise

    def process(self, chunk: AudioChunk) -> AudioChunk:
        """The chunk with the noise taken out, delayed by HOP samples (unchanged without an
        estimate of the room)."""
        if not self.active or self._noise is None:
            return chunk
        self._in = np.concatenate([self._in, chunk.samples.astype(np.float64)])
        out: list[np.ndarray] = []
        while len(self._in) >= FRAME:
            out.append(self._frame(self._in[:FRAME]))
            self._in = self._in[HOP:]
        samples = np.concatenate(out) if out else np.zeros(0)
        return AudioChunk(_to_int16(samples), chunk.start_s)

    def finish(self) -> AudioChunk | None:
        """The segment ends: the last HOP samples still held by the filter (None: nothing)."""
        if not self.active:
            return None
        self.active = False
        if self._noise is None:
            return None
        tail = self._frame(np.concatenate([self._in, np.zeros(FRAME - len(self._in))]))
        return AudioChunk(_to_int16(tail), 0.0)

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        assert self._noise is not None
        spectrum = np.fft.rfft(frame * _WINDOW)
        post = (np.abs(spectrum) ** 2) / self._noise  # a-posteriori SNR
        prior = ALPHA * self._prev_gain**2 * self._prev_snr + (1 - ALPHA) * np.maximum(
            post - 1.0, 0.0
        )
        gain = np.maximum(prior / (1.0 + prior), GAIN_FLOOR)
        self._prev_gain, self._prev_snr = gain, post
        self._out += np.fft.irfft(spectrum * gain, FRAME) * _WINDOW
        done = self._out[:HOP].copy()
        self._out = np.concatenate([self._out[HOP:], np.zeros(HOP)])
        return done


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)
