"""Train, export and evaluate the text emotion model (scikit-learn at training time only).

The model is a multinomial logistic regression on the hashed n-gram features of
`device.perception.emotion_features`. Valence comes from one of two heads, chosen on the validation
split: the expected class valence under the model's class scores (`class_mean`), or a
ridge regressor on the same features (`ridge`). The ONNX graph is three or four standard
operators (Gemm, Softmax, MatMul, Clip), so the robot runs exactly what was trained.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import scipy.sparse as sp
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression, Ridge  # type: ignore[import-untyped]

from device.perception import emotion_lexicon as lexicon
from device.perception.emotion_features import DIM, SPEC, sparse_features
from device.perception.emotion_text import LABELS
from models.emotion.data import Example, augmented, split_train_validation

INPUT_NAME = "features"
SCORES_OUTPUT = "scores"
VALENCE_OUTPUT = "valence"
C_GRID = (1.0, 3.0, 10.0, 30.0)
RIDGE_ALPHA = 3.0
AUGMENT_COPIES = 3

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TextModel:
    """The trained weights: scores = softmax(x W^T + b); valence from the chosen head."""

    coef: np.ndarray  # (n_classes, DIM) float32
    intercept: np.ndarray  # (n_classes,) float32
    valence_head: str  # "class_mean" or "ridge"
    class_valence: np.ndarray  # (n_classes,) float32: the mean valence of each class
    ridge_coef: np.ndarray  # (DIM,) float32 (zeros for class_mean)
    ridge_intercept: float
    c: float

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for an (n, DIM) matrix, as the ONNX graph computes them."""
        logits = x.astype(np.float32) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    def valence(self, x: np.ndarray) -> np.ndarray:
        """Valence in [-1, 1] for an (n, DIM) matrix."""
        if self.valence_head == "ridge":
            raw = x.astype(np.float32) @ self.ridge_coef + self.ridge_intercept
        else:
            raw = self.scores(x) @ self.class_valence
        out: np.ndarray = np.clip(raw, -1.0, 1.0)
        return out


def sparse_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """The feature matrix of many texts, sparse (training); rows equal `featurize(text)`."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, text in enumerate(texts):
        for c, v in sparse_features(text).items():
            rows.append(r)
            cols.append(c)
            vals.append(v)
    matrix = sp.csr_matrix(
        (np.asarray(vals, np.float32), (rows, cols)), shape=(len(texts), DIM), dtype=np.float32
    )
    return matrix


def _labels(examples: Sequence[Example]) -> np.ndarray:
    return np.asarray([LABELS.index(ex.label) for ex in examples])


def fit(
    examples: Sequence[Example], *, seed: int, c: float, valence_head: str, on_step: Progress
) -> TextModel:
    """Fit the classifier and the valence head on (already augmented) examples."""
    x = sparse_matrix([ex.text for ex in examples])
    y = _labels(examples)
    v = np.asarray([ex.valence for ex in examples], np.float64)
    on_step(f"logistic regression C={c:g} on {x.shape[0]} utterances")
    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    clf.fit(x, y)
    class_valence = np.asarray(
        [v[y == k].mean() if np.any(y == k) else 0.0 for k in range(len(LABELS))], np.float32
    )
    ridge_coef = np.zeros(DIM, np.float32)
    ridge_intercept = 0.0
    if valence_head == "ridge":
        on_step("ridge valence regressor")
        ridge = Ridge(alpha=RIDGE_ALPHA, random_state=seed)
        ridge.fit(x, v)
        ridge_coef = ridge.coef_.astype(np.float32)
        ridge_intercept = float(ridge.intercept_)
    return TextModel(
        coef=clf.coef_.astype(np.float32),
        intercept=clf.intercept_.astype(np.float32),
        valence_head=valence_head,
        class_valence=class_valence,
        ridge_coef=ridge_coef,
        ridge_intercept=ridge_intercept,
        c=c,
    )


# -- metrics ---------------------------------------------------------------------------------


def classification_metrics(
    truth: Sequence[str],
    predicted: Sequence[str],
    valence_true: Sequence[float],
    valence_pred: Sequence[float],
) -> dict[str, Any]:
    """Per-class precision/recall/F1/support, macro-F1, accuracy and valence MAE."""
    per_class: dict[str, dict[str, float]] = {}
    for label in LABELS:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    present = [lab for lab in LABELS if per_class[lab]["support"] > 0]
    macro_f1 = float(np.mean([per_class[lab]["f1"] for lab in present])) if present else 0.0
    n = len(truth)
    accuracy = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / n if n else 0.0
    mae = float(np.mean(np.abs(np.asarray(valence_true) - np.asarray(valence_pred)))) if n else 0.0
    return {
        "n": n,
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro_f1, 4),
        "valence_mae": round(mae, 4),
        "per_class": per_class,
    }


def evaluate_model(model: TextModel, examples: Sequence[Example]) -> dict[str, Any]:
    """The model's metrics on labelled examples."""
    x = sparse_matrix([ex.text for ex in examples]).toarray()
    predicted = [LABELS[i] for i in model.scores(x).argmax(axis=1)]
    return classification_metrics(
        [ex.label for ex in examples],
        predicted,
        [ex.valence for ex in examples],
        model.valence(x).tolist(),
    )


def evaluate_lexicon(examples: Sequence[Example]) -> dict[str, Any]:
    """The lexicon-only baseline's metrics on the same examples."""
    predictions = [lexicon.predict(ex.text, ex.lang) for ex in examples]
    return classification_metrics(
        [ex.label for ex in examples],
        [p.label for p in predictions],
        [ex.valence for ex in examples],
        [p.valence for p in predictions],
    )


def by_language(
    examples: Sequence[Example], evaluate: Callable[[Sequence[Example]], dict[str, Any]]
) -> dict[str, Any]:
    """Metrics over all examples and per language."""
    out = {"all": evaluate(examples)}
    for lang in sorted({ex.lang for ex in examples}):
        out[lang] = evaluate([ex for ex in examples if ex.lang == lang])
    return out


# -- the whole training run -------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRun:
    """A trained model and how it was chosen."""

    model: TextModel
    validation: dict[str, Any]  # the chosen configuration's metrics on the validation split
    lexicon_validation: dict[str, Any]
    tuning: list[dict[str, Any]]  # every configuration tried, with its validation metrics
    n_authored: int
    n_train_rows: int


def train(examples: Sequence[Example], *, seed: int, on_step: Progress) -> TrainingRun:
    """Tune C, then the valence head, on a validation split; refit the choice on everything."""
    random.seed(seed)
    np.random.seed(seed)
    train_part, validation = split_train_validation(examples, seed)
    train_rows = augmented(train_part, seed, AUGMENT_COPIES)
    tuning: list[dict[str, Any]] = []

    def tried(c: float, head: str) -> dict[str, Any]:
        model = fit(train_rows, seed=seed, c=c, valence_head=head, on_step=on_step)
        metrics = by_language(validation, lambda exs: evaluate_model(model, exs))
        tuning.append({"c": c, "valence_head": head, "validation": metrics})
        return metrics

    # The classifier does not depend on the valence head: choose C with the class_mean head,
    # then try the ridge head at that C and keep whichever valence is closer.
    by_c = {c: tried(c, "class_mean") for c in C_GRID}
    best_c = max(C_GRID, key=lambda c: (by_c[c]["all"]["macro_f1"], -by_c[c]["all"]["valence_mae"]))
    ridge = tried(best_c, "ridge")
    head = (
        "ridge"
        if ridge["all"]["valence_mae"] < by_c[best_c]["all"]["valence_mae"]
        else "class_mean"
    )
    chosen = ridge if head == "ridge" else by_c[best_c]
    on_step(f"chosen C={best_c:g}, valence head {head}; refit on all authored data")
    all_rows = augmented(examples, seed, AUGMENT_COPIES)
    final = fit(all_rows, seed=seed, c=best_c, valence_head=head, on_step=on_step)
    return TrainingRun(
        model=final,
        validation=chosen,
        lexicon_validation=by_language(validation, evaluate_lexicon),
        tuning=tuning,
        n_authored=len(examples),
        n_train_rows=len(all_rows),
    )


# -- export ----------------------------------------------------------------------------------


def to_onnx(model: TextModel) -> bytes:
    """The model as an ONNX graph: features (n, DIM) → scores (n, C), valence (n, 1)."""
    n_classes = len(LABELS)
    inits = [
        numpy_helper.from_array(model.coef.astype(np.float32), "W"),
        numpy_helper.from_array(model.intercept.astype(np.float32), "b"),
        numpy_helper.from_array(np.asarray(-1.0, np.float32), "lo"),
        numpy_helper.from_array(np.asarray(1.0, np.float32), "hi"),
    ]
    nodes = [
        helper.make_node("Gemm", [INPUT_NAME, "W", "b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], [SCORES_OUTPUT], axis=1),
    ]
    if model.valence_head == "ridge":
        inits += [
            numpy_helper.from_array(model.ridge_coef.reshape(DIM, 1).astype(np.float32), "Wv"),
            numpy_helper.from_array(np.asarray([model.ridge_intercept], np.float32), "bv"),
        ]
        nodes.append(helper.make_node("Gemm", [INPUT_NAME, "Wv", "bv"], ["valence_raw"]))
    else:
        cv = model.class_valence.reshape(n_classes, 1).astype(np.float32)
        inits.append(numpy_helper.from_array(cv, "Vc"))
        nodes.append(helper.make_node("MatMul", [SCORES_OUTPUT, "Vc"], ["valence_raw"]))
    nodes.append(helper.make_node("Clip", ["valence_raw", "lo", "hi"], [VALENCE_OUTPUT]))
    graph = helper.make_graph(
        nodes,
        "dolbom_emotion_text",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["n", DIM])],
        [
            helper.make_tensor_value_info(SCORES_OUTPUT, TensorProto.FLOAT, ["n", n_classes]),
            helper.make_tensor_value_info(VALENCE_OUTPUT, TensorProto.FLOAT, ["n", 1]),
        ],
        inits,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="dolbom.models.emotion",
        doc_string=f"emotion from transcripts; features {SPEC['name']} v{SPEC['version']}",
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    serialized: bytes = proto.SerializeToString()
    return serialized
