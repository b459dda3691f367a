"""The `dolbom` command: one subcommand per deployable part."""

import logging

import typer

from dolbom.commands import cloud, demo, device, models, protocol, provision, research, sim

app = typer.Typer(
    name="dolbom",
    help="돌봄 dolbom — an offline companion robot for seniors and a cloud for caregivers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(protocol.app, name="protocol")
app.add_typer(device.app, name="device")
app.add_typer(cloud.app, name="cloud")
app.add_typer(provision.app, name="provision")
app.add_typer(sim.app, name="sim")
app.add_typer(models.app, name="models")
app.add_typer(research.app, name="research")
app.command("demo")(demo.demo)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logs.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console-script entry point."""
    app()
