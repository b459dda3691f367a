"""`dolbom device chat`: type as the senior and see what the robot says and would send.

The console runs the real companion (device.dialog.stage.DialogStage) and the real safety
countdown behind a simulated body and clock: `/touch hug`, `/present`, `/time 08:00` and
friends stand in for the sensors and the passing of the day. No network: events are printed
(and listed by `/events`), never sent. `--mic` runs the live microphone and speaker instead.
"""

import asyncio
import contextlib
import json
import re
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from device.audio.asr import AnswerKind
from device.audio.pipeline import Utterance
from device.config import DeviceConfig, load_config
from device.dialog.intents import EMERGENCY_INTENTS, Intent, match_intent
from device.dialog.stage import DialogStage
from device.errors import DeviceError
from device.safety.countdown import Action, Answer, Countdown, Raise, Say, Trigger
from device.safety.countdown import State as SafetyState
from device.safety.events import safety_event
from device.sensors import Presence, Touch, TouchKind
from device.speech.prompts import render
from device.stages import Heard
from protocol import Command, CommandType, EventType
from protocol.envelope import ModelRef
from protocol.events import Payload, Priority

STEP = timedelta(seconds=5)
"""The simulated clock ticks the companion every this often while time passes."""
TURN = timedelta(seconds=3)
"""Each line typed takes this much simulated time."""
MAX_JUMP = timedelta(days=2)
_TRIGGERS = {
    Intent.HELP: Trigger.SPOKEN_HELP,
    Intent.FELL: Trigger.SPOKEN_FELL,
    Intent.PAIN: Trigger.SPOKEN_PAIN,
}
HELP = """\
Type what the senior says, or a command:
  /present, /away           the presence sensor
  /touch hug|pat|squeeze    a touch on the robot
  /time HH:MM               jump ahead to that local time (the companion runs meanwhile)
  /wait 90s|10m|2h          let time pass
  /remind KIND HH:MM LABEL  add a reminder (KIND: medicine, meal, water, walk, other)
  /screening INSTRUMENT     a study screening due today (sgds_k, gds15, ucla3)
  /ack [NAME]               a caregiver acknowledges the alert
  /events                   the events the robot would have sent
  /history                  the transcript kept on the robot (deleted after the retention)
  /help, /quit"""


class ChatClock:
    """Simulated time that moves only when the console says so."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self.elapsed = timedelta()

    def monotonic(self) -> float:
        """Simulated seconds since the console started."""
        return self.elapsed.total_seconds()

    def now(self) -> datetime:
        """The simulated wall-clock time in UTC."""
        return self.start + self.elapsed


class ChatConsole:
    """A StageContext for one DialogStage, with the safety countdown the agent would run."""

    def __init__(
        self, config: DeviceConfig, start: datetime, console: Console, tz: ZoneInfo
    ) -> None:
        self.config = config
        self.out = console
        self.tz = tz
        self._clock = ChatClock(start)
        self.countdown = Countdown(config.safety.countdown_s)
        self.stage = DialogStage.from_config(config)
        self.events: list[tuple[datetime, EventType, dict[str, Any]]] = []
        self.reminders: list[dict[str, Any]] = []
        self._posted: list[object] = []

    # -- StageContext -------------------------------------------------------------------------
    @property
    def device_id(self) -> str:
        """This robot's id."""
        return self.config.device_id

    @property
    def language(self) -> str:
        """The robot's language."""
        return self.config.language

    @property
    def clock(self) -> ChatClock:
        """The console's simulated clock."""
        return self._clock

    @property
    def safety_active(self) -> bool:
        """A countdown runs or help was called."""
        return self.countdown.state is not SafetyState.IDLE

    @property
    def speaking(self) -> bool:
        """Text does not take time to say."""
        return False

    def emit(
        self,
        event_type: EventType,
        payload: Payload,
        *,
        priority: Priority | None = None,
        model: ModelRef | None = None,
    ) -> None:
        """Print the event the robot would send."""
        data = payload.model_dump(mode="json")
        self.events.append((self.local(), event_type, data))
        text = json.dumps(data, ensure_ascii=False)
        self.out.print(f"  [dim]event[/] [cyan]{event_type}[/] {escape(text)}")

    def say(self, text: str) -> None:
        """Print the robot's words."""
        self.out.print(f"[bold green]robot[/] {escape(text)}")

    def trigger(
        self,
        trigger: Trigger,
        confidence: float = 1.0,
        *,
        model: ModelRef | None = None,
        impact_g: float | None = None,
    ) -> None:
        """A stage started the safety loop."""
        now = self._clock.monotonic()
        self._act(self.countdown.trigger(trigger, now, confidence, model=model, impact_g=impact_g))

    def post(self, item: object) -> None:
        """Deliver to the stage on the next turn."""
        self._posted.append(item)

    def expect_answer(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """Typed words need no constrained recognition."""

    def step(self, name: str, detail: str) -> None:
        """Steps are not shown in the console."""

    # -- the console --------------------------------------------------------------------------
    def local(self) -> datetime:
        """The senior's local time."""
        return self._clock.now().astimezone(self.tz)

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Raise):
                event_type, payload, priority = safety_event(
                    action, self._clock.now(), self.language
                )
                self.emit(event_type, payload, priority=priority)
            elif isinstance(action, Say):
                self.say(render(action.prompt, self.language, **dict(action.values)))

    def _deliver(self, item: object) -> None:
        self.stage.handle(item, self._clock.monotonic())

    def _flush(self) -> None:
        while self._posted:
            self._deliver(self._posted.pop(0))

    def advance(self, delta: timedelta) -> None:
        """Let simulated time pass, ticking the safety loop and the companion."""
        end = self._clock.elapsed + min(delta, MAX_JUMP)
        while self._clock.elapsed < end:
            self._clock.elapsed = min(self._clock.elapsed + STEP, end)
            self._act(self.countdown.tick(self._clock.monotonic()))
            self.stage.tick(self._clock.monotonic())
            self._flush()

    def hear(self, text: str) -> None:
        """The senior said `text`: the safety loop first, as the agent does, then the stage."""
        match = match_intent(text, language=self.language)
        now_s = self._clock.monotonic()
        intent = match.intent
        safety = False
        if intent is Intent.FINE:
            safety = self.countdown.state is SafetyState.ASKING
            self._act(self.countdown.heard(Answer.FINE, now_s))
        elif intent in EMERGENCY_INTENTS:
            self._act(self.countdown.trigger(_TRIGGERS[intent], now_s, match.confidence))
            safety = True
        else:
            safety = self.countdown.state is SafetyState.ASKING
            self._act(self.countdown.heard(Answer.OTHER, now_s))
        utterance = Utterance(0.0, max(1.0, len(text) / 8), text, intent, match.confidence, "")
        self._deliver(Heard(utterance, safety=safety))
        self.advance(TURN)

    def command(self, kind: CommandType, payload: dict[str, Any]) -> bool:
        """A command as the cloud would send it; whether the robot accepted it."""
        command = Command(
            command_id=uuid.uuid4().hex,
            device_id=self.device_id,
            ts=self._clock.now(),
            type=kind,
            payload=payload,
        )
        result = self.stage.on_command(command)
        accepted = result is not None and result.ok
        if result is None or not result.ok:
            why = result.detail if result is not None else "not handled"
            self.out.print(f"[red]command refused:[/] {escape(why)}")
        else:
            self.out.print(f"  [dim]{escape(result.detail)}[/]")
        self._flush()
        return accepted


def _duration(text: str) -> timedelta:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|h)", text.strip())
    if found is None:
        raise ValueError(f"not a duration like 90s, 10m or 2h: {text!r}")
    value, unit = float(found.group(1)), found.group(2)
    return timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600}[unit])


def _until(now: datetime, hhmm: str) -> timedelta:
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", hhmm.strip())
    if found is None:
        raise ValueError(f"not a time like 08:00: {hhmm!r}")
    target = now.replace(hour=int(found.group(1)), minute=int(found.group(2)), second=0)
    target = target.replace(microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return target - now


def _run_command(chat: ChatConsole, line: str) -> bool:
    """One /command; False to quit."""
    name, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    out = chat.out
    now_s = chat.clock.monotonic()
    if name in ("quit", "exit", "q"):
        return False
    if name == "help":
        out.print(escape(HELP))
    elif name == "present":
        chat.stage.handle(Presence(True, now_s), now_s)
    elif name == "away":
        chat.stage.handle(Presence(False, now_s), now_s)
    elif name == "touch":
        kind, _, zone = rest.partition(" ")
        if (kind or "hug") not in {k.value for k in TouchKind}:
            raise ValueError("usage: /touch hug|pat|squeeze")
        chat.stage.handle(Touch(TouchKind(kind or "hug"), zone or "head", now_s), now_s)
    elif name == "time":
        chat.advance(_until(chat.local(), rest))
    elif name == "wait":
        chat.advance(_duration(rest))
    elif name == "remind":
        if len(rest.split()) < 2:
            raise ValueError(
                "usage: /remind KIND HH:MM LABEL (for example /remind medicine 08:00 혈압약)"
            )
        kind, hhmm, *label = rest.split()
        spec = {"id": len(chat.reminders) + 1, "kind": kind, "label": " ".join(label) or kind}
        wanted = [*chat.reminders, {**spec, "times": [hhmm]}]
        if chat.command(CommandType.SCHEDULE, {"reminders": wanted}):
            chat.reminders = wanted  # a refused reminder must not ride along with the next one
    elif name == "screening":
        spec = {"id": f"chat-{rest}", "instrument": rest, "due": chat.local().date().isoformat()}
        chat.command(CommandType.SCHEDULE, {"screenings": [spec]})
    elif name == "ack":
        chat._act(chat.countdown.acknowledged(rest or "보호자"))
    elif name == "events":
        for at, kind_, data in chat.events:
            text = json.dumps(data, ensure_ascii=False)
            out.print(f"{at:%H:%M:%S} [cyan]{kind_}[/] {escape(text)}")
    elif name == "history":
        for entry in chat.stage.transcripts.entries():
            out.print(f"{entry['at'][11:19]} {entry['who']}: {escape(entry['text'])}")
    else:
        out.print(f"[red]unknown command /{escape(name)}[/] (try /help)")
        return True
    chat._flush()
    return True


def _lines(console: Console, chat: ChatConsole) -> Iterator[str]:
    while True:
        try:
            yield console.input(f"[bold]{chat.local():%H:%M}[/] [bold blue]you>[/] ")
        except EOFError:
            return


def chat(
    lang: Annotated[
        str | None, typer.Option("--lang", help="ko or en (default: the config's, else ko).")
    ] = None,
    mic: Annotated[
        bool, typer.Option("--mic", help="Live microphone and speaker instead of typing.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="A robot's TOML config file.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--time", help="Start at this local time (HH:MM).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the companion's memory here (default: a temporary folder, removed after).",
        ),
    ] = None,
) -> None:
    """Talk to the companion in a console: type as the senior, see replies and events."""
    console = Console(highlight=False, soft_wrap=True)
    if lang is not None and lang not in ("ko", "en"):
        typer.echo(f"error: --lang must be ko or en, not {lang!r}", err=True)
        raise typer.Exit(2)
    temp: str | None = None
    try:
        cfg = load_config(config) if config is not None else None
        if data_dir is None and (cfg is None or mic is False):
            temp = tempfile.mkdtemp(prefix="dolbom-chat-")
        folder = data_dir or (Path(temp) if temp else None)
        if cfg is None:
            cfg = DeviceConfig(device_id="chat-robot", data_dir=folder or Path("var/chat"))
        elif folder is not None:
            cfg = replace(cfg, data_dir=folder)
        cfg = replace(cfg, language=lang or cfg.language)  # type: ignore[arg-type]
        if mic:
            _run_live(cfg, console)
            return
        _run_console(cfg, console, start)
    except DeviceError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _run_console(cfg: DeviceConfig, console: Console, start: str | None) -> None:
    tz = ZoneInfo(cfg.dialog.timezone)
    now = datetime.now(tz).replace(second=0, microsecond=0)
    if start is not None:
        found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", start.strip())
        if found is None:
            raise typer.BadParameter(f"not a time like 08:00: {start!r}", param_hint="--time")
        now = now.replace(hour=int(found.group(1)), minute=int(found.group(2)))
    chat_ = ChatConsole(cfg, now, console, tz)
    chat_.stage.start(chat_)
    console.print(
        f"[bold]dolbom companion[/] ({cfg.language}, {now:%Y-%m-%d %H:%M} {tz}); "
        "type /help for commands, /quit to leave."
    )
    for line in _lines(console, chat_):
        line = line.strip()
        if not line:
            continue
        try:
            if line.startswith("/"):
                if not _run_command(chat_, line):
                    break
            else:
                chat_.hear(line)
        except ValueError as e:
            console.print(f"[red]{escape(str(e))}[/]")
    chat_.stage.stop()


def _run_live(cfg: DeviceConfig, console: Console) -> None:
    """The whole agent on the microphone and speaker, with no network link."""
    from device.agent import Agent, Step
    from device.audio.asr import SpeechRecognizer, load_model
    from device.audio.pipeline import Listener
    from device.audio.vad import SileroVad
    from device.main import default_stages, open_source, open_speaker
    from device.outbox import Outbox

    cfg = replace(cfg, audio=replace(cfg.audio, source="mic"))

    def show(step: Step) -> None:
        if step.name in ("heard", "robot says", "outbox", "trigger", "countdown"):
            console.print(f"[dim]{step.name}[/] {escape(step.detail)}")

    source = open_source(cfg)
    speaker = open_speaker(cfg)
    console.print("loading the speech model (a few seconds)...")
    agent = Agent(
        cfg,
        source=source,
        listener=Listener(SpeechRecognizer(load_model()), SileroVad(), cfg.vad),
        speaker=speaker,
        outbox=Outbox(cfg.outbox_path, cfg.device_id),
        link=None,
        observer=show,
        stages=default_stages(cfg),
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        console.print("listening; speak to the robot (Ctrl-C stops)")
        await agent.run(stop)

    asyncio.run(main())
