"""`dolbom models`: Train, evaluate, export and document the on-device ONNX models."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from dolbom.bilingual import fail_with

app = typer.Typer(
    help="Train, evaluate, export and document the on-device ONNX models.", no_args_is_help=True
)
predict_app = typer.Typer(help="Run a shipped model on your own input.", no_args_is_help=True)
app.add_typer(predict_app, name="predict")

_NAME = typer.Argument(..., help="The model: activity (with the fall detector), emotion or sound.")
_WORK = typer.Option(
    None, "--work-dir", help="Where training leaves its models [models/build/NAME]."
)
_OUT = typer.Option(None, "--out", help="The artifacts folder [models/artifacts].")


def _fail(message: str, code: int = 2) -> typer.Exit:
    return fail_with(message, "모델 작업에 실패했습니다", code)


class _RichTask:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, steps: float = 1.0) -> None:
        self._progress.advance(self._id, steps)


class _RichProgress:
    """models.registry.Progress as rich progress bars on stderr."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress

    def task(self, description: str, total: float) -> _RichTask:
        return _RichTask(self._progress, self._progress.add_task(description, total=total))


@contextmanager
def _progress() -> Iterator[_RichProgress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        yield _RichProgress(bar)


def _recipe(name: str) -> Any:
    from models.errors import ModelsError
    from models.registry import get

    try:
        return get(name)
    except ModelsError as e:
        raise _fail(str(e)) from None


def _dirs(name: str, work_dir: Path | None, out: Path | None) -> tuple[Path, Path]:
    from models.artifact import ARTIFACTS_DIR
    from models.registry import work_dir as default_work

    return work_dir or default_work(name), out or ARTIFACTS_DIR


@app.command("list")
def list_models(
    out: Path | None = _OUT,
) -> None:
    """The registered recipes and the shipped artifacts (from the manifest)."""
    from models.artifact import ARTIFACTS_DIR, MANIFEST_NAME
    from models.registry import RECIPES

    for name in sorted(RECIPES):
        typer.echo(f"recipe {name}")
    manifest = (out or ARTIFACTS_DIR) / MANIFEST_NAME
    if manifest.is_file():
        for entry in json.loads(manifest.read_text(encoding="utf-8")).get("models", []):
            typer.echo(
                f"artifact {entry['name']} {entry['version']} {entry['size_bytes']} bytes"
                f" sha256 {entry['sha256'][:12]}…"
            )


@app.command("train")
def train(
    name: str = _NAME,
    seed: int = typer.Option(7, "--seed", help="Everything random follows from this."),
    work_dir: Path | None = _WORK,
) -> None:
    """Build the data from the seed and fit the model(s); results go to the work folder."""
    from models.errors import ModelsError

    recipe = _recipe(name)
    work, _ = _dirs(name, work_dir, None)
    started = time.monotonic()
    try:
        with _progress() as progress:
            summary = recipe.train(seed, progress, work)
    except ModelsError as e:
        raise _fail(str(e)) from None
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    typer.echo(f"trained {name} in {time.monotonic() - started:.0f} s → {work}", err=True)


@app.command("evaluate")
def evaluate(name: str = _NAME, work_dir: Path | None = _WORK) -> None:
    """Metrics of the trained model(s) and the baseline on the held-out split (JSON)."""
    from models.errors import ModelsError

    recipe = _recipe(name)
    work, _ = _dirs(name, work_dir, None)
    try:
        with _progress() as progress:
            metrics = recipe.evaluate(work, progress)
    except ModelsError as e:
        raise _fail(str(e)) from None
    typer.echo(json.dumps(metrics, indent=2, ensure_ascii=False))


@app.command("export")
def export(
    name: str = _NAME,
    work_dir: Path | None = _WORK,
    out: Path | None = _OUT,
    version: str | None = typer.Option(None, "--version", help="Semantic version to ship as."),
) -> None:
    """Write .onnx + sidecar JSON for the evaluated model(s) and rebuild the manifest."""
    from models.errors import ModelsError

    recipe = _recipe(name)
    work, out_dir = _dirs(name, work_dir, out)
    try:
        paths = recipe.export(work, out_dir, version)
    except ModelsError as e:
        raise _fail(str(e)) from None
    for path in paths:
        typer.echo(f"wrote {path}")


@app.command("card")
def card(name: str = _NAME, out: Path | None = _OUT) -> None:
    """Write the Markdown model card(s) in models/cards/ from the exported sidecars."""
    from models.errors import ModelsError

    recipe = _recipe(name)
    _, out_dir = _dirs(name, None, out)
    try:
        text = recipe.card(out_dir)
    except ModelsError as e:
        raise _fail(str(e)) from None
    typer.echo(text)


@app.command("build")
def build(
    name: str = _NAME,
    seed: int = typer.Option(7, "--seed"),
    work_dir: Path | None = _WORK,
    out: Path | None = _OUT,
    version: str | None = typer.Option(None, "--version"),
) -> None:
    """train, evaluate, export and card in one go."""
    from models.errors import ModelsError

    recipe = _recipe(name)
    work, out_dir = _dirs(name, work_dir, out)
    started = time.monotonic()
    try:
        with _progress() as progress:
            recipe.train(seed, progress, work)
            recipe.evaluate(work, progress)
        paths = recipe.export(work, out_dir, version)
        recipe.card(out_dir)
    except ModelsError as e:
        raise _fail(str(e)) from None
    for path in paths:
        typer.echo(f"wrote {path}")
    typer.echo(f"built {name} in {time.monotonic() - started:.0f} s", err=True)


@predict_app.command("activity")
def predict_activity(
    imu: Path = typer.Option(..., "--imu", help="CSV: t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="[models/artifacts]"),
) -> None:
    """Activity per 2 s window (hop 1 s) and every detected fall, as the robot computes them.

    Input at 10-400 Hz, regular or not, is resampled to 50 Hz first (the robot's code)."""

    from device.perception.imu_features import resample, stretch_starts
    from device.perception.loader import SHIPPED_DIR, ModelLoadError, load_named
    from device.perception.motion import (
        ACTIVITY_EXPECT,
        FALL_EXPECT,
        FallDetected,
        MotionAnalyzer,
        WindowResult,
    )
    from models.data.imu_csv import read_imu_csv
    from models.errors import DataError

    try:
        t, samples = read_imu_csv(imu)
    except DataError as e:
        raise _fail(str(e)) from None
    directory = models_dir or SHIPPED_DIR
    try:
        activity = load_named(directory, "activity", expect=ACTIVITY_EXPECT)
        fall = load_named(directory, "fall", expect=FALL_EXPECT)
    except ModelLoadError as e:
        raise _fail(str(e)) from None
    analyzer = MotionAnalyzer(activity, fall)
    # irregular, bursty or 25 Hz input is resampled to 50 Hz as on the robot; a hole of more
    # than a second (the band out of reach) starts the windows afresh at the file's times
    results: list[WindowResult | FallDetected] = []
    for t0, part in zip(stretch_starts(t), resample(t, samples), strict=True):
        results += analyzer.feed(part, float(t0))
    results += analyzer.flush()
    if not results:
        typer.echo(f"note: {len(samples)} samples are shorter than one 2 s window", err=True)
    for r in results:
        if isinstance(r, FallDetected):
            row: dict[str, Any] = {
                "fall": True,
                "t_s": r.t_s,
                "confidence": r.confidence,
                "impact_g": r.impact_g,
            }
            text = f"{r.t_s:9.2f} s  FALL  p={r.confidence:.2f}  impact {r.impact_g:.1f} g"
        else:
            row = {"start_s": r.start_s, "label": r.label, "scores": r.scores}
            text = f"{r.start_s:9.2f} s  {r.label:<10}  {r.scores[r.label]:.2f}"
        typer.echo(json.dumps(row, ensure_ascii=False) if as_json else text)


# `dolbom models predict emotion` lives in its own module (issue 4, emotion part).
from dolbom.commands.models_emotion import predict_emotion  # noqa: E402

predict_app.command("emotion")(predict_emotion)

# `dolbom models predict sound`: wordless distress from a WAV file (issue 12, part 4).
from dolbom.commands.models_sound import predict_sound  # noqa: E402

predict_app.command("sound")(predict_sound)
