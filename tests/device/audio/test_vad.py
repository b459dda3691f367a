"""The speech segmenter, driven chunk by chunk with chosen probabilities (no audio, no sleeping)."""

import numpy as np
import pytest

from device.audio.source import CHUNK_S, AudioChunk
from device.audio.vad import (
    SegmentEvent,
    SpeechContinues,
    SpeechEnded,
    SpeechSegmenter,
    SpeechStarted,
)
from device.config import VadConfig

CONFIG = VadConfig(
    threshold=0.5, min_speech_s=0.15, hangover_s=0.4, pre_roll_s=0.3, max_segment_s=15.0
)


def chunk(i: int) -> AudioChunk:
    return AudioChunk(np.full(512, i, np.int16), i * CHUNK_S)


def run(probs: list[float], config: VadConfig = CONFIG) -> list[tuple[int, SegmentEvent]]:
    seg = SpeechSegmenter(config)
    return [(i, e) for i, p in enumerate(probs) for e in seg.process(p, chunk(i))]


def chunks_needed(seconds: float) -> int:
    return int(np.ceil(seconds / CHUNK_S - 1e-9))


def test_silence_produces_no_events() -> None:
    assert run([0.0] * 200) == []


def test_blip_shorter_than_min_speech_is_discarded() -> None:
    blip = chunks_needed(CONFIG.min_speech_s) - 1
    assert run([0.0] * 10 + [0.9] * blip + [0.0] * 30) == []


def test_speech_starts_once_min_speech_is_reached() -> None:
    need = chunks_needed(CONFIG.min_speech_s)
    events = run([0.0] * 20 + [0.9] * need)
    assert len(events) == 1
    i, started = events[0]
    assert isinstance(started, SpeechStarted)
    assert i == 20 + need - 1
    assert started.start_s == pytest.approx(20 * CHUNK_S)


def test_pre_roll_holds_audio_before_onset_and_the_confirming_speech() -> None:
    need = chunks_needed(CONFIG.min_speech_s)
    events = run([0.0] * 20 + [0.9] * need)
    started = events[0][1]
    assert isinstance(started, SpeechStarted)
    first = [int(c.samples[0]) for c in started.pre_roll]
    pre = round(CONFIG.pre_roll_s / CHUNK_S)
    assert first == list(range(20 - pre, 20 + need))


def test_pre_roll_keeps_a_discarded_blip_as_context() -> None:
    need = chunks_needed(CONFIG.min_speech_s)
    events = run([0.0] * 20 + [0.9, 0.0] + [0.9] * need)
    started = events[0][1]
    assert isinstance(started, SpeechStarted)
    assert [int(c.samples[0]) for c in started.pre_roll][-need - 2 : -need] == [20, 21]


def test_every_chunk_after_start_is_fed_until_the_end() -> None:
    need = chunks_needed(CONFIG.min_speech_s)
    events = run([0.9] * (need + 10) + [0.0] * 40)
    fed = [int(e.chunk.samples[0]) for _, e in events if isinstance(e, SpeechContinues)]
    assert fed == list(range(need, fed[-1] + 1))


def test_segment_ends_after_hangover_of_non_speech() -> None:
    speech = 30
    events = run([0.9] * speech + [0.0] * 40)
    ended = [(i, e) for i, e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    i, end = ended[0]
    assert i == speech + chunks_needed(CONFIG.hangover_s) - 1
    assert end.start_s == pytest.approx(0.0)
    assert end.end_s == pytest.approx(speech * CHUNK_S)


def test_pause_shorter_than_hangover_keeps_one_segment() -> None:
    pause = chunks_needed(CONFIG.hangover_s) - 1
    events = run([0.9] * 20 + [0.0] * pause + [0.9] * 20 + [0.0] * 40)
    assert sum(isinstance(e, SpeechStarted) for _, e in events) == 1
    ended = [e for _, e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    assert ended[0].end_s == pytest.approx((40 + pause) * CHUNK_S)


def test_probability_exactly_at_threshold_counts_as_speech() -> None:
    events = run([CONFIG.threshold] * 20)
    assert any(isinstance(e, SpeechStarted) for _, e in events)


def test_overlong_segment_is_force_ended_at_max_length() -> None:
    config = VadConfig(max_segment_s=2.0)
    events = run([0.9] * 200, config)
    ended = [(i, e) for i, e in events if isinstance(e, SpeechEnded)]
    first_i, first = ended[0]
    assert first.end_s - first.start_s == pytest.approx(2.0, abs=CHUNK_S)
    assert first_i == chunks_needed(2.0) - 1
    assert len(ended) >= 2  # speech goes on, so a new segment starts and is cut again


def test_flush_ends_open_segment_at_last_speech() -> None:
    seg = SpeechSegmenter(CONFIG)
    for i in range(20):
        seg.process(0.9, chunk(i))
    seg.process(0.0, chunk(20))
    assert seg.in_speech
    (ended,) = seg.flush()
    assert isinstance(ended, SpeechEnded)
    assert ended.start_s == 0.0
    assert ended.end_s == pytest.approx(20 * CHUNK_S)
    assert not seg.in_speech


def test_flush_drops_an_unconfirmed_candidate() -> None:
    seg = SpeechSegmenter(CONFIG)
    seg.process(0.9, chunk(0))
    assert seg.flush() == []
    assert seg.process(0.0, chunk(1)) == []


def test_in_speech_is_true_only_between_start_and_end() -> None:
    seg = SpeechSegmenter(CONFIG)
    states = []
    for i, p in enumerate([0.0] * 3 + [0.9] * 10 + [0.0] * 20):
        seg.process(p, chunk(i))
        states.append(seg.in_speech)
    need = chunks_needed(CONFIG.min_speech_s)
    first_true = states.index(True)
    assert first_true == 3 + need - 1
    assert states[-1] is False
