"""Tiny committed models, a recording stage context, and a copy of the models to tamper with."""

import queue
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from device.safety.countdown import Trigger
from protocol import EventType
from protocol.envelope import ModelRef
from protocol.events import Payload, Priority

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TINY_MODELS = FIXTURES / "models"  # made by tests/fixtures/models/make_tiny.py
IMU_CSV = FIXTURES / "imu" / "walk_then_fall.csv"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        from datetime import timedelta

        return NOW + timedelta(seconds=self.t)


@dataclass
class RecordingContext:
    """Records what a stage does; posted items wait in `inbox` for the test to deliver."""

    clock: FixedClock = field(default_factory=FixedClock)
    device_id: str = "robot-test-01"
    language: str = "ko"
    safety_active: bool = False
    speaking: bool = False
    emitted: list[tuple[EventType, Payload, ModelRef | None]] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)
    triggers: list[tuple[Trigger, float]] = field(default_factory=list)
    trigger_details: list[tuple[ModelRef | None, float | None]] = field(default_factory=list)
    inbox: "queue.Queue[object]" = field(default_factory=queue.Queue)

    def emit(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> None:
        self.emitted.append((event_type, payload, model))

    def say(self, text: str) -> None:
        self.steps.append(("say", text))

    def trigger(
        self,
        trigger: Trigger,
        confidence: float = 1.0,
        *,
        model: ModelRef | None = None,
        impact_g: float | None = None,
    ) -> None:
        self.triggers.append((trigger, confidence))
        self.trigger_details.append((model, impact_g))

    def post(self, item: object) -> None:
        self.inbox.put(item)

    def expect_answer(self, kind: Any, options: Sequence[str] = ()) -> None:
        self.steps.append(("expect_answer", str(kind)))

    def step(self, name: str, detail: str) -> None:
        self.steps.append((name, detail))

    def events(self, event_type: EventType) -> list[tuple[Payload, ModelRef | None]]:
        return [(p, m) for t, p, m in self.emitted if t is event_type]


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    """A private copy of the tiny models (tests may break it)."""
    out = tmp_path / "shipped"
    shutil.copytree(TINY_MODELS, out, ignore=shutil.ignore_patterns("*.py"))
    return out
