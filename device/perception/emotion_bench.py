"""Measurements of the emotion and voice parts, for `benchmarks/perception.py` to call.

Pure functions over what the caller loads (a model, audio arrays): no files are read here,
so the benchmark decides where the clips come from (the shared human dev set is never
copied into the repository).
"""

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from device.perception.emotion import EmotionModel
from device.perception.emotion_features import featurize_batch
from device.perception.voice import FEATURES, SAMPLE_RATE_HZ, ArousalScorer, prosody

DEFAULT_TEXTS = (
    "아이고 허리야 오늘은 허리가 너무 아파",
    "오늘 손주가 온대서 기분이 좋네",
    "혼자 밥 먹으니까 맛이 없어",
    "what time is the doctor's appointment",
    "my knees are killing me today",
    "nobody called again today",
)


def _summary(values_us: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values_us, dtype=np.float64)
    return {
        "n": len(v),
        "p50": round(float(np.percentile(v, 50)), 1),
        "p99": round(float(np.percentile(v, 99)), 1),
        "mean": round(float(v.mean()), 1),
    }


def text_latency(
    model: EmotionModel, texts: Sequence[str] = DEFAULT_TEXTS, repeats: int = 200
) -> dict[str, Any]:
    """Per-utterance latency in µs: features, ONNX inference, and both (what the robot pays)."""
    features: list[float] = []
    inference: list[float] = []
    total: list[float] = []
    for _ in range(3):  # warm-up
        model.predict(texts[0])
    for i in range(repeats):
        text = texts[i % len(texts)]
        t0 = time.perf_counter()
        x = featurize_batch([text])
        t1 = time.perf_counter()
        model.run_features(x)
        t2 = time.perf_counter()
        model.predict(text)
        t3 = time.perf_counter()
        features.append((t1 - t0) * 1e6)
        inference.append((t2 - t1) * 1e6)
        total.append((t3 - t2) * 1e6)
    return {
        "unit": "us per utterance",
        "features": _summary(features),
        "onnx": _summary(inference),
        "predict": _summary(total),
    }


def prosody_cost(clips: Sequence[np.ndarray]) -> dict[str, Any]:
    """Prosody feature time in ms per second of audio, over 16 kHz int16 clips."""
    per_second: list[float] = []
    audio_s = 0.0
    spent_s = 0.0
    for clip in clips:
        seconds = len(clip) / SAMPLE_RATE_HZ
        if seconds <= 0:
            continue
        t0 = time.perf_counter()
        prosody(clip)
        took = time.perf_counter() - t0
        per_second.append(took * 1000.0 / seconds)
        audio_s += seconds
        spent_s += took
    return {
        "unit": "ms per second of audio",
        "clips": len(per_second),
        "audio_s": round(audio_s, 1),
        "overall": round(spent_s * 1000.0 / audio_s, 2) if audio_s else None,
        "per_clip": _summary(per_second) if per_second else None,
    }


def prosody_spread(clips: Sequence[np.ndarray]) -> dict[str, Any]:
    """Mean and standard deviation of each arousal feature over clips (POPULATION_BASELINE)."""
    found = [p for p in (prosody(c) for c in clips) if p is not None]
    out: dict[str, Any] = {"clips": len(clips), "with_speech": len(found)}
    for name in (*FEATURES, "pitch_hz", "voiced_share"):
        v = np.asarray([float(getattr(p, name)) for p in found])
        out[name] = (
            {"mean": round(float(v.mean()), 3), "sd": round(float(v.std()), 3)} if len(v) else None
        )
    return out


def arousal_spread(clips: Sequence[np.ndarray]) -> dict[str, Any]:
    """Arousal scores of clips against the population baseline (no adaptation): the spread."""
    scorer = ArousalScorer()
    scores = [scorer.score(p) for p in (prosody(c) for c in clips) if p is not None]
    if not scores:
        return {"clips": len(clips), "scored": 0}
    v = np.asarray(scores)
    return {
        "clips": len(clips),
        "scored": len(scores),
        "mean": round(float(v.mean()), 3),
        "sd": round(float(v.std()), 3),
        "p5": round(float(np.percentile(v, 5)), 3),
        "p50": round(float(np.percentile(v, 50)), 3),
        "p95": round(float(np.percentile(v, 95)), 3),
        "scores": [round(s, 3) for s in scores],
    }
