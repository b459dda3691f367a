"""`dolbom sim`: Simulated robot bodies, scripted senior days and fleets (firmware_sim)."""

import logging
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from dolbom.bilingual import error_line
from dolbom.commands import fleet

app = typer.Typer(
    help="Simulated robot bodies, scripted senior days and fleets (firmware_sim).",
    no_args_is_help=True,
)
app.command("fleet")(fleet.fleet)

KST = timezone(timedelta(hours=9))


@app.command("robot")
def robot(
    seed: int = typer.Option(0, help="Same seed, same senior and same days."),
    speed: float = typer.Option(1.0, help="Simulated seconds per real second (1: real time)."),
    link: Path | None = typer.Option(
        None, help="Also make this symlink to the PTY (it survives a pulled UART cable)."
    ),
    hours: float = typer.Option(48.0, help="How many hours of the senior's days to plan."),
    battery: float = typer.Option(80.0, min=1, max=100, help="Battery level at the start, %."),
) -> None:
    """A virtual robot body on a PTY: the MCU speaking the serial protocol about a senior's day.

    Point a robot at the printed path ([hal] enabled = true, port = "PATH") and run
    `dolbom device run`. Type `help` for faults and incidents on demand (a fall, the
    button, line noise, an MCU reboot, a stuck sensor, a dying battery, a pulled cable).
    """
    from device.clock import ScaledClock
    from firmware_sim.body import Battery
    from firmware_sim.console import HELP, ConsoleError, parse_command
    from firmware_sim.mcu import VirtualMcu
    from firmware_sim.pty import PtyMcu
    from firmware_sim.world import World, WorldEvent, plan_days

    console = Console(soft_wrap=True)
    if speed <= 0:
        console.print(
            error_line("--speed는 0보다 커야 합니다", "--speed must be positive"),
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    start = datetime.now(KST)
    clock = ScaledClock(speed, start=start)
    segments, touches = plan_days(start, hours, np.random.default_rng(seed))
    world = World(segments, touches)

    def note(t_s: float, what: str) -> None:
        console.print(f"  [dim]{(start + timedelta(seconds=t_s)):%H:%M:%S}[/] mcu: {what}")

    mcu = VirtualMcu(world, seed, battery=Battery(battery, True), on_event=note)
    pty = PtyMcu(mcu, clock, link=link)
    path = pty.start()
    console.print(f"[bold]virtual MCU on {path}[/]  (seed {seed}, speed {speed:g}×)")
    console.print(f'  robot config:  \\[hal] enabled = true, port = "{path}"')
    console.print("  type help for faults and incidents on demand, quit (or Ctrl-C) to stop")
    done = threading.Event()
    try:
        while not done.is_set():
            line = sys.stdin.readline()
            if not line:  # stdin closed: run until Ctrl-C
                done.wait()
                break
            try:
                parsed = parse_command(line)
            except ConsoleError as e:
                console.print(f"[red]{e}[/]")
                continue
            if parsed is None:
                continue
            if parsed == "quit":
                break
            if parsed == "help":
                console.print(HELP)
            elif parsed == "status":
                now = clock.monotonic()
                seg = world.segment_at(now)
                console.print(
                    f"  {clock.now().astimezone(KST):%a %H:%M:%S}: {seg.label} ({seg.activity}, "
                    f"{seg.room}), battery {mcu.battery.percent:.0f} %, "
                    f"{mcu.stats.frames_sent} frames sent, {mcu.stats.boots} boots"
                )
            elif isinstance(parsed, tuple):
                kind, args = parsed
                event = WorldEvent(clock.monotonic(), kind, args)
                pty.with_mcu(lambda m, e=event: m.world.add(e))  # type: ignore[misc]
    except KeyboardInterrupt:
        pass
    finally:
        pty.stop()
    console.print("virtual MCU stopped")


@app.command("scenario")
def scenario(
    file: Path = typer.Argument(..., help="A scenario file (firmware_sim/scenarios/*.toml)."),
    speed: float | None = typer.Option(None, help="Override the scenario's speed (× real time)."),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
    workdir: Path = typer.Option(Path("var/scenario"), help="Scratch folder (emptied first)."),
) -> None:
    """Run the whole platform through a scenario; exit 1 if an expectation fails."""
    from dolbom.scenario import ScenarioRunError, fmt_offset, run_scenario
    from firmware_sim.scenario import ScenarioError, load_scenario

    console = Console(soft_wrap=True)
    if logging.getLogger().level > logging.DEBUG:  # the timeline is the output; -v shows logs
        logging.getLogger().setLevel(logging.WARNING)
    try:
        loaded = load_scenario(file)
        if speed is not None and speed <= 0:
            raise ScenarioError("--speed must be positive")
        console.rule(f"[bold]{loaded.name}")
        if loaded.description:
            console.print(" ".join(loaded.description.split()))
        console.print(
            f"start {loaded.start:%Y-%m-%d %H:%M %z}, {fmt_offset(loaded.duration_s)} at "
            f"{speed or loaded.speed:g}×, seed {loaded.seed if seed is None else seed}"
        )
        report = run_scenario(
            loaded, workdir, speed=speed, seed=seed, on_line=lambda line: console.print(line)
        )
    except (ScenarioError, ScenarioRunError) as e:
        console.print(
            f"시나리오 실행 실패 / scenario failed to run: {e}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("\n[yellow]stopped; everything was shut down[/]")
        raise typer.Exit(130) from None

    def at(t_s: float) -> str:
        return f"{(loaded.start + timedelta(seconds=t_s)):%a %H:%M:%S}"

    console.rule("[bold]the senior")
    table = Table(show_header=False, box=None)
    for t, what in report.senior:
        table.add_row(at(t), fmt_offset(t), what)
    console.print(table)
    console.rule("[bold]the robot's events (as the cloud stored them)")
    table = Table(show_header=False, box=None)
    for t, kind, priority, payload in report.events:
        text = ", ".join(f"{k}={v}" for k, v in payload.items() if k not in ("period_start",))
        table.add_row(at(t), fmt_offset(t), f"{kind} ({priority})", text[:90])
    console.print(table)
    console.rule("[bold]the caregiver's alerts")
    table = Table(show_header=False, box=None)
    for t, kind, severity, status in report.alerts:
        table.add_row(at(t), fmt_offset(t), kind, severity, status)
    console.print(table if report.alerts else "  no alerts")
    console.print(f"  {len(report.webhooks)} webhook call(s) received")
    console.rule("[bold]expectations")
    for c in report.checks:
        mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
        console.print(f"  {mark} {c.expectation.describe()} — {c.detail}")
    for note in report.notes:
        console.print(f"  note: {note}")
    console.print(
        f"ran {fmt_offset(loaded.duration_s)} of simulated time in {report.wall_s:.0f} s; "
        f"MCU sent {report.mcu.get('frames_sent', 0)} frames"
    )
    if not report.ok:
        raise typer.Exit(1)
    console.print(f"[green]all {len(report.checks)} expectations met[/]")
