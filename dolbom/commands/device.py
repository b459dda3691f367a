"""`dolbom device ...`: the robot agent and its installer tools."""

from pathlib import Path

import typer

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
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
