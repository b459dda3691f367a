"""Speech out: espeak-ng into memory, the LRU reply cache, and the playback-start report."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from device.errors import DeviceError
from device.speech.tts import (
    Audio,
    CachedSpeaker,
    EspeakSynthesizer,
    NullPlayer,
    ReplyCache,
    read_wav_file,
    write_wav,
)


class CountingSynth:
    """A fake voice: one second of a tone per sentence, counting its calls."""

    def __init__(self, settings: str = "fake:1") -> None:
        self.calls = 0
        self._settings = settings

    @property
    def settings(self) -> str:
        return self._settings

    def synthesize(self, text: str, language: str) -> Audio:
        self.calls += 1
        return Audio(np.full(16000, len(text), np.int16), 16000)


class BrokenSynth(CountingSynth):
    def synthesize(self, text: str, language: str) -> Audio:
        raise DeviceError("no voice")


@pytest.mark.parametrize(("language", "text"), [("ko", "안녕하세요"), ("en", "Hello there")])
def test_espeak_synthesises_korean_and_english_in_memory(language: str, text: str) -> None:
    audio = EspeakSynthesizer().synthesize(text, language)
    assert audio.sample_rate_hz == 22050
    assert 0.3 < audio.duration_s < 5.0
    assert np.abs(audio.samples).max() > 1000  # not silence


def test_espeak_rate_is_part_of_the_settings_and_checked() -> None:
    assert EspeakSynthesizer(120).settings != EspeakSynthesizer(160).settings
    with pytest.raises(DeviceError, match="rate"):
        EspeakSynthesizer(5)


def test_a_repeated_reply_is_synthesised_once(tmp_path: Path) -> None:
    synth = CountingSynth()
    speaker = CachedSpeaker(synth, NullPlayer(), ReplyCache(tmp_path))
    for _ in range(3):
        speaker.say("괜찮으세요?", "ko")
    assert synth.calls == 1
    assert speaker.cache is not None
    assert (speaker.cache.hits, speaker.cache.misses) == (2, 1)


def test_the_cache_survives_a_restart(tmp_path: Path) -> None:
    CachedSpeaker(CountingSynth(), NullPlayer(), ReplyCache(tmp_path)).say("안녕", "ko")
    synth = CountingSynth()
    CachedSpeaker(synth, NullPlayer(), ReplyCache(tmp_path)).say("안녕", "ko")
    assert synth.calls == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("안녕", "ko", "fake:1"), ("안녕", "en", "fake:1")),
        (("안녕", "ko", "fake:1"), ("안녕", "ko", "fake:2")),
        (("안녕", "ko", "fake:1"), ("안녕하세요", "ko", "fake:1")),
    ],
)
def test_key_changes_with_text_language_and_voice_settings(
    a: tuple[str, str, str], b: tuple[str, str, str]
) -> None:
    assert ReplyCache.key(*a) != ReplyCache.key(*b)


def test_file_names_do_not_reveal_the_text(tmp_path: Path) -> None:
    CachedSpeaker(CountingSynth(), NullPlayer(), ReplyCache(tmp_path)).say(
        "약 드실 시간이에요", "ko"
    )
    (name,) = [p.name for p in tmp_path.iterdir()]
    assert "약" not in name
    assert name.endswith(".wav")


def test_least_recently_used_replies_are_evicted_past_the_bound(tmp_path: Path) -> None:
    one_reply = 32_044  # one second of 16 kHz int16 + the WAV header
    cache = ReplyCache(tmp_path, max_bytes=2 * one_reply)
    synth = CountingSynth()
    speaker = CachedSpeaker(synth, NullPlayer(), cache)
    speaker.say("a", "ko")
    speaker.say("b", "ko")
    old = time.time() - 100
    os.utime(tmp_path / f"{ReplyCache.key('b', 'ko', synth.settings)}.wav", (old, old))
    speaker.say("a", "ko")  # a hit: "a" is now the most recent; "b" the least
    speaker.say("c", "ko")  # over the bound: "b" goes
    assert cache.size_bytes <= cache.max_bytes
    calls = synth.calls
    speaker.say("a", "ko")
    speaker.say("c", "ko")
    assert synth.calls == calls  # both still cached
    speaker.say("b", "ko")
    assert synth.calls == calls + 1  # evicted, synthesised again


def test_a_corrupt_cache_file_is_dropped_and_resynthesised(tmp_path: Path) -> None:
    synth = CountingSynth()
    speaker = CachedSpeaker(synth, NullPlayer(), ReplyCache(tmp_path))
    speaker.say("안녕", "ko")
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not a wav")
    speaker.say("안녕", "ko")
    assert synth.calls == 2
    assert read_wav_file(path).duration_s == pytest.approx(1.0)


def test_half_written_files_from_a_crash_are_cleaned_at_start(tmp_path: Path) -> None:
    (tmp_path / "abc.tmp").write_bytes(b"half")
    ReplyCache(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))


def test_playback_start_is_reported_before_the_first_sample_is_played(tmp_path: Path) -> None:
    events: list[str] = []

    class Player:
        def play(self, audio: Audio) -> None:
            events.append("play")

    started: list[tuple[str, float]] = []

    def on_start(text: str, at: float) -> None:
        started.append((text, at))
        events.append("start")

    speaker = CachedSpeaker(CountingSynth(), Player(), ReplyCache(tmp_path), on_start)
    before = time.monotonic()
    speaker.say("안녕하세요", "ko")
    assert events == ["start", "play"]
    assert started[0][0] == "안녕하세요"
    assert before <= started[0][1] == speaker.last_playback_start_s


def test_a_failing_voice_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    player = NullPlayer()
    CachedSpeaker(BrokenSynth(), player).say("안녕", "ko")
    assert player.played == []
    assert "could not speak" in caplog.text


def test_wav_round_trip(tmp_path: Path) -> None:
    audio = Audio(np.arange(-100, 100, dtype=np.int16), 22050)
    write_wav(tmp_path / "x.wav", audio)
    back = read_wav_file(tmp_path / "x.wav")
    assert back.sample_rate_hz == 22050
    assert np.array_equal(back.samples, audio.samples)


def test_cache_needs_a_positive_size(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="positive"):
        ReplyCache(tmp_path, max_bytes=0)
