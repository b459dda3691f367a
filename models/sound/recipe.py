"""`dolbom models train|evaluate|export|card sound`: the wordless-distress classifier.

train    → featurize the shared human clips (cached), validate by speaker (repeated folds),
           choose calibration and threshold from the out-of-fold scores, refit on everyone
evaluate → the speaker-held-out table per class (mean ± sd over folds)
export   → `sound-VERSION.onnx` + sidecar (threshold, calibration, feature spec, self-test)
card     → models/cards/sound.md from the exported sidecar
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from device.audio.sound_features import DIM, SAMPLE_RATE_HZ, SPEC, featurize, self_test_signal
from models.artifact import (
    CARDS_DIR,
    InputSpec,
    atomic_write,
    latest,
    write_artifact,
    write_manifest,
)
from models.errors import ArtifactError
from models.registry import Progress, Recipe
from models.sound import data as sound_data
from models.sound import train as sound_train
from models.sound.card import render_card

NAME = "sound"
VERSION = "2.0.0"  # feature spec v2: a 1.x model is refused by a v2 robot and back
KIND = "logreg"  # an MLP, an RBF SVM and a soft-voting ensemble did no better (card)
MODEL_FILE = "model.onnx"
TRAINING_FILE = "training.json"
EVALUATION_FILE = "evaluation.json"
SOURCES: list[dict[str, Any]] = [
    {
        "name": "ko-nonverbal-dev (Deeply Inc. Nonverbal Vocalization Dataset, a development"
        " split: 671 clips, 16 classes, Korean speakers aged 15-60s, Android phones, indoors)",
        "licence": "CC BY-NC-ND 4.0",
        "provenance": "github.com/deeplyinc/Nonverbal-Vocalization-Dataset; read in place,"
        " never copied or redistributed",
    },
    {
        "name": "ko-speech-dev (Pansori TEDxKR: 81 clips of ordinary Korean speech, 41"
        " speakers) as the class 'speech'",
        "licence": "CC BY-NC-ND 4.0",
        "provenance": "yc9701/pansori-tedxkr-corpus; read in place, never copied",
    },
    {
        "name": "synthetic room noise (coloured hiss, mains hum, fans) as the class 'noise'",
        "licence": "this repository's",
        "provenance": "models/sound/data.py, generated from the seed",
    },
]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _read_json(path: Path, hint: str) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist; {hint}")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class SoundRecipe:
    """Screaming, moaning, crying and panting against everyday sounds and speech."""

    name: str = NAME
    summary: str = (
        "wordless distress (screaming, moaning, crying, panting) against everyday sounds and"
        " speech, from 16 kHz audio"
    )
    artifacts: tuple[str, ...] = (NAME,)

    def train(self, seed: int, progress: Progress, work_dir: Path) -> dict[str, Any]:
        """Featurize, validate by speaker, choose the operating point, refit on everyone."""
        clips = sound_data.list_clips()
        task = progress.task("sound: features", total=len(clips))
        table = sound_data.build_table(clips, seed, on_clip=lambda: task.advance())
        folds = sound_train.N_SPLITS * sound_train.REPEATS
        cv_task = progress.task("sound: speaker-held-out folds", total=folds + 1)
        validation = sound_train.cross_validate(KIND, table, seed, on_fold=cv_task.advance)
        op = sound_train.operating_point(validation)
        model = sound_train.refit(KIND, table, seed)
        cv_task.advance()
        onnx_bytes = sound_train.to_onnx(model)
        atomic_write(work_dir / MODEL_FILE, onnx_bytes)
        orig = table.original
        counts = {
            name: int(np.sum(table.label[orig] == i)) for i, name in enumerate(sound_data.LABELS)
        }
        speakers = {
            source: len({c.speaker for c in clips if c.source == source})
            for source in ("ko-nonverbal-dev", "ko-speech-dev")
        }
        fingerprint = hashlib.sha256(table.x.tobytes() + table.label.tobytes()).hexdigest()
        summary: dict[str, Any] = {
            "seed": seed,
            "kind": KIND,
            "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "data_sha256": fingerprint,
            "clips": counts,
            "speakers": speakers,
            "rows_with_augmentation": int(table.label.size),
            "operating_point": {
                "threshold": op.threshold,
                "calibration": {"a": op.a, "b": op.b},
                "pooled_out_of_fold": op.pooled,
                "auc": op.auc,
                "roc": op.roc,
            },
            "speaker_held_out": sound_train.summarize(validation),
            "folds": validation.folds,
        }
        _write_json(work_dir / TRAINING_FILE, summary)
        return {k: v for k, v in summary.items() if k not in ("folds",)}

    def evaluate(self, work_dir: Path, progress: Progress) -> dict[str, Any]:
        """The speaker-held-out figures of the trained model (computed by `train`)."""
        training = _read_json(work_dir / TRAINING_FILE, "run `dolbom models train sound` first")
        if training.get("model_sha256") != _sha256(work_dir / MODEL_FILE):
            raise ArtifactError(
                f"{work_dir / MODEL_FILE} is not the model {TRAINING_FILE} describes;"
                " run `dolbom models train sound` again"
            )
        task = progress.task("sound: evaluation", total=1)
        result = {
            "model_sha256": training["model_sha256"],
            "split": (
                f"speaker-held-out: {sound_train.REPEATS} x {sound_train.N_SPLITS}-fold"
                " StratifiedGroupKFold by speaker; recorded clips only are scored; threshold and"
                " calibration of each fold from the other folds"
            ),
            "model": training["speaker_held_out"],
            "operating_point": training["operating_point"],
        }
        task.advance()
        _write_json(work_dir / EVALUATION_FILE, result)
        return result

    def export(self, work_dir: Path, out_dir: Path, version: str | None = None) -> list[Path]:
        """Write the ONNX graph, its sidecar and the manifest."""
        training = _read_json(work_dir / TRAINING_FILE, "run `dolbom models train sound` first")
        onnx_bytes = (work_dir / MODEL_FILE).read_bytes()
        if hashlib.sha256(onnx_bytes).hexdigest() != training["model_sha256"]:
            raise ArtifactError(
                f"{work_dir / MODEL_FILE} is not the model {TRAINING_FILE} describes"
            )
        op = training["operating_point"]
        x = featurize(self_test_signal()).reshape(1, DIM)
        session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        expected = session.run([sound_train.SCORES_OUTPUT], {sound_train.INPUT_NAME: x})[0]
        metrics = {
            "split": (
                f"speaker-held-out, {sound_train.REPEATS} x {sound_train.N_SPLITS} folds"
                " (StratifiedGroupKFold by speaker), recorded clips only; mean and sd over folds"
            ),
            **training["speaker_held_out"],
            "pooled_out_of_fold_at_threshold": op["pooled_out_of_fold"],
            "pooled_auc": op["auc"],
            "roc": op["roc"],
            "clips": training["clips"],
            "speakers": training["speakers"],
        }
        sidecar = write_artifact(
            out_dir,
            onnx_bytes,
            name=NAME,
            version=version or VERSION,
            input_spec=InputSpec(
                name=sound_train.INPUT_NAME,
                shape=(None, DIM),
                dtype="float32",
                units=("features of one 16 kHz mono segment (device/audio/sound_features.py)",),
                sample_rate_hz=float(SAMPLE_RATE_HZ),
            ),
            labels=sound_data.LABELS,
            training_data={
                "sha256": training["data_sha256"],
                "sources": SOURCES,
                "seed": training["seed"],
            },
            metrics=metrics,
            decision={
                "featurizer": SPEC,
                "kind": training["kind"],
                "distress_classes": list(sound_data.DISTRESS),
                "distress": "sigmoid(a * logit(sum of the distress classes' scores) + b)",
                "calibration": op["calibration"],
                "threshold": round(float(op["threshold"]), 6),
                "max_everyday_flagged": sound_train.MAX_FLAGGED,
            },
            self_test={
                "signal": "device.audio.sound_features.self_test_signal()",
                "input": x.tolist(),
                "feature_atol": 1e-2,
                "output": "scores",
                "expected": np.asarray(expected).round(6).tolist(),
                "atol": 1e-4,
            },
            outputs={"label": sound_train.LABEL_OUTPUT, "scores": sound_train.SCORES_OUTPUT},
            description=self.summary,
        )
        write_manifest(out_dir)
        return [out_dir / f"{sidecar.name}-{sidecar.version}.json"]

    def card(self, out_dir: Path) -> str:
        """The model card from the newest exported sidecar, also written to models/cards/."""
        text = render_card(latest(out_dir, NAME))
        atomic_write(CARDS_DIR / f"{NAME}.md", text.encode("utf-8"))
        return text


RECIPE: Recipe = SoundRecipe()
