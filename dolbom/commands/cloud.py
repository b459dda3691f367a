"""`dolbom cloud ...`: ingest, alerts and the caregiver API."""

import typer

app = typer.Typer(help="The cloud service.", no_args_is_help=True)
