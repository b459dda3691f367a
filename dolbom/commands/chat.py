"""`dolbom device chat`: type as the senior and see what the robot says and would send.

The console runs the robot's own `Agent` with its default stages (consent filter, perception,
companion dialog) and typed words for ears (dolbom.text_ears): the safety-first dispatch, the
countdown and the stages are the robot's, not a copy. A simulated body and clock stand in for
the sensors and the day: `/touch hug`, `/present`, `/time 08:00` and friends. No network:
events stay in a private outbox and are printed (and listed by `/events`), never sent.
`--mic` runs the same agent on the live microphone (the robot's ears) and speaker instead.
"""

import asyncio
import json
import logging
import re
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from device.agent import Agent, Step
from device.config import DeviceConfig, load_config
from device.dialog.stage import DialogStage
from device.errors import DeviceError
from device.main import build_agent, default_stages
from device.outbox import Outbox
from device.sensors import Presence, Touch, TouchKind
from device.stages import Heard, StageContext
from dolbom.bilingual import fail, fail_with
from dolbom.text_ears import QuietSource, TextEars
from protocol import Command, CommandResult, CommandType, EventType
from protocol.events import SelfTest

STEP = timedelta(seconds=5)
"""The simulated clock ticks the agent every this often while time passes."""
TURN = timedelta(seconds=3)
"""Each line typed takes this much simulated time."""
MAX_JUMP = timedelta(days=2)
SETTLE_S = 60.0
"""Real seconds the console waits for the agent to catch up before it says the agent hangs."""
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
    """Simulated time that moves only when the console says so (read from the agent's thread)."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self.elapsed = timedelta()

    def monotonic(self) -> float:
        """Simulated seconds since the console started."""
        return self.elapsed.total_seconds()

    def now(self) -> datetime:
        """The simulated wall-clock time in UTC."""
        return self.start + self.elapsed


class _Mark:
    """An item the console posts to the agent: handled once everything posted before it was."""


class Probe:
    """The last stage: tells the console what the agent's loop has handled and ticked."""

    name = "console"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.started = False
        self.marks: set[int] = set()
        self.ticked_s = -1.0
        self.heard: list[str] = []

    def start(self, ctx: StageContext) -> None:
        """The agent listens."""
        with self._cond:
            self.started = True
            self._cond.notify_all()

    def handle(self, item: object, now_s: float) -> None:
        """Note the console's marks and what was heard."""
        with self._cond:
            if isinstance(item, _Mark):
                self.marks.add(id(item))
            elif isinstance(item, Heard):
                self.heard.append(item.utterance.text)
            self._cond.notify_all()

    def tick(self, now_s: float) -> None:
        """Note the loop's time."""
        with self._cond:
            self.ticked_s = now_s
            self._cond.notify_all()

    def on_command(self, command: Command) -> CommandResult | None:
        """No commands."""
        return None

    def self_tests(self) -> list[SelfTest]:
        """None."""
        return []

    def stop(self) -> None:
        """Nothing to close."""

    def wait(self, done: Any, what: str) -> None:
        """Block until `done()` (checked under the lock); DeviceError if the agent hangs."""
        with self._cond:
            if not self._cond.wait_for(done, timeout=SETTLE_S):
                raise DeviceError(f"the agent did not {what} within {SETTLE_S:.0f} s")


class ConsoleSpeaker:
    """The robot's voice as console lines, counted so the console can wait for them."""

    def __init__(self, console: Console) -> None:
        self.out = console
        self._cond = threading.Condition()
        self.said = 0

    def say(self, text: str, language: str) -> None:
        """Print the robot's words."""
        self.out.print(f"[bold green]robot[/] {escape(text)}")
        with self._cond:
            self.said += 1
            self._cond.notify_all()

    def wait_for(self, count: int) -> None:
        """Until `count` sentences have been said."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.said >= count, timeout=SETTLE_S):
                raise DeviceError(f"the robot did not finish speaking within {SETTLE_S:.0f} s")


class ChatConsole:
    """The robot's Agent on typed words and a simulated clock, with nothing leaving it."""

    def __init__(
        self, config: DeviceConfig, start: datetime, console: Console, tz: ZoneInfo
    ) -> None:
        self.config = config
        self.out = console
        self.tz = tz
        self.clock = ChatClock(start)
        self.ears = TextEars(config.language)
        self.probe = Probe()
        self.speaker = ConsoleSpeaker(console)
        stages = default_stages(config)
        self.dialog = next(s for s in stages if isinstance(s, DialogStage))
        self._says = 0  # "robot says" steps seen: the speaker must catch up with them
        self.agent = build_agent(
            config,
            source=QuietSource(),
            speaker=self.speaker,
            observer=self._observe,
            stages=[*stages, self.probe],
            clock=self.clock,
            listener=self.ears,
            offline=True,
        )
        self.outbox = Outbox(config.outbox_path, config.device_id)
        self.events: list[tuple[datetime, str, dict[str, Any]]] = []
        self._printed_seq = 0
        self.reminders: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def _observe(self, step: Step) -> None:
        if step.name == "robot says":
            self._says += 1

    # -- the agent's thread ---------------------------------------------------------------
    def start(self) -> None:
        """Run the agent on its own thread until `stop`; returns once it listens."""
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready.set()
            await self.agent.run(self._stop)

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), name="agent")
        self._thread.start()
        ready.wait(SETTLE_S)
        self.probe.wait(lambda: self.probe.started, "start")
        self.settle()

    def stop(self) -> None:
        """Stop the agent (the outbox keeps its events in the data dir)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(SETTLE_S)
        self.outbox.close()

    def settle(self) -> None:
        """Wait until the agent has handled everything so far at the clock's current time and
        said what it had to say; then print the events it wrote."""
        mark = _Mark()
        now_s = self.clock.monotonic()
        self.agent.post(mark)
        self.probe.wait(
            lambda: id(mark) in self.probe.marks and self.probe.ticked_s >= now_s, "catch up"
        )
        self.speaker.wait_for(self._says)
        self._print_events()

    def _print_events(self) -> None:
        for env in self.outbox.pending(100_000):
            if env.seq <= self._printed_seq:
                continue
            self._printed_seq = env.seq
            if env.type is EventType.HEARTBEAT:
                continue
            data = dict(env.payload)
            self.events.append((env.ts.astimezone(self.tz), str(env.type), data))
            text = json.dumps(data, ensure_ascii=False)
            self.out.print(f"  [dim]event[/] [cyan]{env.type}[/] {escape(text)}")

    # -- the console ------------------------------------------------------------------------
    def local(self) -> datetime:
        """The senior's local time."""
        return self.clock.now().astimezone(self.tz)

    def advance(self, delta: timedelta) -> None:
        """Let simulated time pass in steps, the agent catching up at each."""
        end = self.clock.elapsed + min(delta, MAX_JUMP)
        while self.clock.elapsed < end:
            self.clock.elapsed = min(self.clock.elapsed + STEP, end)
            self.settle()

    def post(self, item: object) -> None:
        """A sensor reading, as the body would post it."""
        self.agent.post(item)
        self.settle()

    def hear(self, text: str) -> None:
        """The senior said `text`: the agent hears it as it hears its recogniser."""
        seen = len(self.probe.heard)
        self.ears.hear(text)
        self.probe.wait(lambda: len(self.probe.heard) > seen, "hear the line")
        self.settle()
        self.advance(TURN)

    def command(self, kind: CommandType, payload: dict[str, Any]) -> bool:
        """A command as the cloud would send it; whether the robot accepted it."""
        command = Command(
            command_id=uuid.uuid4().hex,
            device_id=self.config.device_id,
            ts=self.clock.now(),
            type=kind,
            payload=payload,
        )
        result = self.agent.on_command(command)
        if not result.ok:
            self.out.print(f"[red]command refused:[/] {escape(result.detail)}")
        elif result.detail:
            self.out.print(f"  [dim]{escape(result.detail)}[/]")
        self.settle()
        return result.ok


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
        chat.post(Presence(True, now_s))
    elif name == "away":
        chat.post(Presence(False, now_s))
    elif name == "touch":
        kind, _, zone = rest.partition(" ")
        if (kind or "hug") not in {k.value for k in TouchKind}:
            raise ValueError("usage: /touch hug|pat|squeeze")
        chat.post(Touch(TouchKind(kind or "hug"), zone or "head", now_s))
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
        chat.command(CommandType.ALERT_ACK, {"by": rest or "보호자"})
    elif name == "events":
        for at, kind_, data in chat.events:
            text = json.dumps(data, ensure_ascii=False)
            out.print(f"{at:%H:%M:%S} [cyan]{kind_}[/] {escape(text)}")
    elif name == "history":
        for entry in chat.dialog.transcripts.entries():
            out.print(f"{entry['at'][11:19]} {entry['who']}: {escape(entry['text'])}")
    else:
        out.print(f"[red]unknown command /{escape(name)}[/] (try /help)")
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
        raise fail(
            f"--lang은 ko 또는 en이어야 합니다({lang!r})", f"--lang must be ko or en, not {lang!r}"
        )
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
        raise fail_with(e, "로봇을 시작하지 못했습니다") from None
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _run_console(cfg: DeviceConfig, console: Console, start: str | None) -> None:
    # The console shows what the robot says and sends; the agent's own log lines would
    # interleave with the typing (`-v` still shows debug logs of the rest).
    logging.getLogger("device").setLevel(logging.WARNING)
    tz = ZoneInfo(cfg.dialog.timezone)
    now = datetime.now(tz).replace(second=0, microsecond=0)
    if start is not None:
        found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", start.strip())
        if found is None:
            raise typer.BadParameter(f"not a time like 08:00: {start!r}", param_hint="--time")
        now = now.replace(hour=int(found.group(1)), minute=int(found.group(2)))
    chat_ = ChatConsole(cfg, now, console, tz)
    chat_.start()
    try:
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
    finally:
        chat_.stop()


def _run_live(cfg: DeviceConfig, console: Console) -> None:
    """The robot's agent (its ears, stages and consent filter) on the microphone and speaker,
    with no network link: events stay in the outbox of the data dir."""
    cfg = replace(cfg, audio=replace(cfg.audio, source="mic"))

    def show(step: Step) -> None:
        if step.name in ("heard", "robot says", "outbox", "trigger", "countdown"):
            console.print(f"[dim]{step.name}[/] {escape(step.detail)}")

    console.print("loading the speech model (a few seconds)...")
    agent: Agent = build_agent(cfg, observer=show, offline=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print("listening; speak to the robot (Ctrl-C stops)")
        await agent.run(stop)

    asyncio.run(main())
