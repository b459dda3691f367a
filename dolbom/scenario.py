"""`dolbom sim scenario`: the whole platform through a scripted stretch of a senior's life.

One process, 127.0.0.1 only: the embedded broker, the cloud (SQLite in a temp dir, ingest,
alerts) and a caregiver's webhook receiver; one robot agent whose body is a virtual MCU on
a PTY (its HAL speaks the serial protocol) and whose ears are a scripted audio source.
Everything runs on one ScaledClock: the MCU's sensor physics, the agent, and the cloud's
ingest and sweep. It prints what each party saw and checks the scenario's expectations.

Time and speech: speech recognition cannot run faster than the audio (Vosk's real-time
factor is ~0.35), so while a spoken line plays the clock runs at 1× and the clip is played
in real time; afterwards the run returns to its speed. If the host decodes slower than real
time (a loaded CI box), simulated time is held still after the clip until the utterance is
heard (at most HEARD_WAIT_S real seconds), so a slow decoder is not a late answer. Around
incidents (falls, the help button, faults, spoken lines: every scripted event but a touch)
the clock runs at most `incident_speed` (30× by default): the pipeline's real-time
latencies (detection, MQTT, ingest, tens of milliseconds) then stay small in simulated time,
so "an alert within 60 s of the fall" measures the design, not the speed-up.

Simulated time waits for the robot (a barrier, not a race): the clock never reads more than
a slack past the time up to which the robot's HAL has read everything the virtual MCU sent
and its agent has handed every reading the HAL posted to the stages (perception included).
The slack is a third of the robot's silent-MCU timeout (1 s of the default 3 s) at incident
speeds, so there an MCU that sent is never taken for a silent one, whatever the host does;
at the calm stretches' high speeds it is 20 ms of real time's worth (12 s at 600×, 48 s at
2400×), since a barrier of 1 s per round trip between two threads would cap the run near
300×. There a host stall still holds simulated time after that much, and the HAL counts no
stalled read as listening, so the stall is not taken for silence either. A host stall under
load (a descheduled process, a busy core) then holds simulated time still instead of
turning into minutes of simulated silence and a false `mcu_silent`. If the robot does not
catch up within GATE_LIMIT_S real seconds the run fails loudly (ScenarioRunError) rather
than letting time run on.
"""

import asyncio
import contextlib
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store.models import Alert, AlertKind, Device, Event
from device.agent import Agent, Step
from device.agent import State as AgentState
from device.audio.asr import load_model
from device.audio.pipeline import Utterance
from device.audio.source import ScriptedSource
from device.clock import ScaledClock
from device.config import DeviceConfig, HalConfig, MqttConfig, SafetyConfig
from device.errors import DeviceError
from device.hal.stage import HalStage
from device.main import build_agent, default_stages
from device.safety.countdown import Trigger
from device.speech.tts import EspeakSpeaker, PrintSpeaker
from dolbom.embedded_broker import EmbeddedBroker
from dolbom.webhook_receiver import WebhookReceiver
from firmware_sim.body import Battery
from firmware_sim.mcu import VirtualMcu
from firmware_sim.pty import PtyMcu
from firmware_sim.scenario import Expectation, Scenario, ScenarioError
from firmware_sim.world import EventKind, WorldEvent
from protocol import Command, EventType

log = logging.getLogger(__name__)

DEVICE_ID = "sim-robot-01"
CLIP_SETTLE_S = 2.5  # real seconds at 1× after a clip: VAD hangover, final decode, reaction
HEARD_WAIT_S = 30.0  # then real seconds, time held, for a slow host's decoder to finish it
DRAIN_S = 15.0  # real seconds at most for the last events to reach the cloud
MAX_SENSOR_LAG_S = 60.0  # IMU readings may reach perception this late (simulated seconds)
GATE_SLACK = 1 / 3  # simulated time may run this share of the silent-MCU timeout ahead...
GATE_AHEAD_REAL_S = 0.02  # ...or, if more, this much real time's worth at the current speed
GATE_LIMIT_S = 120.0  # real seconds the robot may hold simulated time still before the run fails
GATE_POLL_S = 0.002  # the virtual MCU's step while paced (real seconds): the barrier's grain
# the recogniser's probe (~60 ms of CPU) once per this many real seconds at the calm speed: the
# robot's every 10 min of simulated time was 4 probes a second at 2400x, ~9 % of the run's CPU
ASR_PROBE_EVERY_REAL_S = 10.0
_CALM = (EventKind.TOUCH,)  # every other event is an incident: time slows around it


class ScenarioRunError(Exception):
    """The scenario could not be run (not: an expectation failed)."""


@dataclass(frozen=True)
class Check:
    """One expectation and whether the run met it."""

    expectation: Expectation
    ok: bool
    detail: str


@dataclass
class ScenarioReport:
    """What each party saw, on the scenario's time axis (seconds from its start)."""

    scenario: Scenario
    speed: float
    seed: int
    senior: list[tuple[float, str]] = field(default_factory=list)
    robot: list[tuple[float, str, str]] = field(default_factory=list)
    events: list[tuple[float, str, str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[tuple[float, str, str, str]] = field(default_factory=list)
    webhooks: list[tuple[float, str]] = field(default_factory=list)
    heard: list[float] = field(default_factory=list)
    mcu: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every expectation was met."""
        return all(c.ok for c in self.checks)


def validate_kinds(scenario: Scenario) -> None:
    """Alert kinds and event types named by expectations must exist (a typo would always pass)."""
    alerts = {k.value for k in AlertKind} | {"any"}
    events = {t.value for t in EventType} | {"any"}
    for i, e in enumerate(scenario.expectations, 1):
        names = alerts if e.kind in ("alert", "no_alert") else events
        if e.kind != "heard" and e.what not in names:
            raise ScenarioError(
                f"{scenario.path}: expect #{i}: {e.what!r} is not one of {', '.join(sorted(names))}"
            )


def synthesize_lines(scenario: Scenario, clips_dir: Path) -> dict[int, Path]:
    """The spoken lines as WAV files: given clips as they are, texts through espeak-ng."""
    out: dict[int, Path] = {}
    speaker: EspeakSpeaker | None = None
    for i, event in enumerate(scenario.spoken):
        clip = event.arg("clip")
        if clip is not None:
            out[i] = Path(clip)
            continue
        if speaker is None:
            try:
                speaker = EspeakSpeaker()
            except DeviceError as e:
                raise ScenarioRunError(f"spoken lines need espeak-ng: {e}") from None
        clips_dir.mkdir(parents=True, exist_ok=True)
        path = clips_dir / f"line{i:02d}.wav"
        language = str(event.arg("language", scenario.language))
        speaker.synthesize(str(event.arg("text")), language, str(path))
        out[i] = path
    return out


class _Pacer:
    """Moves simulated time forward to a target, slowing down around incidents.

    Backpressure: `lag()` says how far the slowest party is behind the clock (the cloud's
    newest heartbeat from the robot, the IMU readings reaching perception); past `max_lag`
    the clock runs at a tenth of its speed until they have caught up. On a busy machine a
    0.1 s hiccup is minutes of simulated time at 2000×: without this the cloud would see
    the robot go offline, or a fall be detected late, when only the host had stalled.
    """

    def __init__(
        self,
        clock: ScaledClock,
        scenario: Scenario,
        speed: float,
        lag: Callable[[], float] = lambda: 0.0,
        max_lag: float = float("inf"),
    ) -> None:
        self.clock = clock
        self.speed = speed
        self.lag = lag
        self.max_lag = max_lag
        self.slowed_s = 0.0  # real seconds spent held back by the lag
        slow = min(speed, scenario.incident_speed)
        self.windows = [
            (e.at_s - 2.0 * slow, e.at_s + scenario.incident_window_s, slow)
            for e in scenario.events
            if e.kind not in _CALM
        ]

    def speed_at(self, t_s: float) -> float:
        for start, end, slow in self.windows:
            if start <= t_s < end:
                return slow
        return self.speed

    def next_change(self, t_s: float) -> float:
        edges = [x for start, end, _ in self.windows for x in (start, end) if x > t_s]
        return min(edges, default=float("inf"))

    def run_until(self, target_s: float, alive: Callable[[], None]) -> None:
        """Return when the clock reads `target_s`; `alive()` raises if a part has died."""
        while True:
            now = self.clock.monotonic()
            if now >= target_s:
                return
            want = self.speed_at(now)
            if self.lag() > self.max_lag:
                want = max(1.0, want / 10)
                self.slowed_s += 0.05
            if self.clock.speed != want:
                self.clock.set_speed(want)
            until = min(target_s, self.next_change(now))
            time.sleep(min(0.05, max(0.001, self.clock.real_seconds_until(until))))
            alive()


def run_scenario(
    scenario: Scenario,
    workdir: Path,
    *,
    speed: float | None = None,
    seed: int | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ScenarioReport:
    """Run the scenario through the whole platform and check its expectations."""
    validate_kinds(scenario)
    speed = scenario.speed if speed is None else speed
    seed = scenario.seed if seed is None else seed
    if speed <= 0:
        raise ScenarioRunError(f"speed must be positive, not {speed}")
    say = on_line or (lambda _line: None)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    report = ScenarioReport(scenario, speed, seed)
    clips = synthesize_lines(scenario, workdir / "clips")
    load_model()  # once per process: ~2.5 s; runs after the first share it
    clock = ScaledClock(1.0, start=scenario.start)  # real time until every part is up
    stack: list[Callable[[], None]] = []
    lock = threading.Lock()
    stop = asyncio.Event()
    loop_ref: list[asyncio.AbstractEventLoop] = []
    agent_error: list[BaseException] = []
    agent_thread: threading.Thread | None = None
    pacer: _Pacer | None = None
    died = threading.Event()
    wall0 = time.monotonic()

    def robot_step(step: Step) -> None:
        with lock:
            report.robot.append((clock.monotonic(), step.name, step.detail))
            if step.name == "heard" and not step.detail.startswith("early"):
                report.heard.append(clock.monotonic())
        if step.name not in ("outbox", "mcu", "hal"):
            say(f"  {_hms(clock.monotonic())}  robot   {step.name}: {step.detail}")

    try:
        broker = EmbeddedBroker()
        broker.start()
        stack.append(broker.stop)
        secret, token = secrets.token_hex(16), secrets.token_urlsafe(24)
        receiver = WebhookReceiver(secret).start()
        stack.append(receiver.stop)
        settings = CloudSettings(
            database_url=f"sqlite:///{workdir / 'cloud.sqlite3'}",
            mqtt_port=broker.port,
            mqtt_protocol="3.1.1",
            mqtt_shared=False,  # amqtt delivers nothing to $share subscriptions
            webhook_urls=[receiver.url],
            webhook_secret=SecretStr(secret),
            api_token=SecretStr(token),
            http_port=0,
            webhook_backoff_s=0.2,
            escalation_poll_s=0.2,
            sweep_interval_s=60.0,
        )
        # Ingest and escalation run on simulated time; the webhook dispatcher stays on the
        # wall clock (receivers check signature timestamps against theirs).
        cloud = CloudService(settings, clock=clock.now)
        cloud.start(mqtt_wait_s=10)
        stack.append(cloud.stop)

        world = scenario.world(seed)
        for s in world.segments:
            extra = (", band" if s.band else "") + (", visitors" if s.visitors else "")
            report.senior.append((s.start_s, f"{s.label} ({s.activity}, {s.room}{extra})"))
        for e in scenario.events:
            report.senior.append((e.at_s, _describe(e)))
        report.senior.sort(key=lambda x: x[0])
        battery = Battery(scenario.robot.battery_pct, scenario.robot.plugged)
        mcu = VirtualMcu(world, seed, battery=battery)
        pty = PtyMcu(
            mcu, clock, link=workdir / "mcu.tty", on_power_off=died.set, poll_s=GATE_POLL_S
        )
        port = pty.start()
        stack.append(pty.stop)
        say(f"virtual MCU on {port} ({pty.pts})")

        config = DeviceConfig(
            device_id=DEVICE_ID,
            data_dir=workdir / "robot",
            language="en" if scenario.language == "en" else "ko",
            speech_out="print",
            heartbeat_interval_s=scenario.robot.heartbeat_interval_s,
            asr_check_every_s=max(600.0, speed * ASR_PROBE_EVERY_REAL_S),
            mqtt=MqttConfig(port=broker.port, protocol="3.1.1", reconnect_max_s=2.0),
            safety=SafetyConfig(countdown_s=scenario.robot.countdown_s),
            hal=HalConfig(
                enabled=True, port=port, silent_timeout_s=scenario.robot.silent_timeout_s
            ),
        )
        played: dict[Path, threading.Event] = {}
        source = ScriptedSource(
            [], realtime=True, idle=True,
            on_clip_end=lambda path, _at: played.setdefault(path, threading.Event()).set(),
        )  # fmt: skip
        stages = default_stages(config)
        hal = next(s for s in stages if isinstance(s, HalStage))
        agent: Agent = build_agent(
            config,
            source=source,
            speaker=PrintSpeaker(lambda text: None),
            observer=robot_step,
            stages=stages,
            clock=clock,
        )
        backlog = _Backlog(agent, hal)

        def run_agent() -> None:
            async def main() -> None:
                loop_ref.append(asyncio.get_running_loop())
                await agent.run(stop)

            try:
                asyncio.run(main())
            except BaseException as e:
                agent_error.append(e)

        agent_thread = threading.Thread(target=run_agent, name="robot", daemon=True)
        agent_thread.start()
        ready_by = time.monotonic() + 30.0
        while agent.state is not AgentState.LISTENING:
            if agent_error or time.monotonic() > ready_by:
                raise ScenarioRunError(f"the robot did not start: {agent_error or 'timeout'}")
            time.sleep(0.05)
        time.sleep(1.0)  # the link and the HAL open their connections
        log.info("scenario %s: every part is up; simulated time starts", scenario.name)

        def alive() -> None:
            if agent_error:
                raise ScenarioRunError(f"the robot's agent failed: {agent_error[0]!r}")
            if pty.error is not None:
                raise ScenarioRunError(f"the virtual MCU failed: {pty.error!r}")
            held = clock.held_real_s()
            if held > GATE_LIMIT_S:
                raise ScenarioRunError(
                    f"simulated time waited {held:.0f} s (real) at {_hms(clock.monotonic())}"
                    " for the robot's HAL to read what the virtual MCU sent; it never caught up"
                )
            if died.is_set() and loop_ref and not stop.is_set():
                say(f"  {_hms(clock.monotonic())}  robot   power lost: the robot shuts down")
                _stop_agent(loop_ref[0], stop)
            with lock:
                seen = len(report.webhooks)
                for hook in receiver.received[seen:]:
                    report.webhooks.append((clock.monotonic(), str(hook.body.get("kind", "?"))))
                    say(f"  {_hms(clock.monotonic())}  caregiver webhook: {hook.body.get('kind')}")

        hb_lag_s = 3 * scenario.robot.heartbeat_interval_s

        def lag() -> float:
            """How far behind the clock the robot is, in units of what it may lag."""
            if died.is_set() or stop.is_set():
                return 0.0
            with cloud.sessions() as session:
                last = session.scalar(
                    select(Device.last_heartbeat_at).where(Device.id == DEVICE_ID)
                )
            heartbeat = 0.0 if last is None else (clock.now() - last).total_seconds()
            return max(heartbeat / hb_lag_s, hal.lag_s / MAX_SENSOR_LAG_S)

        pacer = _Pacer(clock, scenario, speed, lag, 1.0)
        min_slack_s = GATE_SLACK * scenario.robot.silent_timeout_s

        confirmed = [0.0]

        def gate() -> float:
            """Simulated time may not pass what the robot has taken in, plus the slack.

            Taken in: the HAL has read all the virtual MCU sent (the PTY barrier) and the
            agent's stages (perception among them) have handled every reading the HAL posted.
            """
            if died.is_set() or stop.is_set():
                return float("inf")  # the robot is gone: nobody to wait for
            caught_up = pty.caught_up_s()
            if backlog.empty():
                confirmed[0] = max(confirmed[0], caught_up)
            return confirmed[0] + max(min_slack_s, clock.speed * GATE_AHEAD_REAL_S)

        clock.set_gate(gate)
        for i, line in enumerate(scenario.spoken):
            pacer.run_until(line.at_s, alive)
            clock.set_speed(1.0)  # speech is heard in real time
            clip = clips[i]
            say(f"  {_hms(clock.monotonic())}  senior  says {_describe(line)}")
            done = played.setdefault(clip, threading.Event())
            done.clear()
            with lock:
                heard_before = len(report.heard)
            source.say(clip)
            if not done.wait(60.0):
                raise ScenarioRunError(f"the clip {clip} did not finish playing")
            deadline = time.monotonic() + CLIP_SETTLE_S
            while time.monotonic() < deadline:
                time.sleep(0.05)
                alive()
            # a loaded host decodes slower than real time: simulated time waits for the ears
            # (held still) instead of running on while the utterance is still being decoded
            clock.set_speed(0.0)
            deadline = time.monotonic() + HEARD_WAIT_S
            while time.monotonic() < deadline:
                with lock:
                    if len(report.heard) > heard_before:
                        break
                time.sleep(0.05)
                alive()
        pacer.run_until(scenario.duration_s, alive)
        clock.set_speed(1.0)
        log.info("scenario %s: the end; draining", scenario.name)
        _drain(cloud, agent, alive)
        report.wall_s = time.monotonic() - wall0
        log.info("scenario %s: drained; stopping", scenario.name)
    finally:
        clock.set_gate(None)  # the robot stops reading: time must not wait for it any more
        if loop_ref:
            _stop_agent(loop_ref[0], stop)
        if agent_thread is not None:
            agent_thread.join(15)
        for stop_part in reversed(stack):
            try:
                stop_part()
            except Exception:
                log.exception("stopping a part of the scenario failed")
    log.info("scenario %s: stopped", scenario.name)
    _collect(report, cloud, scenario)
    report.mcu = {
        "frames_sent": mcu.stats.frames_sent,
        "bytes_sent": mcu.stats.bytes_sent,
        "bits_flipped": mcu.stats.bits_flipped,
        "bytes_dropped": mcu.stats.bytes_dropped,
        "boots": mcu.stats.boots,
        "led_changes": len(mcu.stats.led_changes),
        "pty_overflow_bytes": pty.tx_overflow_bytes,
    }
    if pacer is not None and pacer.slowed_s:
        report.notes.append(f"held back {pacer.slowed_s:.1f} s (real) for the robot to keep up")
    report.checks = [check(e, report) for e in scenario.expectations]
    return report


class _Backlog:
    """Readings the robot's stages posted that its agent has not yet handed to the stages.

    Counted at the composition root, without the agent's help: the instance's `post` (what
    stages call) and the HAL stage's `handle` (which the agent calls with every posted
    reading) are wrapped. Triggers, commands and utterances never reach `handle`: not counted.
    """

    def __init__(self, agent: Agent, hal: HalStage) -> None:
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        post, handle = agent.post, hal.handle

        def counting_post(item: object) -> None:
            if not isinstance(item, Trigger | Command | Utterance):
                with self._lock:
                    self._pending.add(id(item))
            post(item)

        def counting_handle(item: object, now_s: float) -> None:
            try:
                handle(item, now_s)
            finally:
                with self._lock:
                    self._pending.discard(id(item))

        agent.post = counting_post  # type: ignore[method-assign]
        hal.handle = counting_handle  # type: ignore[method-assign]

    def empty(self) -> bool:
        with self._lock:
            return not self._pending


def _stop_agent(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Ask the agent's loop to stop, unless it already has."""
    if not loop.is_closed():
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            loop.call_soon_threadsafe(stop.set)


def _drain(cloud: CloudService, agent: Agent, alive: Callable[[], None]) -> None:
    """Wait (real time) until the robot's outbox is empty or DRAIN_S has passed."""
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        alive()
        if agent.state.value in ("stopping", "stopped") or agent.outbox_pending == 0:
            time.sleep(0.5)  # ingest and alerting after the last PUBACK
            return
        time.sleep(0.1)


def _collect(report: ScenarioReport, cloud: CloudService, scenario: Scenario) -> None:
    start = scenario.start
    with cloud.sessions() as session:
        for ev in session.scalars(select(Event).order_by(Event.ts, Event.seq)):
            if ev.type == EventType.HEARTBEAT.value:
                continue
            at = (ev.ts - start).total_seconds()
            report.events.append((at, ev.type, ev.priority, dict(ev.payload)))
        for alert in session.scalars(select(Alert).order_by(Alert.created_at)):
            at = (alert.created_at - start).total_seconds()
            report.alerts.append((at, str(alert.kind), str(alert.severity), str(alert.status)))
            # a repeat of an alert that is still open raises it again (the cloud dedupes)
            for tr in alert.transitions:
                if tr.note and tr.note.startswith("repeat"):
                    again = (tr.at - start).total_seconds()
                    report.alerts.append((again, str(alert.kind), str(alert.severity), tr.note))
        report.alerts.sort(key=lambda a: a[0])
        device = session.get(Device, DEVICE_ID)
        failed = (device.last_heartbeat or {}).get("failed_self_tests") if device else None
        if failed:
            report.notes.append(f"the robot's last heartbeat failed self-tests: {failed}")


def check(e: Expectation, report: ScenarioReport) -> Check:
    """Evaluate one expectation against what the run saw."""
    scenario = report.scenario
    t0 = scenario.event_time(e.after) if e.after else 0.0
    t1 = t0 + e.within_s if e.within_s is not None else float("inf")
    window = f"[{_hms(t0)}, {_hms(t1) if t1 != float('inf') else 'end'}]"
    if e.kind in ("alert", "no_alert"):
        hits = [
            (at, kind)
            for at, kind, _sev, _st in report.alerts
            if (e.what == "any" or kind == e.what) and t0 <= at <= t1
        ]
        if e.kind == "alert":
            if hits:
                return Check(e, True, f"{hits[0][1]} alert at {_hms(hits[0][0])}")
            return Check(e, False, f"no {e.what} alert in {window}; alerts: {_alert_list(report)}")
        if hits:
            return Check(e, False, f"{len(hits)} alert(s): {_alert_list(report, hits)}")
        return Check(e, True, f"none in {window}")
    if e.kind in ("event", "no_event"):
        found = [
            (at, kind, payload)
            for at, kind, _p, payload in report.events
            if (e.what == "any" or kind == e.what)
            and t0 <= at <= t1
            and all(str(payload.get(k)) == v for k, v in e.filters.items())
        ]
        if e.kind == "event":
            if found:
                at, kind, payload = found[0]
                return Check(e, True, f"{kind} at {_hms(at)}: {_short(payload)}")
            seen = sorted({kind for _at, kind, _p, _pl in report.events})
            return Check(e, False, f"none in {window}; event types seen: {', '.join(seen)}")
        if found:
            at, kind, payload = found[0]
            return Check(e, False, f"{len(found)}, first {kind} at {_hms(at)}: {_short(payload)}")
        return Check(e, True, f"none in {window}")
    heard = [at for at in report.heard if t0 <= at <= t1]
    if heard:
        return Check(e, True, f"an utterance ended at {_hms(heard[0])}")
    return Check(e, False, f"no utterance in {window}")


def _alert_list(report: ScenarioReport, hits: list[tuple[float, str]] | None = None) -> str:
    items = hits if hits is not None else [(at, kind) for at, kind, _s, _st in report.alerts]
    return ", ".join(f"{kind}@{_hms(at)}" for at, kind in items) or "none"


def _short(payload: dict[str, Any]) -> str:
    keep = {k: v for k, v in payload.items() if k not in ("period_start", "period_end")}
    text = ", ".join(f"{k}={v}" for k, v in keep.items())
    return text[:120]


def _describe(e: WorldEvent) -> str:
    args = ", ".join(f"{k}={v}" for k, v in e.args.items() if k not in ("clip",))
    if e.kind is EventKind.SAY:
        text = e.arg("text")
        return f"“{text}”" if text else f"the recording {Path(str(e.arg('clip'))).name}"
    label = f" [{e.id}]" if e.id else ""
    return f"{e.kind}{label}" + (f" ({args})" if args else "")


def _hms(t_s: float) -> str:
    sign = "-" if t_s < 0 else "+"
    t = abs(round(t_s))
    d, rest = divmod(t, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{d}d{h:02d}:{m:02d}:{s:02d}" if d else f"{sign}{h:02d}:{m:02d}:{s:02d}"


def fmt_offset(t_s: float) -> str:
    """An offset on the scenario's axis, for people."""
    return _hms(t_s)
