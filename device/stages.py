"""The agent's plug-in seam: the stages beyond listening and the safety loop.

The hardware layer, perception and the companion dialog are stages. The agent owns one
asyncio loop; every stage method below is called on it, one at a time, with the agent
clock's monotonic seconds. A stage never blocks that loop for long (inference of a few
milliseconds is fine; file or network work goes to a thread and comes back with
`ctx.post`).

What a stage receives through `handle`:
- every sensor reading (device.sensors: ImuBatch, Touch, Presence, ButtonPress,
  BatteryReading, HardwareFault), whichever stage produced it;
- every final `Utterance` with `Heard.safety` telling whether the safety loop took it
  (a call for help, "I fell", "I'm fine" during a countdown): a stage must not answer
  those;
- whatever a stage posted itself with `ctx.post` (its own message types).

The safety loop always comes first: while `ctx.safety_active` is true (an "are you OK?"
countdown runs, or help has been called and not yet acknowledged), stages stay quiet.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from device.audio.asr import AnswerKind
from device.audio.pipeline import Utterance
from device.clock import Clock
from device.safety.countdown import Trigger
from protocol import Command, CommandResult, EventType
from protocol.envelope import ModelRef
from protocol.events import Payload, Priority, SelfTest


@dataclass(frozen=True)
class Heard:
    """A final utterance, as the stages see it."""

    utterance: Utterance
    safety: bool  # the safety loop acted on it; do not reply


class StageContext(Protocol):
    """What the agent offers its stages."""

    @property
    def device_id(self) -> str:
        """This robot's id."""

    @property
    def language(self) -> str:
        """ "ko" or "en": the language the robot speaks and listens in."""

    @property
    def clock(self) -> Clock:
        """The agent's clock (scaled in simulations)."""

    @property
    def safety_active(self) -> bool:
        """An "are you OK?" countdown runs or help was called: stay quiet."""

    @property
    def speaking(self) -> bool:
        """The robot is talking (or its speech queue is not empty)."""

    def emit(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> None:
        """Write an event to the outbox (durably) and wake the link."""

    def say(self, text: str) -> None:
        """Queue a sentence to speak (half duplex: the ears hear silence meanwhile)."""

    def trigger(
        self,
        trigger: Trigger,
        confidence: float = 1.0,
        *,
        model: ModelRef | None = None,
        impact_g: float | None = None,
    ) -> None:
        """Start the safety loop: a fall (with the model that saw it), the help button."""

    def post(self, item: object) -> None:
        """Hand an item to every stage's `handle` on the agent's loop; safe from any thread."""

    def expect_answer(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """Decode the senior's next answer with constrained recognition too (a yes/no or
        one of `options`); the next `Heard` carries `answer_kind/answer_text/...`. None
        stops expecting. Ears without constrained recognition ignore it."""

    def step(self, name: str, detail: str) -> None:
        """Show a step in the demo's timeline and the log."""


class Stage(Protocol):
    """One part of the robot plugged into the agent."""

    name: str

    def start(self, ctx: StageContext) -> None:
        """Called once on the agent's loop before anything else; may start threads."""

    def handle(self, item: object, now_s: float) -> None:
        """A sensor reading, a `Heard`, or an item posted by a stage; ignore what is not yours."""

    def tick(self, now_s: float) -> None:
        """Called about ten times a second."""

    def on_command(self, command: Command) -> CommandResult | None:
        """A command from the cloud, on the link's thread; None means "not mine"."""

    def self_tests(self) -> list[SelfTest]:
        """Reported in every heartbeat."""

    def stop(self) -> None:
        """Called once when the agent stops; join threads, close files."""
