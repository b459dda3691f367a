"""`dolbom protocol ...`: the wire contract."""

import json
from pathlib import Path

import typer

from protocol.schema import contract_schema

app = typer.Typer(help="The wire contract between robots and the cloud.", no_args_is_help=True)


@app.command("schema")
def schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file, not stdout."),
) -> None:
    """Write the JSON Schema of the envelope, every payload, commands and results."""
    text = json.dumps(contract_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
