"""The model recipes `dolbom models` knows, looked up by name and imported only when used.

A recipe trains into a work folder, evaluates what it trained against its baseline on the
held-out split, exports `.onnx` + sidecar into the artifacts folder, and writes a model card:

    dolbom models train activity      → recipe.train(seed, progress, work_dir)
    dolbom models evaluate activity   → recipe.evaluate(work_dir, progress) (metrics JSON)
    dolbom models export activity     → recipe.export(work_dir, out_dir) (sidecars written)
    dolbom models card activity       → recipe.card(out_dir) (Markdown)

To add a model, write a module with a module-level `RECIPE` object of this shape and add one
line to `RECIPES` below.
"""

import importlib
from pathlib import Path
from typing import Any, Protocol

from models.errors import UnknownModelError

RECIPES: dict[str, str] = {
    "activity": "models.activity.recipe",  # the activity classifier and the fall detector
    "emotion": "models.emotion.recipe",
    "sound": "models.sound.recipe",  # wordless distress (screams, moans, crying, panting)
}
"""Model name → the module holding its `RECIPE`."""

WORK_ROOT = Path(__file__).resolve().parent / "build"  # git-ignored


class Task(Protocol):
    """One line of progress."""

    def advance(self, steps: float = 1.0) -> None:
        """Some work is done."""


class Progress(Protocol):
    """Where a recipe reports long work (a rich progress bar in the CLI, nothing in tests)."""

    def task(self, description: str, total: float) -> Task:
        """Start a line of progress with `total` steps."""


class _NullTask:
    def advance(self, steps: float = 1.0) -> None:
        """Nothing to show."""


class NullProgress:
    """Progress that shows nothing."""

    def task(self, description: str, total: float) -> Task:
        """A task that shows nothing."""
        return _NullTask()


class Recipe(Protocol):
    """How one model (or a family trained together) is made."""

    name: str
    summary: str
    artifacts: tuple[str, ...]  # the model names it exports (e.g. "activity", "fall")

    def train(self, seed: int, progress: Progress, work_dir: Path) -> dict[str, Any]:
        """Build data from `seed`, fit, and save the trained models into `work_dir`."""

    def evaluate(self, work_dir: Path, progress: Progress) -> dict[str, Any]:
        """Metrics of the trained models and their baselines on the held-out split."""

    def export(self, work_dir: Path, out_dir: Path, version: str | None = None) -> list[Path]:
        """Write `.onnx` + sidecar for every artifact; return the sidecar paths."""

    def card(self, out_dir: Path) -> str:
        """The Markdown model card(s) from the exported sidecars."""


def names() -> list[str]:
    """Every registered model name."""
    return sorted(RECIPES)


def get(name: str) -> Recipe:
    """The recipe for `name`; UnknownModelError when there is none (or it can't be imported)."""
    module_name = RECIPES.get(name)
    if module_name is None:
        raise UnknownModelError(f"no model named {name!r}; known: {', '.join(names())}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UnknownModelError(f"the {name} recipe is not available: {e}") from None
    recipe: Recipe = module.RECIPE
    return recipe


def work_dir(name: str) -> Path:
    """Where `train` leaves a recipe's models for `evaluate` and `export`."""
    return WORK_ROOT / name
