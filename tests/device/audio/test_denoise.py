"""The steady-noise suppressor in front of the recogniser: transparent in a quiet room, takes a
steady noise out, leaves what the sound classifier hears raw, and brings back a call the
recogniser lost in drone noise."""

from typing import Any

import numpy as np
import pytest

from device.audio.asr import SpeechRecognizer, Transcript
from device.audio.denoise import HOP, NoiseSuppressor
from device.audio.pipeline import Listener, robot_listener
from device.audio.source import CHUNK_S, SAMPLE_RATE_HZ, AudioChunk, WavSource, split_chunks
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.dialog.intents import Intent

from .conftest import HELP_CLIPS

RNG = np.random.default_rng(12)


def _noise(seconds: float, rms: float) -> np.ndarray:
    """A steady noise: white noise plus a hum with harmonics (a fan, a motor)."""
    n = round(seconds * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    hum = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((120, 240, 360, 480), 1))
    x: np.ndarray = RNG.standard_normal(n) + 0.8 * hum
    out: np.ndarray = x / np.sqrt(np.mean(x**2)) * rms
    return out


def _voice(seconds: float, rms: float) -> np.ndarray:
    """A voiced sound: 180 Hz with harmonics up to 3 kHz."""
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    x = np.sum([np.sin(2 * np.pi * 180 * k * t + k) / k for k in range(1, 17)], axis=0)
    out: np.ndarray = x / np.sqrt(np.mean(x**2)) * rms
    return out


def _run(suppressor: NoiseSuppressor, room: np.ndarray, segment: np.ndarray) -> np.ndarray:
    for chunk in split_chunks(room.astype(np.int16)):
        suppressor.hear_room(chunk)
    suppressor.start()
    out = [suppressor.process(c).samples for c in split_chunks(segment.astype(np.int16))]
    tail = suppressor.finish()
    assert tail is not None
    return np.concatenate([*out, tail.samples])[HOP:]  # the filter's delay taken off


def _db(x: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(x.astype(np.float64) ** 2)))


def test_a_quiet_room_leaves_the_voice_as_it_was() -> None:
    suppressor = NoiseSuppressor()
    for chunk in split_chunks(_noise(3.0, 100.0).astype(np.int16)):  # about -50 dBFS
        suppressor.hear_room(chunk)
    suppressor.start()
    assert not suppressor.engaged
    assert suppressor.room_dbfs == pytest.approx(-50.3, abs=0.5)
    chunk = AudioChunk(_voice(CHUNK_S, 3000.0).astype(np.int16), 1.0)
    assert suppressor.process(chunk) is chunk
    assert suppressor.finish() is None


def test_gain_one_gives_back_the_input_delayed_by_one_hop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("device.audio.denoise.GAIN_FLOOR", 1.0)  # an all-pass filter
    voice = _voice(1.024, 3000.0)
    out = _run(NoiseSuppressor(), _noise(3.0, 1000.0), voice)
    error = out[: len(voice)] - voice.astype(np.int16)
    assert np.abs(error).max() <= 1  # perfect reconstruction, up to int16 rounding


def test_a_steady_noise_is_taken_out_and_the_voice_kept() -> None:
    room = _noise(3.0, 1000.0)  # about -30 dBFS
    noise = _noise(2.048, 1000.0)
    voice = np.zeros_like(noise)
    voice[SAMPLE_RATE_HZ // 2 : SAMPLE_RATE_HZ * 3 // 2] = _voice(1.0, 3000.0)
    out = _run(NoiseSuppressor(), room, noise + voice)
    quiet = slice(0, SAMPLE_RATE_HZ * 2 // 5)  # noise only, before the voice
    spoken = slice(SAMPLE_RATE_HZ * 3 // 5, SAMPLE_RATE_HZ * 7 // 5)
    assert _db(noise[quiet]) - _db(out[quiet]) > 10  # the noise alone: at least 10 dB less
    kept = out[spoken].astype(np.float64)
    target = voice[spoken]
    # what is left of the noise under the voice is far below the voice
    assert _db(target) - _db(kept - target) > _db(target) - _db(noise[spoken]) + 5


def test_without_a_room_heard_the_audio_passes_unchanged() -> None:
    suppressor = NoiseSuppressor()
    for _ in range(100):  # digital silence (muted ears) says nothing about the room
        suppressor.hear_room(AudioChunk(np.zeros(512, np.int16), 0.0))
    suppressor.start()
    chunk = AudioChunk(_voice(CHUNK_S, 3000.0).astype(np.int16), 1.0)
    assert suppressor.process(chunk) is chunk
    assert suppressor.finish() is None


class ScriptedVad(SileroVad):
    """Speech where the chunk is loud (no model)."""

    def __init__(self) -> None:
        pass

    def probability(self, chunk: AudioChunk) -> float:
        return float(np.abs(chunk.samples.astype(np.int32)).max() > 5000)


class RecordingRecognizer(SpeechRecognizer):
    """Keeps what it was fed."""

    def __init__(self) -> None:
        self.fed: list[np.ndarray] = []

    def start(self) -> None:
        self.fed = []

    def accept(self, chunk: AudioChunk) -> None:
        self.fed.append(chunk.samples.copy())

    def finish(self) -> Transcript:
        return Transcript("", "", 0.0)

    def partial_text(self) -> str:
        return ""


def test_the_recogniser_hears_the_suppressed_audio_and_the_segment_stays_raw() -> None:
    room = _noise(2.0, 1000.0)
    call = _noise(1.0, 1000.0) + _voice(1.0, 8000.0)
    audio = np.concatenate([room, call, _noise(1.0, 1000.0)]).astype(np.int16)
    recognizer = RecordingRecognizer()
    listener = Listener(recognizer, ScriptedVad(), VadConfig(), denoiser=NoiseSuppressor())
    heard = [u for c in split_chunks(audio) if (u := listener.process(c)) is not None]
    assert len(heard) == 1
    segment = heard[0].samples
    assert segment is not None
    fed = np.concatenate(recognizer.fed)
    assert len(fed) == len(segment) + HOP  # every sample, plus the filter's tail
    # the segment kept for the sound classifier is the raw audio, pre-roll included
    start = round(heard[0].start_s * SAMPLE_RATE_HZ) - round(VadConfig().pre_roll_s / CHUNK_S) * 512
    assert np.array_equal(segment, audio[start : start + len(segment)])
    # the pre-roll (room noise) reached the recogniser at least 10 dB quieter than it was
    pre = slice(HOP, HOP + 2 * 512)
    assert _db(segment[: 2 * 512]) - _db(fed[pre]) > 10


@pytest.mark.slow
def test_a_call_in_drone_noise_is_heard_with_the_suppressor_and_not_without(
    vosk_model: Any,
) -> None:
    """Measured (benchmarks/intent_recall.py): "살려주세요" twice under a drone's propellers was
    asked about without the suppressor (the free transcript "신관 수술 후"), and is acted on at
    once with it (the free transcript holds "살려주 세요")."""
    clip = next(p for p in HELP_CLIPS if p.name == "sallyeojuseyo_drone.wav")
    recognizer = SpeechRecognizer(vosk_model)
    heard = {
        denoise: list(
            robot_listener(recognizer, VadConfig(), denoise=denoise).listen(WavSource(clip))
        )
        for denoise in (True, False)
    }
    assert any(u.intent is Intent.HELP for u in heard[True])
    assert not any(u.intent is Intent.HELP for u in heard[False])
