"""`dolbom device ...`: the robot agent and its installer tools."""

from pathlib import Path

import typer

from dolbom.bilingual import fail_with
from dolbom.commands import chat, transcribe

app = typer.Typer(help="The on-device agent.", no_args_is_help=True)
app.command("transcribe")(transcribe.transcribe)
app.command("chat")(chat.chat)


@app.command("run")
def run(
    config: Path = typer.Option(..., "--config", "-c", help="The robot's TOML config file."),
) -> None:
    """Run the agent: listen, keep the senior safe, report to the cloud (Ctrl-C stops it)."""
    from device.config import load_config
    from device.errors import DeviceError
    from device.main import run_agent

    try:
        cfg = load_config(config)
        run_agent(cfg)
    except DeviceError as e:
        raise fail_with(e, "로봇을 시작하지 못했습니다") from None


@app.command("selftest")
def selftest(
    json_out: bool = typer.Option(False, "--json", help="One JSON object, for scripts."),
    speech: bool = typer.Option(True, help="Also load the Korean speech model (~550 MB)."),
) -> None:
    """Check every shipped model and the speech model on this machine (exit 1 on a failure)
    / 이 기기에서 모든 모델과 음성 인식 모델을 점검합니다 (실패하면 종료 코드 1)."""
    import json

    from device.selftest import peak_rss_mb, run_self_tests
    from protocol.release import version

    checks = run_self_tests(speech=speech)
    failed = [c for c in checks if not c.ok]
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "version": version(),
                    "ok": not failed,
                    "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                },
                ensure_ascii=False,
            )
        )
    else:
        for c in checks:
            typer.echo(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
        typer.echo(
            f"{len(checks) - len(failed)}/{len(checks)} passed / 통과"
            f" (peak RSS {peak_rss_mb():.0f} MB)"
        )
    if failed:
        raise typer.Exit(1)
