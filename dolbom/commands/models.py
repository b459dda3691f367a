"""`dolbom models`: Train, evaluate, export and document the on-device ONNX models."""

import typer

app = typer.Typer(
    help="Train, evaluate, export and document the on-device ONNX models.", no_args_is_help=True
)
