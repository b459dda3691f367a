"""`dolbom research`: pilot studies, consent, metrics, statistics, exports and reports."""

import typer

app = typer.Typer(
    help="Pilot studies: consent, metrics, statistics, de-identified exports and reports.",
    no_args_is_help=True,
)
