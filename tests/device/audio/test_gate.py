"""The energy gate: a quiet room keeps the VAD asleep; loud voiced or clipped sound is speech
even when the VAD says no; a bang or steady noise is not."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import harmonic, room_noise
from device.audio.asr import AnswerGrammar, AnswerKind, SpeechRecognizer, Transcript
from device.audio.gate import (
    SILENCE_DBFS,
    EnergyGate,
    GateConfig,
    GateState,
    level_dbfs,
    voicing,
)
from device.audio.pipeline import Listener, robot_listener
from device.audio.source import CHUNK_SAMPLES, SAMPLE_RATE_HZ, AudioChunk, read_wav
from device.audio.vad import SileroVad
from device.config import VadConfig

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
HELP_CLIP = FIXTURES / "ko-help-calls" / "call_clean_2.wav"


def chunks(x: np.ndarray, start_s: float = 0.0) -> list[AudioChunk]:
    pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    n = len(pcm) // CHUNK_SAMPLES
    return [
        AudioChunk(pcm[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES], start_s + i * 0.032)
        for i in range(n)
    ]


def test_level_of_a_full_scale_sine_is_minus_3_dbfs_and_silence_is_the_floor() -> None:
    t = np.arange(CHUNK_SAMPLES) / SAMPLE_RATE_HZ
    sine = (np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    assert level_dbfs(sine) == pytest.approx(-3.0, abs=0.1)
    assert level_dbfs(np.zeros(CHUNK_SAMPLES, np.int16)) == SILENCE_DBFS
    assert level_dbfs(np.zeros(0, np.int16)) == SILENCE_DBFS


def test_voicing_tells_a_voice_from_noise() -> None:
    voiced = harmonic(0.032, 300.0, -12.0).astype(np.int16)
    noise = (np.random.default_rng(3).standard_normal(CHUNK_SAMPLES) * 5000).astype(np.int16)
    assert voicing(voiced) > 0.8
    assert voicing(noise) < 0.3
    assert voicing(np.zeros(CHUNK_SAMPLES, np.int16)) == 0.0


def test_a_quiet_room_keeps_the_vad_asleep() -> None:
    gate = EnergyGate()
    states = [gate.judge(c).state for c in chunks(room_noise(20.0))]
    settled = states[round(5 / 0.032) :]  # once the floor window has filled
    assert settled.count(GateState.CLOSED) / len(settled) > 0.95
    assert GateState.LOUD not in states
    assert gate.floor_dbfs == pytest.approx(-56.0, abs=3.0)


def test_speech_level_sound_over_the_floor_wakes_the_vad_and_it_stays_awake_for_the_hold() -> None:
    gate = EnergyGate()
    noise = room_noise(6.0)
    for c in chunks(noise):
        gate.judge(c)
    voice = harmonic(0.5, 180.0, -38.0) + room_noise(0.5, seed=2)
    states = [gate.judge(c).state for c in chunks(voice, 6.0)]
    assert states[0] is GateState.OPEN
    after = [gate.judge(c) for c in chunks(room_noise(1.0, seed=4), 6.5)]
    held = [d.state for d in after[: round(GateConfig().hold_s / 0.032) - 1]]
    assert all(s is GateState.OPEN for s in held)
    assert after[-1].state is GateState.CLOSED


def test_a_loud_voiced_shout_is_loud_and_a_loud_bang_is_not() -> None:
    gate = EnergyGate()
    for c in chunks(room_noise(6.0)):
        gate.judge(c)
    shout = [gate.judge(c) for c in chunks(harmonic(0.3, 420.0, -14.0), 6.0)]
    assert all(d.state is GateState.LOUD and d.voiced for d in shout)
    rng = np.random.default_rng(9)
    bang = rng.standard_normal(CHUNK_SAMPLES) * 0.3 * 32768 / 3  # unvoiced, not clipped
    decision = gate.judge(chunks(bang, 7.0)[0])
    assert decision.state is GateState.OPEN  # the VAD decides; the gate does not force it


def test_clipped_sound_is_loud_even_when_unvoiced() -> None:
    gate = EnergyGate()
    for c in chunks(room_noise(6.0)):
        gate.judge(c)
    rng = np.random.default_rng(5)
    clipped = rng.standard_normal(CHUNK_SAMPLES) * 40000.0
    decision = gate.judge(chunks(clipped, 6.0)[0])
    assert decision.state is GateState.LOUD
    assert decision.clipped


def test_steady_loud_noise_raises_the_floor_so_a_vacuum_cleaner_is_not_a_shout() -> None:
    gate = EnergyGate()
    vacuum = room_noise(12.0, level_dbfs=-20.0, seed=6)
    decisions = [gate.judge(c) for c in chunks(vacuum)]
    late = decisions[round(6 / 0.032) :]
    assert all(d.state is not GateState.LOUD for d in late)
    assert gate.floor_dbfs > -25.0


def drone(seconds: float, level: float, seed: int = 11) -> np.ndarray:
    """A steady, periodic machine noise (propellers, a fan's whirr): voiced to the gate."""
    out: np.ndarray = harmonic(seconds, 140.0, level) + room_noise(seconds, level - 15.0, seed=seed)
    return out


def test_a_quiet_first_chunk_does_not_hold_the_floor_under_a_steady_drone() -> None:
    # the finding: the stream's first level (the edge of silence, a drone fading in) held the
    # floor for the whole first 5 s, so a steady drone at -24 dBFS counted as a loud voice
    gate = EnergyGate()
    start = [gate.judge(c) for c in chunks(room_noise(0.032, -70.0))]
    assert start[0].floor_dbfs == pytest.approx(-70.0, abs=1.0)
    steady = [gate.judge(c) for c in chunks(drone(3.0, -24.0), 0.032)]
    settled = steady[round(1.0 / 0.032) :]
    assert all(d.state is not GateState.LOUD for d in settled)
    assert gate.floor_dbfs == pytest.approx(-24.0, abs=2.0)
    # a shout over the drone is still loud, inside the first 5 s
    shout = harmonic(0.5, 420.0, -2.0) + drone(0.5, -24.0, seed=12)
    assert all(gate.judge(c).state is GateState.LOUD for c in chunks(shout, 3.1))


def test_a_quiet_start_stays_the_floor_while_a_long_scream_follows() -> None:
    gate = EnergyGate()
    for c in chunks(room_noise(0.5, -55.0)):
        gate.judge(c)
    scream = [gate.judge(c) for c in chunks(harmonic(4.0, 420.0, -14.0), 0.5)]
    assert all(d.state is GateState.LOUD for d in scream)
    assert gate.floor_dbfs < -50.0


def test_a_loud_start_gives_way_to_the_quiet_room_within_the_first_5_s() -> None:
    gate = EnergyGate()
    for c in chunks(drone(1.0, -24.0)):
        gate.judge(c)
    quiet = [gate.judge(c) for c in chunks(room_noise(1.5, -55.0), 1.0)]
    assert quiet[-1].floor_dbfs == pytest.approx(-55.0, abs=3.0)
    shout = [gate.judge(c) for c in chunks(harmonic(0.3, 420.0, -14.0), 2.5)]
    assert all(d.state is GateState.LOUD for d in shout)


def test_digital_silence_while_the_robot_talks_does_not_pull_the_floor_down() -> None:
    gate = EnergyGate()
    for c in chunks(room_noise(6.0)):
        gate.judge(c)
    floor = gate.floor_dbfs
    for c in chunks(np.zeros(SAMPLE_RATE_HZ * 3), 6.0):
        assert gate.judge(c).state is GateState.CLOSED
    assert gate.floor_dbfs == pytest.approx(floor)
    after = [gate.judge(c).state for c in chunks(room_noise(2.0, seed=8), 9.0)]
    assert after.count(GateState.CLOSED) / len(after) > 0.8


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="floor_window_s"):
        GateConfig(floor_window_s=0.01)
    with pytest.raises(ValueError, match="percentile"):
        GateConfig(floor_percentile=100)
    with pytest.raises(ValueError, match="warmup_first_s"):
        GateConfig(warmup_first_s=6.0)


class DeafVad(SileroVad):
    """A VAD that never hears speech (Silero on a shout: its best chunk was 0.49)."""

    def __init__(self) -> None:
        self.calls = 0

    def probability(self, chunk: AudioChunk) -> float:
        self.calls += 1
        return 0.1

    def reset(self) -> None:
        pass


class CountingRecognizer(SpeechRecognizer):
    def __init__(self) -> None:
        self.accepted = 0

    def start(self) -> None:
        pass

    def accept(self, chunk: AudioChunk) -> None:
        self.accepted += 1

    def finish(self) -> Transcript:
        return Transcript("", "", 0.0)

    def partial_text(self) -> str:
        return ""

    def answer_grammar(self, kind: AnswerKind, options: object = ()) -> AnswerGrammar:
        raise AssertionError("not expected")

    def use_answer(self, grammar: AnswerGrammar | None) -> None:
        pass


def test_a_shout_the_vad_rejects_still_reaches_recognition() -> None:
    vad, recognizer = DeafVad(), CountingRecognizer()
    listener = Listener(recognizer, vad, VadConfig(), gate=EnergyGate())
    audio = np.concatenate([room_noise(6.0), harmonic(1.0, 400.0, -12.0), room_noise(1.5, seed=3)])
    utterances = [u for u in (listener.process(c) for c in chunks(audio)) if u is not None]
    assert len(utterances) == 1
    (u,) = utterances
    assert u.loud
    assert 5.9 < u.start_s < 6.2
    assert u.end_s == pytest.approx(7.0, abs=0.1)
    assert recognizer.accepted >= 30
    # the quiet room before it cost few VAD calls: the gate kept Silero asleep
    assert vad.calls < 0.3 * len(chunks(audio))


def test_without_a_gate_the_same_vad_drops_the_shout() -> None:
    recognizer = CountingRecognizer()
    listener = Listener(recognizer, DeafVad(), VadConfig())
    audio = np.concatenate([room_noise(1.0), harmonic(1.0, 400.0, -12.0), room_noise(1.0)])
    assert all(listener.process(c) is None for c in chunks(audio))
    assert recognizer.accepted == 0


@pytest.mark.slow
def test_real_silero_and_gate_hear_a_shouted_clipped_call(vosk_model: object) -> None:
    """A committed MIT call for help played 8x louder, clipped, after a quiet room: the robot's
    ears still produce an utterance (plumbing: one clip made loud, not new evidence)."""
    call = read_wav(HELP_CLIP).astype(np.float64) * 8.0
    audio = np.concatenate([room_noise(6.0), call, room_noise(1.5, seed=3)])
    listener = robot_listener(SpeechRecognizer(vosk_model), VadConfig())
    heard = list(listener.listen(_Source(audio)))
    assert heard, "the shouted call never reached recognition"
    assert any(u.intent.value in ("help", "check") for u in heard), [u.text for u in heard]


class _Source:
    def __init__(self, x: np.ndarray) -> None:
        self._chunks = chunks(x)

    def chunks(self) -> Iterator[AudioChunk]:
        return iter(self._chunks)

    def close(self) -> None:
        pass
