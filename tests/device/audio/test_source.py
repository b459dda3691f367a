"""Audio sources: WAV decoding and resampling, the microphone's error, the scripted scene."""

import builtins
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.audio.source import (
    CHUNK_S,
    CHUNK_SAMPLES,
    SAMPLE_RATE_HZ,
    AudioChunk,
    MicSource,
    ScriptedSource,
    WavSource,
)
from device.errors import AudioError


def write_wav(path: Path, audio: np.ndarray, rate_hz: int, width: int = 2) -> Path:
    """Write float audio (frames, channels) as PCM of `width` bytes."""
    audio = audio.reshape(len(audio), -1)
    scale = float(2 ** (8 * width - 1) - 1)
    ints = np.round(audio * scale).astype(np.int64)
    if width == 3:
        flat = ints.reshape(-1)
        frames = np.stack([flat & 0xFF, (flat >> 8) & 0xFF, (flat >> 16) & 0xFF], 1)
        data = frames.astype(np.uint8).tobytes()
    else:
        data = ints.astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(audio.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate_hz)
        w.writeframes(data)
    return path


def write_float_wav(path: Path, audio: np.ndarray, rate_hz: int) -> Path:
    """A mono IEEE-float32 WAV (format tag 3), which the stdlib wave module can't read."""
    data = audio.astype("<f4").tobytes()
    fmt = (
        (3).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + rate_hz.to_bytes(4, "little")
        + (rate_hz * 4).to_bytes(4, "little")
        + (4).to_bytes(2, "little")
        + (32).to_bytes(2, "little")
    )
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    body += b"data" + len(data).to_bytes(4, "little") + data
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return path


def tone(freq_hz: float, seconds: float, rate_hz: int) -> np.ndarray:
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    return 0.5 * np.sin(2 * np.pi * freq_hz * t)


def all_samples(source: Any) -> np.ndarray:
    return np.concatenate([c.samples for c in source.chunks()])


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE_HZ)[int(np.argmax(spectrum))])


def test_wav_source_resamples_44k1_stereo_to_16k_mono_and_keeps_the_tone(tmp_path: Path) -> None:
    left = tone(440.0, 2.0, 44_100)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, left], 1), 44_100)
    samples = all_samples(WavSource(path))
    assert samples.dtype == np.int16
    expected = 2.0 * SAMPLE_RATE_HZ
    assert expected <= len(samples) < expected + CHUNK_SAMPLES
    assert dominant_hz(samples[: int(expected)]) == pytest.approx(440.0, abs=1.0)
    assert 0.45 * 32767 < np.abs(samples).max() < 0.55 * 32767


def test_wav_source_downmixes_channels_by_averaging(tmp_path: Path) -> None:
    left = tone(440.0, 1.0, SAMPLE_RATE_HZ)
    path = write_wav(tmp_path / "lr.wav", np.stack([left, -left], 1), SAMPLE_RATE_HZ)
    assert np.abs(all_samples(WavSource(path))).max() <= 1


def test_wav_source_reads_24_bit_pcm(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "24.wav", tone(1000.0, 1.0, 48_000), 48_000, width=3)
    samples = all_samples(WavSource(path))
    assert dominant_hz(samples[:SAMPLE_RATE_HZ]) == pytest.approx(1000.0, abs=1.0)
    assert 0.45 * 32767 < np.abs(samples).max() < 0.55 * 32767


def test_wav_source_reads_float32_wav(tmp_path: Path) -> None:
    path = write_float_wav(tmp_path / "f.wav", tone(300.0, 1.0, 22_050), 22_050)
    samples = all_samples(WavSource(path))
    assert dominant_hz(samples[:SAMPLE_RATE_HZ]) == pytest.approx(300.0, abs=1.0)


def test_wav_source_chunks_are_512_samples_with_the_last_padded(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "odd.wav", np.full(1000, 0.25), SAMPLE_RATE_HZ)
    chunks = list(WavSource(path).chunks())
    assert [len(c.samples) for c in chunks] == [CHUNK_SAMPLES, CHUNK_SAMPLES]
    assert [c.start_s for c in chunks] == [0.0, CHUNK_S]
    assert chunks[1].samples[1000 - CHUNK_SAMPLES - 1] != 0
    assert not chunks[1].samples[1000 - CHUNK_SAMPLES :].any()


def test_missing_wav_is_an_audio_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nope\.wav does not exist"):
        WavSource(tmp_path / "nope.wav")


def test_garbage_file_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioError, match="not a readable WAV"):
        WavSource(path)


def test_truncated_wav_header_is_an_audio_error(tmp_path: Path) -> None:
    good = write_wav(tmp_path / "g.wav", tone(440.0, 0.1, SAMPLE_RATE_HZ), SAMPLE_RATE_HZ)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(good.read_bytes()[:20])
    with pytest.raises(AudioError):
        WavSource(bad)


def test_mic_source_without_portaudio_explains_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_portaudio(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(AudioError, match="libportaudio2") as err:
        MicSource()
    assert "\n" not in str(err.value)


def clip(tmp_path: Path, name: str, value: float, seconds: float) -> Path:
    return write_wav(tmp_path / name, np.full(round(seconds * SAMPLE_RATE_HZ), value), 16_000)


def levels(chunks: list[AudioChunk]) -> list[int]:
    return [int(np.abs(c.samples).max()) for c in chunks]


def test_scripted_source_plays_clips_and_silences_in_order(tmp_path: Path) -> None:
    a = clip(tmp_path, "a.wav", 0.25, 2 * CHUNK_S)
    b = clip(tmp_path, "b.wav", 0.5, CHUNK_S)
    source = ScriptedSource([a, 3 * CHUNK_S, b], realtime=False, idle=False)
    chunks = list(source.chunks())
    quarter, half = round(0.25 * 32767), round(0.5 * 32767)
    assert levels(chunks) == [quarter, quarter, 0, 0, 0, half]
    assert [c.start_s for c in chunks] == pytest.approx([i * CHUNK_S for i in range(6)])


def test_scripted_source_idles_with_silence_and_plays_said_clips(tmp_path: Path) -> None:
    a = clip(tmp_path, "a.wav", 0.25, CHUNK_S)
    source = ScriptedSource(realtime=False, idle=True)
    stream = source.chunks()
    assert levels([next(stream) for _ in range(5)]) == [0] * 5
    source.say(a)
    played = [next(stream) for _ in range(3)]
    assert levels(played)[0] == round(0.25 * 32767)
    assert levels(played)[1:] == [0, 0]
    source.close()
    assert list(stream) == []


def test_scripted_source_idles_with_its_room_in_a_loop_around_said_clips(tmp_path: Path) -> None:
    room = np.arange(1, 2 * CHUNK_SAMPLES + 100, dtype=np.int16)  # not a whole number of chunks
    a = clip(tmp_path, "a.wav", 0.25, CHUNK_S)
    source = ScriptedSource(realtime=False, idle=True, room=room)
    stream = source.chunks()
    idle = np.concatenate([next(stream).samples for _ in range(3)])
    assert np.array_equal(idle, np.resize(room, 3 * CHUNK_SAMPLES))  # wraps around
    source.say(a)
    assert levels([next(stream)]) == [round(0.25 * 32767)]
    after = next(stream).samples  # the room goes on where it left off
    assert np.array_equal(after, np.resize(room, 4 * CHUNK_SAMPLES)[3 * CHUNK_SAMPLES :])
    source.close()
    assert list(stream) == []


@pytest.mark.parametrize(
    "room", [np.zeros(CHUNK_SAMPLES, np.float64), np.zeros(CHUNK_SAMPLES - 1, np.int16)]
)
def test_scripted_source_refuses_a_room_that_is_not_int16_chunks(room: np.ndarray) -> None:
    with pytest.raises(AudioError, match="room loop"):
        ScriptedSource(realtime=False, room=room)


def test_scripted_source_reports_each_clip_end_right_after_its_last_chunk(tmp_path: Path) -> None:
    a = clip(tmp_path, "a.wav", 0.25, 2 * CHUNK_S)
    b = clip(tmp_path, "b.wav", 0.5, CHUNK_S)
    ends: list[tuple[Path, float]] = []
    source = ScriptedSource(
        [a, b, CHUNK_S], realtime=False, idle=False, on_clip_end=lambda p, t: ends.append((p, t))
    )
    stream = source.chunks()
    next(stream), next(stream)
    assert ends == []
    next(stream)  # b's only chunk: a's end is reported once the stream moved past a
    assert [p for p, _ in ends] == [a]
    list(stream)
    assert [p for p, _ in ends] == [a, b]
    assert ends[0][1] <= ends[1][1]


def test_scripted_source_rejects_a_missing_clip_up_front(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        ScriptedSource([tmp_path / "missing.wav"], realtime=False)
