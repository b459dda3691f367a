"""Where the robot's audio comes from: a WAV file, the live microphone, or a scripted scene."""

import logging
import queue
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from device.errors import AudioError

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16_000
CHUNK_SAMPLES = 512
CHUNK_S = CHUNK_SAMPLES / SAMPLE_RATE_HZ

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class AudioChunk:
    """32 ms of 16 kHz mono int16 audio (512 samples) and the stream time of its first sample."""

    samples: np.ndarray
    start_s: float

    @property
    def end_s(self) -> float:
        """Stream time just after the chunk's last sample."""
        return self.start_s + len(self.samples) / SAMPLE_RATE_HZ


class AudioSource(Protocol):
    """A stream of audio chunks; close() stops it from another thread."""

    def chunks(self) -> Iterator[AudioChunk]:
        """Yield consecutive chunks until the source ends or is closed."""
        ...

    def close(self) -> None:
        """Stop the stream and release the device."""
        ...


def split_chunks(samples: np.ndarray, start_s: float = 0.0) -> Iterator[AudioChunk]:
    """Cut 16 kHz int16 samples into 512-sample chunks, the last one padded with zeros."""
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        piece = samples[offset : offset + CHUNK_SAMPLES]
        if len(piece) < CHUNK_SAMPLES:
            piece = np.concatenate([piece, np.zeros(CHUNK_SAMPLES - len(piece), np.int16)])
        yield AudioChunk(
            np.ascontiguousarray(piece, dtype=np.int16), start_s + offset / SAMPLE_RATE_HZ
        )


def silence(start_s: float) -> AudioChunk:
    """One chunk of digital silence."""
    return AudioChunk(np.zeros(CHUNK_SAMPLES, np.int16), start_s)


def to_16k_int16(audio: np.ndarray, rate_hz: int) -> np.ndarray:
    """Float audio in [-1, 1], shaped (frames, channels), to 16 kHz mono int16."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    if rate_hz != SAMPLE_RATE_HZ:
        from scipy.signal import resample_poly  # only for files at other rates: scipy costs ~76 MB

        g = gcd(rate_hz, SAMPLE_RATE_HZ)
        mono = resample_poly(mono, SAMPLE_RATE_HZ // g, rate_hz // g)
    return np.asarray(np.clip(np.round(mono * 32767.0), -32768, 32767), dtype=np.int16)


def _pcm_to_float(frames: bytes, sample_width: int) -> np.ndarray:
    if sample_width == 1:
        return (np.frombuffer(frames, np.uint8).astype(np.float64) - 128.0) / 128.0
    if sample_width == 2:
        return np.frombuffer(frames, "<i2").astype(np.float64) / 32768.0
    if sample_width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / float(1 << 23)
    if sample_width == 4:
        return np.frombuffer(frames, "<i4").astype(np.float64) / float(1 << 31)
    raise ValueError(f"{8 * sample_width}-bit PCM is not supported")


def _read_riff_float(path: Path) -> tuple[np.ndarray, int, int]:
    """Read an IEEE-float or extensible WAV, which the stdlib `wave` module refuses."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("data before fmt chunk")
            tag, channels, rate, bits = fmt
            if tag == _WAVE_FORMAT_FLOAT and bits in (32, 64):
                samples = np.frombuffer(body, "<f4" if bits == 32 else "<f8").astype(np.float64)
            elif tag == _WAVE_FORMAT_PCM:
                samples = _pcm_to_float(body[: len(body) // (bits // 8) * (bits // 8)], bits // 8)
            else:
                raise ValueError(f"WAV format tag {tag} ({bits}-bit) is not supported")
            return samples, channels, rate
        pos += 8 + size + (size & 1)
    raise ValueError("no data chunk")


def read_wav(path: Path) -> np.ndarray:
    """A WAV file (PCM 8/16/24/32-bit or float, any rate and channels) as 16 kHz mono int16."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, rate, width = w.getnchannels(), w.getframerate(), w.getsampwidth()
            flat = _pcm_to_float(w.readframes(w.getnframes()), width)
    except FileNotFoundError:
        raise AudioError(f"audio file {path} does not exist") from None
    except IsADirectoryError:
        raise AudioError(f"audio file {path} is a directory, not a WAV file") from None
    except (wave.Error, EOFError, ValueError) as e:
        try:
            flat, channels, rate = _read_riff_float(path)
        except (ValueError, struct.error, OSError):
            raise AudioError(f"{path} is not a readable WAV file ({e})") from None
    if channels < 1 or rate < 1000:
        raise AudioError(f"{path}: implausible WAV header ({channels} channels, {rate} Hz)")
    frames = flat[: len(flat) // channels * channels].reshape(-1, channels)
    return to_16k_int16(frames, rate)


class WavSource:
    """A WAV file as a chunk stream, as fast as possible or paced at wall-clock speed."""

    def __init__(self, path: Path, realtime: bool = False) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self._samples = read_wav(self.path)
        self._closed = threading.Event()

    @property
    def duration_s(self) -> float:
        """Length of the file's audio."""
        return len(self._samples) / SAMPLE_RATE_HZ

    def chunks(self) -> Iterator[AudioChunk]:
        """The file's chunks in order; paced by absolute schedule when realtime."""
        pacer = _Pacer() if self.realtime else None
        for chunk in split_chunks(self._samples):
            if self._closed.is_set():
                return
            if pacer is not None:
                pacer.wait_until(chunk.end_s)
            yield chunk

    def close(self) -> None:
        """Stop before the end of the file."""
        self._closed.set()


class _Pacer:
    """Sleeps to absolute stream times, so pacing never drifts however long the stream runs."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    @property
    def t0(self) -> float:
        """The monotonic instant of stream time 0."""
        return self._t0

    def wait_until(self, stream_s: float) -> None:
        delay = self._t0 + stream_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)


PORTAUDIO_MISSING = (
    "the live microphone needs PortAudio: install the Debian package libportaudio2 "
    "(apt-get install libportaudio2), or use a WAV file"
)


class MicSource:
    """The live microphone through sounddevice (PortAudio), 16 kHz mono int16."""

    def __init__(self, device: str | int | None = None) -> None:
        try:
            import sounddevice  # lazily: only a live microphone needs PortAudio
        except OSError:
            raise AudioError(PORTAUDIO_MISSING) from None
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        self._sd: Any = sounddevice
        self._closed = threading.Event()
        try:
            self._stream: Any = sounddevice.InputStream(
                samplerate=SAMPLE_RATE_HZ,
                channels=1,
                dtype="int16",
                blocksize=CHUNK_SAMPLES,
                device=device,
            )
        except (sounddevice.PortAudioError, ValueError) as e:
            raise AudioError(f"can't open microphone {device or '(default)'}: {e}") from None

    def chunks(self) -> Iterator[AudioChunk]:
        """Chunks as the microphone delivers them, until close()."""
        n = 0
        try:
            self._stream.start()
            while not self._closed.is_set():
                data, overflowed = self._stream.read(CHUNK_SAMPLES)
                if overflowed:
                    logger.warning("microphone overflow: audio was dropped")
                samples = np.asarray(data, dtype=np.int16).reshape(-1)
                yield AudioChunk(samples.copy(), n * CHUNK_S)
                n += 1
        except self._sd.PortAudioError as e:
            raise AudioError(f"microphone stopped: {e}") from None
        finally:
            self._stream.close()

    def close(self) -> None:
        """Ask chunks() to stop after the current read."""
        self._closed.set()


ScriptItem = Path | float


class ScriptedSource:
    """A scripted scene for demos and tests: clips and silences, then idle silence, said clips.

    `room`: samples played in a loop instead of idle silence (a room's noise floor: the
    benchmarks measure the robot's idle CPU in a room, not in digital silence)."""

    def __init__(
        self,
        script: Sequence[ScriptItem] = (),
        realtime: bool = True,
        idle: bool = True,
        on_clip_end: Callable[[Path, float], None] | None = None,
        room: np.ndarray | None = None,
    ) -> None:
        self.realtime = realtime
        self.idle = idle
        self.on_clip_end = on_clip_end
        if room is not None and (room.dtype != np.int16 or len(room) < CHUNK_SAMPLES):
            raise AudioError(f"a room loop is int16 samples, at least {CHUNK_SAMPLES} of them")
        self._room = room
        self.started_monotonic: float | None = None  # stream time 0, once realtime play starts
        self._script = list(script)
        self._said: queue.Queue[Path] = queue.Queue()
        self._closed = threading.Event()
        for item in self._script:
            if isinstance(item, Path):
                read_wav(item)  # fail now, not in the middle of the scene
            elif item < 0:
                raise AudioError(f"a scripted silence can't be negative ({item} s)")

    def say(self, path: Path) -> None:
        """Queue a clip to play as soon as the script's current item ends (thread-safe)."""
        self._said.put(Path(path))

    def close(self) -> None:
        """End the stream (from any thread)."""
        self._closed.set()

    def chunks(self) -> Iterator[AudioChunk]:
        """The script's chunks, then idle silence interleaved with said clips until close()."""
        pacer = _Pacer() if self.realtime else None
        self.started_monotonic = pacer.t0 if pacer is not None else None
        n = 0

        def timed(samples: np.ndarray) -> Iterator[AudioChunk]:
            nonlocal n
            for piece in split_chunks(samples):
                if self._closed.is_set():
                    return
                chunk = AudioChunk(piece.samples, n * CHUNK_S)
                n += 1
                if pacer is not None:
                    pacer.wait_until(chunk.end_s)
                yield chunk

        def clip(path: Path) -> Iterator[AudioChunk]:
            last_yielded_at = None
            for chunk in timed(read_wav(path)):
                last_yielded_at = time.monotonic()
                yield chunk
            if last_yielded_at is not None and not self._closed.is_set() and self.on_clip_end:
                self.on_clip_end(path, last_yielded_at)

        for item in self._script:
            if isinstance(item, Path):
                yield from clip(item)
            else:
                yield from timed(np.zeros(round(item * SAMPLE_RATE_HZ), np.int16))
        room_at = 0
        while not self._closed.is_set():
            try:
                yield from clip(self._said.get_nowait())
            except queue.Empty:
                if not self.idle:
                    return
                if self._room is None:
                    yield from timed(np.zeros(CHUNK_SAMPLES, np.int16))
                    continue
                piece = np.take(self._room, range(room_at, room_at + CHUNK_SAMPLES), mode="wrap")
                room_at = (room_at + CHUNK_SAMPLES) % len(self._room)
                yield from timed(piece)
