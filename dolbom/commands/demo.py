"""`dolbom demo`: the whole path on one laptop, then the caregivers' app with demo logins."""

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cloud.service import CloudService
from dolbom.demo import DemoError, Timeline, run_demo, summary


class _Hold:
    """After the story: the demo's people get logins and the app stays up until Ctrl-C."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, timeline: Timeline, cloud: CloudService, api: str, device_id: str) -> None:
        from dolbom.demo_logins import seed_demo_logins

        console = self.console
        console.rule("[bold]4. what happened")
        console.print(summary(timeline))
        logins = seed_demo_logins(cloud.sessions, device_id, datetime.now(UTC))
        console.rule("[bold]5. 돌봄 앱 / the caregivers' app")
        table = Table(title=f"{api}/app/  (이번 실행에서만 유효 / valid for this run only)")
        table.add_column("누구 / who")
        table.add_column("아이디 / username")
        table.add_column("비밀번호 / password")
        for login in logins:
            table.add_row(f"{login.who_ko} / {login.who_en}", login.username, login.password)
        console.print(table)
        console.print(
            "앱이 실행 중입니다. 끝내려면 Ctrl-C를 누르세요."
            " / The app is running; press Ctrl-C to stop."
        )
        threading.Event().wait()  # Ctrl-C: run_demo stops every part, the command says so


def demo(
    workdir: Path = typer.Option(Path("var/demo"), help="Scratch folder (emptied first)."),
    timeout_s: float = typer.Option(60.0, help="How long to wait for the alert."),
    serve: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="Afterwards keep the caregivers' app running with demo logins until Ctrl-C.",
    ),
) -> None:
    """Run the embedded broker, store, cloud, a webhook receiver and one simulated robot."""
    console = Console()
    if logging.getLogger().level > logging.DEBUG:  # the timeline is the output; -v shows logs
        logging.getLogger().setLevel(logging.WARNING)
    try:
        timeline = run_demo(console, workdir, timeout_s, hold=_Hold(console) if serve else None)
    except DemoError as e:
        console.print(f"[red]데모 실패 / demo failed:[/] {e}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print(
            "\n[yellow]멈췄습니다; 모두 종료했습니다 / stopped; everything was shut down[/]"
        )
        raise typer.Exit(130) from None
    if not serve:
        console.rule("[bold]4. what happened")
        console.print(summary(timeline))
    console.print("모든 부분을 멈췄습니다 / All parts stopped. Nothing is left running.")
