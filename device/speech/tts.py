"""The robot's voice behind one seam: espeak-ng aloud in live mode, printed in simulation.

Live speech is three small parts so each can be replaced: a `Synthesizer` (text → 16-bit
samples; espeak-ng here, a neural voice such as piper later), a `ReplyCache` (synthesised
replies as WAV files in the device's data dir, keyed by text, language and voice settings,
bounded in size, least recently used evicted first) and an `AudioPlayer`. `CachedSpeaker`
joins them and reports the instant the reply's first sample goes to the player
(`on_playback_start`), which is what benchmarks/dialog.py measures.
"""

import hashlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from device.errors import DeviceError

log = logging.getLogger(__name__)

_VOICES = {"ko": "ko", "en": "en-us"}


class Speaker(Protocol):
    """Something that says a sentence to the senior."""

    def say(self, text: str, language: str) -> None:
        """Say it (blocking until done is allowed)."""


class PrintSpeaker:
    """Simulation: the robot's words go to a callback (the demo prints them)."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self._out = out

    def say(self, text: str, language: str) -> None:
        """Hand the sentence to the callback."""
        self._out(text)


class EspeakSpeaker:
    """Live mode: speak through espeak-ng on the default audio output."""

    def __init__(self, rate_wpm: int = 140, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise DeviceError(
                "speech output needs espeak-ng: install the Debian package espeak-ng "
                "(apt-get install espeak-ng), or set speech_out = 'print'"
            )
        self._binary = path
        self._rate = rate_wpm

    def command(self, text: str, language: str, wav_out: str | None = None) -> list[str]:
        """The espeak-ng command line for a sentence (optionally into a WAV file)."""
        cmd = [self._binary, "-v", _VOICES.get(language, "ko"), "-s", str(self._rate)]
        if wav_out:
            cmd += ["-w", wav_out]
        return [*cmd, "--", text]

    def say(self, text: str, language: str) -> None:
        """Speak now; a failing audio device is logged, never fatal to the safety loop."""
        try:
            subprocess.run(self.command(text, language), check=True, timeout=60)
        except (subprocess.SubprocessError, OSError) as e:
            log.error("could not speak %r: %s", text, e)

    def synthesize(self, text: str, language: str, wav_out: str) -> None:
        """Write the sentence to a WAV file (used to make test clips)."""
        subprocess.run(self.command(text, language, wav_out), check=True, timeout=60)


@dataclass(frozen=True)
class Audio:
    """Synthesised speech: mono int16 samples and their rate."""

    samples: np.ndarray
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        """How long it plays."""
        return len(self.samples) / self.sample_rate_hz


class Synthesizer(Protocol):
    """Text to speech samples; `settings` names everything that changes the sound."""

    @property
    def settings(self) -> str:
        """Voice, rate, engine version...: part of the cache key."""

    def synthesize(self, text: str, language: str) -> Audio:
        """The sentence as audio."""


class EspeakSynthesizer:
    """espeak-ng (Korean and US English) into memory: `--stdout`, no temporary files."""

    def __init__(self, rate_wpm: int = 140, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise DeviceError(
                "speech output needs espeak-ng: install the Debian package espeak-ng "
                "(apt-get install espeak-ng), or set speech_out = 'print'"
            )
        if not 80 <= rate_wpm <= 450:
            raise DeviceError(f"speech rate must be 80-450 words per minute, not {rate_wpm}")
        self._binary = path
        self._rate = rate_wpm

    @property
    def settings(self) -> str:
        """The engine and its settings (a changed rate must not replay old audio)."""
        return f"espeak-ng:{self._rate}"

    def synthesize(self, text: str, language: str) -> Audio:
        """Run espeak-ng once; its WAV arrives on stdout."""
        cmd = [self._binary, "-v", _VOICES.get(language, "ko"), "-s", str(self._rate)]
        try:
            done = subprocess.run(
                [*cmd, "--stdout", "--", text], check=True, capture_output=True, timeout=60
            )
        except (subprocess.SubprocessError, OSError) as e:
            raise DeviceError(f"espeak-ng could not synthesise {text[:40]!r}: {e}") from None
        return read_wav_bytes(done.stdout)


def read_wav_bytes(data: bytes) -> Audio:
    """A 16-bit mono WAV in memory (espeak-ng writes an unknown length: trust the bytes)."""
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise DeviceError("synthesised audio must be 16-bit mono")
        rate = w.getframerate()
    # espeak-ng on a pipe leaves the header's sizes at 0x7fffffff: read the samples directly.
    offset = data.find(b"data") + 8
    samples = np.frombuffer(data[offset : offset + (len(data) - offset) // 2 * 2], "<i2")
    return Audio(samples.astype(np.int16), rate)


def write_wav(path: Path, audio: Audio) -> None:
    """A 16-bit mono WAV file, written atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(audio.sample_rate_hz)
            w.writeframes(audio.samples.astype("<i2").tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_wav_file(path: Path) -> Audio:
    """A WAV file this module wrote."""
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
        return Audio(np.frombuffer(frames, "<i2").astype(np.int16), w.getframerate())


class ReplyCache:
    """Synthesised replies on disk, keyed by text + language + voice settings; LRU-bounded.

    The robot says the same sentences again and again ("괜찮으세요?", greetings, reminders),
    so a repeated reply skips synthesis. Files are named by a hash of the key, so nothing
    the senior said is readable from the names; recency is the file's mtime, refreshed on
    every hit. Thread-safe.
    """

    def __init__(self, directory: Path, max_bytes: int = 32 * 2**20) -> None:
        if max_bytes <= 0:
            raise DeviceError("the reply cache needs a positive size")
        self.directory = directory
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):  # left by a crash mid-write
            stale.unlink(missing_ok=True)

    @staticmethod
    def key(text: str, language: str, settings: str) -> str:
        """The cache key: a hash of everything that changes the sound."""
        raw = "\x1f".join((settings, language, text)).encode("utf-8")
        return hashlib.sha256(raw).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.wav"

    def get(self, key: str) -> Audio | None:
        """The cached audio (marking it recently used), or None."""
        path = self._path(key)
        with self._lock:
            try:
                audio = read_wav_file(path)
                os.utime(path)
            except (OSError, EOFError, wave.Error):
                self.misses += 1
                path.unlink(missing_ok=True)  # unreadable: forget it
                return None
            self.hits += 1
            return audio

    def put(self, key: str, audio: Audio) -> None:
        """Store the audio, then evict the least recently used files past the size bound."""
        with self._lock:
            write_wav(self._path(key), audio)
            self._evict()

    def _evict(self) -> None:
        files = []
        for path in self.directory.glob("*.wav"):
            try:
                st = path.stat()
            except OSError:
                continue
            files.append((st.st_mtime_ns, st.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    @property
    def size_bytes(self) -> int:
        """Bytes on disk now."""
        return sum(p.stat().st_size for p in self.directory.glob("*.wav"))


class AudioPlayer(Protocol):
    """Plays audio to the senior, blocking until done."""

    def play(self, audio: Audio) -> None:
        """Play it."""


class SoundDevicePlayer:
    """The default output device through PortAudio (sounddevice)."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as e:
            raise DeviceError(
                f"audio output needs PortAudio (apt-get install libportaudio2): {e}"
            ) from None
        self._sd = sounddevice

    def play(self, audio: Audio) -> None:
        """Play and wait."""
        self._sd.play(audio.samples, audio.sample_rate_hz, blocking=True)


class NullPlayer:
    """Plays nothing (benchmarks, tests, headless simulation); counts what it was given."""

    def __init__(self) -> None:
        self.played: list[Audio] = []

    def play(self, audio: Audio) -> None:
        """Remember it."""
        self.played.append(audio)


PlaybackStart = Callable[[str, float], None]
"""Called with (text, time.monotonic()) just before a reply's first sample goes out."""


class CachedSpeaker:
    """A Speaker: synthesise (or take from the cache), then play; reports playback start."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        player: AudioPlayer,
        cache: ReplyCache | None = None,
        on_playback_start: PlaybackStart | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.player = player
        self.cache = cache
        self.on_playback_start = on_playback_start
        self.last_playback_start_s: float | None = None

    def audio_for(self, text: str, language: str) -> Audio:
        """The reply's audio: from the cache when it was said before, else synthesised."""
        if self.cache is None:
            return self.synthesizer.synthesize(text, language)
        key = ReplyCache.key(text, language, self.synthesizer.settings)
        audio = self.cache.get(key)
        if audio is None:
            audio = self.synthesizer.synthesize(text, language)
            self.cache.put(key, audio)
        return audio

    def say(self, text: str, language: str) -> None:
        """Speak now; a failing voice or audio device is logged, never fatal to the safety loop."""
        try:
            audio = self.audio_for(text, language)
            self.last_playback_start_s = time.monotonic()
            if self.on_playback_start is not None:
                self.on_playback_start(text, self.last_playback_start_s)
            self.player.play(audio)
        except (DeviceError, OSError) as e:
            log.error("could not speak %r: %s", text, e)
