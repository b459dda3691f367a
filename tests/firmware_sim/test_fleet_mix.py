"""The fleet's simulated events speak the robot's own vocabulary."""

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from firmware_sim.fleet.mix import EventMix
from protocol import EventType, decode_envelope

ARTIFACTS = Path(__file__).resolve().parents[2] / "models" / "artifacts"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _labels(name: str) -> set[str]:
    """The labels of the newest shipped version of a model (from the manifest)."""
    manifest = json.loads((ARTIFACTS / "manifest.json").read_text())
    version = manifest["latest"][name]
    return set(json.loads((ARTIFACTS / f"{name}-{version}.json").read_text())["labels"])


def test_mood_and_activity_summaries_use_the_shipped_models_labels() -> None:
    mix = EventMix({EventType.MOOD: 1.0, EventType.ACTIVITY: 1.0})
    rng = random.Random(4)
    state = mix.new_state(rng, NOW)
    seen: dict[EventType, set[str]] = {EventType.MOOD: set(), EventType.ACTIVITY: set()}
    for seq in range(1, 200):
        env = decode_envelope(mix.next_event("fleet-000001", seq, state, rng, NOW).raw)
        keys = env.payload.get("shares") or env.payload.get("minutes") or {}
        seen[env.type] |= set(keys)
    assert seen[EventType.MOOD]
    assert seen[EventType.MOOD] <= _labels("emotion")
    assert seen[EventType.ACTIVITY]
    # the motion stage adds `rest` (still for 20 min in a row) to the model's labels
    assert seen[EventType.ACTIVITY] <= _labels("activity") | {"rest"}
