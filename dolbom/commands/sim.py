"""`dolbom sim`: Simulated robot bodies, scripted senior days and fleets (firmware_sim)."""

import typer

app = typer.Typer(
    help="Simulated robot bodies, scripted senior days and fleets (firmware_sim).",
    no_args_is_help=True,
)
