"""`dolbom device ...`: the robot agent and its installer tools."""

import typer

from dolbom.commands import transcribe

app = typer.Typer(help="The on-device agent.", no_args_is_help=True)
app.command("transcribe")(transcribe.transcribe)
