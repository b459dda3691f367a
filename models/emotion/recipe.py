"""`dolbom models train|evaluate|export|card emotion`: the text emotion model's life cycle.

train    → tune on a validation split carved from the authored data, refit, save weights
evaluate → the model and the lexicon-only baseline on the held-out test split, same run
export   → `emotion-VERSION.onnx` + sidecar (metrics, feature spec, self-test vector)
card     → the Markdown model card from the exported sidecar
"""

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from device.perception import emotion_lexicon as lexicon
from device.perception.emotion_features import DIM, SPEC, featurize
from device.perception.emotion_text import LABELS
from models.artifact import InputSpec, atomic_write, latest, write_artifact, write_manifest
from models.emotion import data as emotion_data
from models.emotion.card import render_card
from models.emotion.train import (
    C_GRID,
    INPUT_NAME,
    SCORES_OUTPUT,
    VALENCE_OUTPUT,
    TextModel,
    by_language,
    evaluate_lexicon,
    evaluate_model,
    to_onnx,
    train,
)
from models.errors import ArtifactError, DataError
from models.registry import Progress, Recipe

NAME = "emotion"
VERSION = "1.0.0"
SELF_TEST_TEXT = "아이고 허리야 어제부터 허리가 너무 아파서 잠을 못 잤어"
MODEL_FILE = "model.npz"
TRAINING_FILE = "training.json"
EVALUATION_FILE = "evaluation.json"


def load_authored(data_dir: Path = emotion_data.DATA_DIR) -> list[emotion_data.Example]:
    """Both languages' authored utterances."""
    return [
        ex for lang in emotion_data.LANGUAGES for ex in emotion_data.read_authored(lang, data_dir)
    ]


def load_test(data_dir: Path = emotion_data.DATA_DIR) -> list[emotion_data.Example]:
    """The integrator's held-out test split (both languages); DataError when it is missing."""
    out: list[emotion_data.Example] = []
    for lang in emotion_data.LANGUAGES:
        path = data_dir / f"test_{lang}.jsonl"
        if not path.is_file():
            raise DataError(
                f"the held-out test split {path} is missing; it is written separately from the"
                " training data (see models/data/emotion/PROVENANCE.md)"
            )
        out.extend(emotion_data.read_jsonl(path))
    return out


def save_model(model: TextModel, path: Path) -> None:
    """The trained weights as one .npz (the work folder's copy; the robot reads the ONNX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        coef=model.coef,
        intercept=model.intercept,
        class_valence=model.class_valence,
        ridge_coef=model.ridge_coef,
        ridge_intercept=np.asarray(model.ridge_intercept),
        valence_head=np.asarray(model.valence_head),
        c=np.asarray(model.c),
    )


def load_model(path: Path) -> TextModel:
    """Read weights saved by `save_model`."""
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist; run `dolbom models train emotion` first")
    with np.load(path, allow_pickle=False) as z:
        return TextModel(
            coef=z["coef"],
            intercept=z["intercept"],
            valence_head=str(z["valence_head"]),
            class_valence=z["class_valence"],
            ridge_coef=z["ridge_coef"],
            ridge_intercept=float(z["ridge_intercept"]),
            c=float(z["c"]),
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def _read_json(path: Path, hint: str) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist; {hint}")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


class EmotionRecipe:
    """The text emotion classifier with its valence head."""

    name: str = NAME
    summary: str = "emotion class and valence from a transcript (Korean and English)"
    artifacts: tuple[str, ...] = (NAME,)

    def train(self, seed: int, progress: Progress, work_dir: Path) -> dict[str, Any]:
        """Tune on the validation split, refit on all authored data, save into `work_dir`."""
        examples = load_authored()
        # One step per fit: 4 values of C, the ridge head (2), the choice, the final refit.
        task = progress.task("emotion: training", total=len(C_GRID) + 4)
        run = train(examples, seed=seed, on_step=lambda _desc: task.advance())
        save_model(run.model, work_dir / MODEL_FILE)
        summary = {
            "seed": seed,
            "n_authored": run.n_authored,
            "n_train_rows": run.n_train_rows,
            "c": run.model.c,
            "valence_head": run.model.valence_head,
            "validation": run.validation,
            "lexicon_validation": run.lexicon_validation,
            "tuning": run.tuning,
            "data_sha256": emotion_data.fingerprint(examples),
        }
        _write_json(work_dir / TRAINING_FILE, summary)
        return summary

    def evaluate(self, work_dir: Path, progress: Progress) -> dict[str, Any]:
        """The model and the lexicon baseline on the held-out test split, in the same run."""
        model = load_model(work_dir / MODEL_FILE)
        test = load_test()
        task = progress.task("emotion: held-out test split", total=4)
        model_metrics = by_language(test, lambda exs: evaluate_model(model, exs))
        task.advance()
        baseline = by_language(test, evaluate_lexicon)
        task.advance()
        # The same sentences with simulated recogniser errors (the training augmentations,
        # one variant each, a fixed seed): how much the scores fall on transcript-like input.
        noisy = [
            variant
            for ex in test
            for variant in emotion_data.augment(ex, random.Random(f"asr:{ex.text}"), copies=1)
        ]
        noisy_model = by_language(noisy, lambda exs: evaluate_model(model, exs))
        task.advance()
        noisy_baseline = by_language(noisy, evaluate_lexicon)
        task.advance()
        result = {
            "model_sha256": _sha256(work_dir / MODEL_FILE),  # which weights these figures are of
            "split": "held-out test (test_ko.jsonl, test_en.jsonl)",
            "model": model_metrics,
            "lexicon_baseline": baseline,
            "simulated_asr_errors": {"model": noisy_model, "lexicon_baseline": noisy_baseline},
        }
        _write_json(work_dir / EVALUATION_FILE, result)
        return result

    def export(self, work_dir: Path, out_dir: Path, version: str | None = None) -> list[Path]:
        """Write the ONNX graph, its sidecar and the manifest; metrics from `evaluate`."""
        model = load_model(work_dir / MODEL_FILE)
        training = _read_json(work_dir / TRAINING_FILE, "run `dolbom models train emotion`")
        evaluation_path = work_dir / EVALUATION_FILE
        validation = {
            "split": "validation (15 % of the authored data, used for tuning)",
            "model": training["validation"],
            "lexicon_baseline": training["lexicon_validation"],
        }
        if evaluation_path.is_file():
            evaluation = _read_json(evaluation_path, "")
            if evaluation.get("model_sha256") != _sha256(work_dir / MODEL_FILE):
                raise ArtifactError(
                    f"{evaluation_path} holds the figures of another model than {MODEL_FILE}"
                    " (trained again since?); run `dolbom models evaluate emotion` first"
                )
            metrics = {"split": evaluation["split"], **evaluation["model"]}
            baseline = {"split": evaluation["split"], **evaluation["lexicon_baseline"]}
            if "simulated_asr_errors" in evaluation:
                metrics["simulated_asr_errors"] = evaluation["simulated_asr_errors"]
        else:
            metrics = {"split": validation["split"], **training["validation"]}
            baseline = {"split": validation["split"], **training["lexicon_validation"]}
        metrics["validation"] = validation
        onnx_bytes = to_onnx(model)
        x = featurize(SELF_TEST_TEXT).reshape(1, DIM).round(7)
        session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        expected = session.run([SCORES_OUTPUT], {INPUT_NAME: x})[0]
        sources = [
            {
                "name": "dolbom emotion utterances (authored_ko.tsv, authored_en.tsv)",
                "licence": "CC0-1.0",
                "provenance": "written for this project by the dolbom team; see PROVENANCE.md",
                "items": training["n_authored"],
                "augmented_rows": training["n_train_rows"],
            }
        ]
        sidecar = write_artifact(
            out_dir,
            onnx_bytes,
            name=NAME,
            version=version or VERSION,
            input_spec=InputSpec(
                name=INPUT_NAME,
                shape=(None, DIM),
                dtype="float32",
                units=("hashed n-gram and lexicon features of one transcript",),
            ),
            labels=LABELS,
            training_data={
                "sha256": training["data_sha256"],
                "sources": sources,
                "seed": training["seed"],
            },
            metrics=metrics,
            baseline_metrics=baseline,
            decision={
                "featurizer": SPEC,
                "valence_head": model.valence_head,
                "class_valence": dict(
                    zip(LABELS, model.class_valence.round(4).tolist(), strict=True)
                ),
                "c": model.c,
                "lexicon_class_valence": lexicon.CLASS_VALENCE,
            },
            self_test={
                "text": SELF_TEST_TEXT,
                "input": x.tolist(),
                "output": "scores",
                "expected": np.asarray(expected).round(6).tolist(),
                "atol": 1e-4,
            },
            outputs={"scores": SCORES_OUTPUT, "valence": VALENCE_OUTPUT},
            description=self.summary,
        )
        write_manifest(out_dir)
        return [out_dir / f"{sidecar.name}-{sidecar.version}.json"]

    def card(self, out_dir: Path) -> str:
        """The model card, filled in from the newest exported sidecar."""
        return render_card(latest(out_dir, NAME))


RECIPE: Recipe = EmotionRecipe()
