"""A stage context for driving the HAL stage without an agent, and a virtual MCU on a PTY."""

import queue
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device.audio.asr import AnswerKind
from device.clock import ScaledClock
from device.hal.stage import HalStage
from device.safety.countdown import Trigger
from firmware_sim.mcu import VirtualMcu
from firmware_sim.pty import PtyMcu
from firmware_sim.world import Segment, World, WorldEvent
from protocol import EventType
from protocol.envelope import ModelRef
from protocol.events import Payload, Priority


@dataclass
class FakeContext:
    """Records what a stage does; `pump` hands posted items back like the agent's loop."""

    clock: ScaledClock
    device_id: str = "robot-test-01"
    language: str = "ko"
    safety_active: bool = False
    speaking: bool = False
    emitted: list[tuple[EventType, Payload]] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    seen: list[object] = field(default_factory=list)
    inbox: "queue.Queue[object]" = field(default_factory=queue.Queue)

    def emit(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> None:
        self.emitted.append((event_type, payload))

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
        self.triggers.append(trigger)

    def post(self, item: object) -> None:
        self.inbox.put(item)

    def step(self, name: str, detail: str) -> None:
        self.steps.append((name, detail))

    def expect_answer(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        self.steps.append(("expect_answer", str(kind)))

    def events(self, event_type: EventType) -> list[Payload]:
        return [p for t, p in self.emitted if t is event_type]


def run_until(
    stage: HalStage, ctx: FakeContext, done: Callable[[], bool], timeout_s: float = 15.0
) -> bool:
    """Play the agent's loop (handle posted items, tick ~10×/s) until `done()` or timeout."""
    deadline = time.monotonic() + timeout_s
    next_tick = 0.0
    while time.monotonic() < deadline:
        try:
            item = ctx.inbox.get(timeout=0.02)
        except queue.Empty:
            item = None
        now = ctx.clock.monotonic()
        if item is not None:
            ctx.seen.append(item)
            stage.handle(item, now)
        if time.monotonic() >= next_tick:
            stage.tick(now)
            next_tick = time.monotonic() + 0.1
        if done():
            return True
    return False


@dataclass
class Rig:
    """A HAL stage talking to a virtual MCU over a real PTY, on one scaled clock."""

    clock: ScaledClock
    world: World
    mcu: VirtualMcu
    pty: PtyMcu
    stage: HalStage
    ctx: FakeContext

    def at(self, offset_s: float, event: WorldEvent) -> None:
        """Add an event `offset_s` after the clock's present moment."""
        now = self.clock.monotonic()
        shifted = WorldEvent(now + offset_s, event.kind, event.args, event.id)
        self.pty.with_mcu(lambda mcu: mcu.world.add(shifted))

    def run_until(self, done: Callable[[], bool], timeout_s: float = 15.0) -> bool:
        return run_until(self.stage, self.ctx, done, timeout_s)


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Build rigs; every one is stopped at the end of the test."""
    rigs: list[Rig] = []

    def make(
        segments: list[Segment] | None = None,
        events: list[WorldEvent] | None = None,
        speed: float = 1.0,
        silent_timeout_s: float = 3.0,
    ) -> Rig:
        from device.config import HalConfig

        clock = ScaledClock(speed)
        world = World(
            segments or [Segment(0.0, 1e6, "tv", "sitting", "living", band=False)], events or []
        )
        mcu = VirtualMcu(world, seed=3)
        pty = PtyMcu(mcu, clock, link=tmp_path / f"mcu{len(rigs)}.tty")
        path = pty.start()
        config = HalConfig(enabled=True, port=path, silent_timeout_s=silent_timeout_s)
        stage = HalStage(config)
        ctx = FakeContext(clock)
        stage.start(ctx)
        rig = Rig(clock, world, mcu, pty, stage, ctx)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stage.stop()
        rig.pty.stop()
