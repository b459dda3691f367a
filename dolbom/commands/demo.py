"""`dolbom demo`: the whole path on one laptop."""

import logging
from pathlib import Path

import typer
from rich.console import Console

from dolbom.demo import DemoError, run_demo, summary


def demo(
    workdir: Path = typer.Option(Path("var/demo"), help="Scratch folder (emptied first)."),
    timeout_s: float = typer.Option(60.0, help="How long to wait for the alert."),
) -> None:
    """Run the embedded broker, store, cloud, a webhook receiver and one simulated robot."""
    console = Console()
    if logging.getLogger().level > logging.DEBUG:  # the timeline is the output; -v shows logs
        logging.getLogger().setLevel(logging.WARNING)
    try:
        timeline = run_demo(console, workdir, timeout_s)
    except DemoError as e:
        console.print(f"[red]demo failed:[/] {e}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("\n[yellow]stopped; everything was shut down[/]")
        raise typer.Exit(130) from None
    console.rule("[bold]4. what happened")
    console.print(summary(timeline))
    console.print("All parts stopped. Nothing is left running.")
