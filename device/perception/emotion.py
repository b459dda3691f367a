"""The text emotion model on the robot: a transcript → class scores and a valence.

The features come from `device.perception.emotion_features`, the same pure module (standard
library and numpy) the trainer in `models/emotion/` imports: two copies of a featurizer drift
apart, one cannot, and the robot's install carries no training code. The sidecar records the feature
spec the model was trained with, and a model whose spec differs from this code is refused.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.perception.emotion_features import DIM, SPEC, featurize_batch
from device.perception.emotion_text import LABELS
from device.perception.loader import Expect, ModelLoadError, OnnxModel, load, load_named
from protocol.envelope import ModelRef

MODEL_NAME = "emotion"
EXPECT = Expect(dtype="float32", shape=(None, DIM), labels=LABELS)


@dataclass(frozen=True)
class EmotionPrediction:
    """One utterance's emotion: the top class, every class's score, and a valence in [-1, 1]."""

    label: str
    scores: dict[str, float]
    valence: float


class EmotionModel:
    """A loaded, checked emotion model; `predict` is a few hundred microseconds per utterance."""

    def __init__(self, model: OnnxModel) -> None:
        spec = model.info.decision.get("featurizer")
        if _canonical(spec) != _canonical(SPEC):
            raise ModelLoadError(
                f"{model.info.name} {model.info.version}: trained with feature spec"
                f" {_name_of(spec)}, this robot computes {SPEC['name']} v{SPEC['version']}"
            )
        if "valence" not in model.info.outputs:
            raise ModelLoadError(
                f"{model.info.name} {model.info.version}: the sidecar names no 'valence' output"
            )
        self._model = model
        self.labels = model.info.labels

    @classmethod
    def load(cls, sidecar: Path, *, threads: int = 1) -> "EmotionModel":
        """From one sidecar path (sha256, input spec and self-test checked)."""
        return cls(load(sidecar, threads=threads, expect=EXPECT))

    @classmethod
    def load_newest(cls, models_dir: Path, *, threads: int = 1) -> "EmotionModel":
        """The newest emotion model in a folder."""
        return cls(load_named(models_dir, MODEL_NAME, threads=threads, expect=EXPECT))

    @property
    def ref(self) -> ModelRef:
        """`{name, version}` for the events this model's numbers go into."""
        return self._model.ref

    def self_test(self) -> None:
        """Run the sidecar's committed test vector again (ModelLoadError on a mismatch)."""
        self._model.self_test()

    def run_features(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's `scores` and `valence` for an (n, DIM) feature matrix."""
        return self._model.run(x)

    def predict_batch(self, texts: list[str]) -> list[EmotionPrediction]:
        """Several transcripts in one ONNX call."""
        if not texts:
            return []
        out = self.run_features(featurize_batch(texts))
        scores = np.asarray(out["scores"], dtype=np.float64)
        valence = np.asarray(out["valence"], dtype=np.float64).reshape(-1)
        result = []
        for row, v in zip(scores, valence, strict=True):
            by_label = {
                label: round(float(s), 4) for label, s in zip(self.labels, row, strict=True)
            }
            result.append(
                EmotionPrediction(
                    label=self.labels[int(np.argmax(row))],
                    scores=by_label,
                    valence=round(float(np.clip(v, -1.0, 1.0)), 4),
                )
            )
        return result

    def predict(self, text: str) -> EmotionPrediction:
        """One transcript."""
        return self.predict_batch([text])[0]


def _canonical(spec: object) -> str:
    return json.dumps(spec, sort_keys=True, ensure_ascii=False)


def _name_of(spec: object) -> str:
    if isinstance(spec, dict):
        return f"{spec.get('name')} v{spec.get('version')}"
    return "(none recorded)"
