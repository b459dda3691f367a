"""Spans of sound above the room's floor reach the sound classifier even when the VAD never
opens on them (a low moan, panting), but not inside or right after speech, and a sound the
robot already asked about is not asked about twice. Plumbing on generated signals: the
classifier's recall is measured on human recordings (benchmarks/sound.py, intent_recall.py)."""

from typing import Any

import numpy as np
import pytest

from benchmarks.common import harmonic, room_noise
from device.audio.asr import Transcript
from device.audio.gate import EnergyGate, GateConfig, GateDecision, GateState, level_dbfs
from device.audio.pipeline import Listener, Utterance
from device.audio.sound_spans import SoundSpans, SpanConfig
from device.audio.sounds import SoundClassifier, SoundEvent
from device.audio.source import AudioChunk
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.dialog.intents import Intent
from tests.device.audio.test_gate import CountingRecognizer, DeafVad, chunks


class FakeSounds(SoundClassifier):
    """Records what it was asked to classify; calls everything distress (or nothing, or what
    is shorter than `distress_below_s`)."""

    def __init__(self, distress: bool = True, distress_below_s: float = 1e9) -> None:
        self.distress, self.below = distress, distress_below_s  # no model: plumbing only
        self.heard: list[int] = []

    def classify(self, pcm: np.ndarray, sample_rate_hz: int = 16000) -> SoundEvent:
        self.heard.append(len(pcm))
        distress = self.distress and len(pcm) < self.below * sample_rate_hz
        p = 0.9 if distress else 0.1
        return SoundEvent("moaning" if distress else "speech", p, distress, {"moaning": p})


def _moan(seconds: float = 1.5) -> np.ndarray:
    """Voiced, 20 dB over a quiet room but under the gate's 'loud' level: the VAD decides."""
    return harmonic(seconds, 180.0, -35.0)


def _spans(audio: np.ndarray, config: SpanConfig | None = None) -> list[Any]:
    gate, spans, out = EnergyGate(), SoundSpans(config), []
    for c in chunks(audio):
        span = spans.push(c, gate.judge(c))
        if span is not None:
            out.append(span)
    last = spans.flush()
    return out + ([last] if last is not None else [])


def test_a_quiet_room_makes_no_span() -> None:
    assert _spans(room_noise(12.0)) == []


def test_a_moan_over_a_quiet_room_is_one_span_with_its_audio() -> None:
    audio = np.concatenate([room_noise(6.0), _moan(1.5), room_noise(2.0, seed=3)])
    (span,) = _spans(audio)
    assert span.start_s == pytest.approx(6.0, abs=0.15)
    assert span.end_s == pytest.approx(7.5, abs=0.1)
    assert span.active_s == pytest.approx(1.5, abs=0.1)
    assert len(span.samples) == pytest.approx((span.end_s - span.start_s + 0.4) * 16000, rel=0.1)
    assert level_dbfs(span.samples) > -45.0


def test_a_knock_is_too_short_and_a_long_sound_comes_in_pieces() -> None:
    knock = harmonic(0.1, 400.0, -20.0)
    assert _spans(np.concatenate([room_noise(6.0), knock, room_noise(2.0, seed=3)])) == []
    crying = np.concatenate([_moan(0.3), room_noise(0.2, seed=5)])  # sobs with quiet gaps
    long = _spans(np.concatenate([room_noise(6.0), *[crying] * 24, room_noise(2.0, seed=3)]))
    assert len(long) >= 3
    assert all(s.end_s - s.start_s <= 5.0 + 0.05 for s in long)
    # whole 32 ms chunks: a chunk that holds the start or end of a sob counts as active
    assert sum(s.active_s for s in long) == pytest.approx(24 * 0.3, abs=1.0)


def test_a_steady_sound_becomes_the_floor_and_stops_being_a_sound() -> None:
    """A vacuum cleaner or a fan: after the floor window it is the room, not an event."""
    (span,) = _spans(np.concatenate([room_noise(6.0), _moan(20.0), room_noise(2.0, seed=3)]))
    assert span.active_s < 5.0


def test_panting_bursts_with_gaps_stay_one_span() -> None:
    burst = np.concatenate([_moan(0.3), room_noise(0.2, seed=5)])
    audio = np.concatenate([room_noise(6.0), *[burst] * 6, room_noise(2.0, seed=3)])
    (span,) = _spans(audio)
    assert span.active_s == pytest.approx(1.8, abs=0.2)


def test_span_config_is_checked() -> None:
    with pytest.raises(ValueError, match="min_active_s"):
        SpanConfig(min_active_s=0.0)
    with pytest.raises(ValueError, match="max_s"):
        SpanConfig(max_s=0.4)


def _listen(listener: Listener, audio: np.ndarray) -> list[Utterance]:
    heard = [u for u in (listener.process(c) for c in chunks(audio)) if u is not None]
    return heard + listener.flush()


def test_a_moan_the_vad_never_opens_on_reaches_the_classifier_and_the_robot_asks() -> None:
    sounds = FakeSounds()
    listener = Listener(
        CountingRecognizer(), DeafVad(), VadConfig(), gate=EnergyGate(), sounds=sounds
    )
    heard = _listen(listener, np.concatenate([room_noise(6.0), _moan(), room_noise(2.0, seed=3)]))
    (u,) = heard
    assert u.intent is Intent.DISTRESS
    assert u.text == ""
    assert u.sound is not None
    assert u.sound.label == "moaning"
    assert "ask: distress sound" in u.reasons
    assert u.start_s == pytest.approx(6.0, abs=0.15)
    assert sounds.heard == [pytest.approx(1.9 * 16000, rel=0.1)]


def test_an_everyday_sound_span_is_classified_and_nothing_happens() -> None:
    sounds = FakeSounds(distress=False)
    listener = Listener(
        CountingRecognizer(), DeafVad(), VadConfig(), gate=EnergyGate(), sounds=sounds
    )
    assert _listen(listener, np.concatenate([room_noise(6.0), _moan(), room_noise(2.0)])) == []
    assert len(sounds.heard) == 1
    assert listener.sounds_classified == 1


class ScriptedVad(SileroVad):
    """Speech between `start_s` and `end_s`, else not."""

    def __init__(self, start_s: float, end_s: float) -> None:
        self.start_s, self.end_s = start_s, end_s

    def probability(self, chunk: AudioChunk) -> float:
        return 0.95 if self.start_s <= chunk.start_s < self.end_s else 0.05

    def reset(self) -> None:
        pass


class Saying(CountingRecognizer):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def finish(self) -> Transcript:
        return Transcript(self.text, "", 0.0)


def test_a_sound_right_after_speech_is_not_classified() -> None:
    """Television: a breathy word-end or a sigh inside a talk is not a moan. (The talk's own
    segment is classified too - a cry can be decoded as words - and is speech.)"""
    sounds = FakeSounds(distress_below_s=1.8)
    listener = Listener(
        Saying("오늘 날씨가 참 좋네요"), ScriptedVad(6.0, 8.0), VadConfig(),
        gate=EnergyGate(), sounds=sounds,
    )  # fmt: skip
    talk = harmonic(2.0, 150.0, -35.0)
    audio = np.concatenate([room_noise(6.0), talk, room_noise(0.3, seed=4), _moan(1.0),
                            room_noise(2.0, seed=3)])  # fmt: skip
    heard = _listen(listener, audio)
    assert [u.intent for u in heard] == [Intent.NONE]
    assert heard[0].text == "오늘 날씨가 참 좋네요"
    assert sounds.heard
    assert all(n > 2.0 * 16000 for n in sounds.heard)  # never the moan alone


def test_a_sound_already_asked_about_on_its_speech_segment_is_not_asked_twice() -> None:
    """The VAD opened on the cry and its segment had no words: the classifier heard it there;
    the span over the same sound must not raise a second question."""
    sounds = FakeSounds()
    listener = Listener(
        Saying(""), ScriptedVad(6.0, 7.5), VadConfig(), gate=EnergyGate(), sounds=sounds
    )
    heard = _listen(listener, np.concatenate([room_noise(6.0), _moan(), room_noise(2.0)]))
    assert [u.intent for u in heard] == [Intent.DISTRESS]
    assert len(sounds.heard) == 1


def test_no_sounds_no_spans() -> None:
    """Without a sound classifier (tests, a robot with the model missing) nothing is collected."""
    listener = Listener(CountingRecognizer(), DeafVad(), VadConfig(), gate=EnergyGate())
    assert _listen(listener, np.concatenate([room_noise(6.0), _moan(), room_noise(2.0)])) == []


def _floors(audio: np.ndarray) -> list[GateDecision]:
    gate = EnergyGate(GateConfig())
    return [gate.judge(c) for c in chunks(audio)]


def test_a_recording_that_starts_inside_a_sound_finds_the_quiet_gaps_within_a_second() -> None:
    burst = np.concatenate([_moan(0.3), room_noise(0.2, seed=5)])
    decisions = _floors(np.concatenate([*[burst] * 8]))
    after_1_s = [d for d in decisions if d.level_dbfs > -40.0][-1]
    assert after_1_s.floor_dbfs < -50.0  # the gaps, not the breaths
    assert any(d.state is not GateState.CLOSED for d in decisions[round(1.0 / 0.032) :])


def test_a_recording_that_starts_quietly_keeps_the_quiet_start_as_floor_while_noise_builds() -> (
    None
):
    noise = np.random.default_rng(2).standard_normal(16000 * 3) * 32768 * 10 ** (-25 / 20)
    decisions = _floors(np.concatenate([room_noise(0.5), noise]))
    assert decisions[round(2.0 / 0.032)].floor_dbfs < -50.0
