"""Train, validate and export the fall detector (2.x) and the activity classifier (2.x).

`train` fits both shipped models on every trial it is given and picks the fall threshold from
leave-subjects-out scores of the everyday trials; `evaluate` adds leave-one-dataset-out,
the activity figures on real labelled windows and the robustness checks. Both run in a few
minutes of one core on the shared real set (features are cached by content).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from device.perception.imu_features import (
    FALL_FEATURES,
    N_FALL_FEATURES,
    RATE_HZ,
    candidates,
    fall_features,
    magnitudes,
    resample,
)
from models.activity import fall as F
from models.activity import variants as V
from models.activity import wrist as W
from models.activity.features import OPSET, FeatureExtractor
from models.activity.real import Trial
from models.activity.train import classification_report, to_onnx

FALL_LABELS: Final = ("no_fall", "fall")
REFRACTORY_S: Final = 30.0
FALL_RECIPE: Final = V.Variant(
    "fall 4.0.0: spliced copies of the cropped falls + turn gate 98 %",
    copies=("splice-cropped",),
    gate_share=0.98,
)
"""4.x (the card's second run log): every fit adds, for each training fall whose recording
starts less than 3 s before its impact, two copies with an everyday movement of the same data
set spliced before it; and no candidate is a fall unless the wrist's gravity direction turns
(the larger of turn_deg and lying_turn_deg) at least as much as in 98 % of the fit's falls."""


def fall_data(
    trials: Sequence[Trial], seed: int, hard_persons: int = F.HARD_NEGATIVE_PERSONS
) -> tuple[F.Table, F.Fitter]:
    """The candidate table (FALL_FEATURES) and the fit of FALL_RECIPE over it."""
    data = V.build_data(trials, seed, hard_persons)
    n = N_FALL_FEATURES
    hard = data.table.hard
    table = F.Table(
        data.table.x[:, :n],
        data.table.trial,
        data.table.t_s,
        data.table.y,
        None if hard is None else hard[:, :n],
    )
    datasets = np.asarray([t.dataset for t in trials])
    copies = V._copies(data, FALL_RECIPE.copies)
    return table, V.make_fitter(FALL_RECIPE, datasets, copies, list(range(n)))


def fall_to_onnx(clf: Any) -> bytes:
    """The tree ensemble on FALL_FEATURES as ONNX: input `features`, outputs label, scores.

    A `variants.TurnGate` is built into the graph: the fall score is 0 unless the larger of
    its turn features reaches the gate's level (`label` is then the argmax of the scores)."""
    import onnx
    from onnx import helper
    from skl2onnx import convert_sklearn  # type: ignore[import-untyped]
    from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped]

    gate = clf if isinstance(clf, V.TurnGate) else None
    trees = gate.model if gate is not None else clf
    model = convert_sklearn(
        trees,
        initial_types=[("features", FloatTensorType([None, N_FALL_FEATURES]))],
        options={id(trees): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )
    graph = model.graph
    if gate is None:
        graph.node.append(helper.make_node("Identity", ["probabilities"], ["scores"]))
    else:
        for node in graph.node:  # the trees' own label is replaced by the gated argmax
            node.output[:] = ["tree_label" if o == "label" else o for o in node.output]
        f32, i64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
        graph.initializer.extend(
            [
                helper.make_tensor("gate_columns", i64, [len(gate.columns)], gate.columns),
                helper.make_tensor("gate_level", f32, [], [float(gate.level)]),
                helper.make_tensor("fall_column", i64, [1], [1]),
                helper.make_tensor("one", f32, [], [1.0]),
            ]
        )
        graph.node.extend(
            [
                helper.make_node("Gather", ["features", "gate_columns"], ["turns"], axis=1),
                helper.make_node("ReduceMax", ["turns"], ["turn"], axes=[1], keepdims=1),
                helper.make_node("GreaterOrEqual", ["turn", "gate_level"], ["turned"]),
                helper.make_node("Cast", ["turned"], ["turned_f"], to=f32),
                helper.make_node("Gather", ["probabilities", "fall_column"], ["p"], axis=1),
                helper.make_node("Mul", ["p", "turned_f"], ["p_fall"]),
                helper.make_node("Sub", ["one", "p_fall"], ["p_no"]),
                helper.make_node("Concat", ["p_no", "p_fall"], ["scores"], axis=1),
                helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
            ]
        )
    outs = [o for o in graph.output if o.name != "probabilities"]
    del graph.output[:]
    graph.output.extend(outs)
    graph.output.append(
        helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [None, len(FALL_LABELS)])
    )
    model.producer_name = "dolbom-models"
    model.doc_string = (
        "dolbom fall detector 4: phase features of a candidate impact → extra trees, turn gate"
    )
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())


def gate_level_of(onnx_bytes: bytes) -> float | None:
    """The turn gate's level (degrees) built into a fall graph; None without a gate."""
    import onnx
    from onnx import numpy_helper

    for init in onnx.load_from_string(onnx_bytes).graph.initializer:
        if init.name == "gate_level":
            return round(float(numpy_helper.to_array(init)), 2)
    return None


@dataclass
class Built:
    """Both trained models and what export and the card need."""

    activity_onnx: bytes
    fall_onnx: bytes
    threshold: float
    validation: dict[str, Any]
    windows: dict[str, int]


def train(
    trials: Sequence[Trial],
    still: Sequence[Trial],
    seed: int,
    folds: int,
    hard_persons: int = F.HARD_NEGATIVE_PERSONS,
) -> Built:
    """Fit the fall detector on `trials` (+ hard negatives), the activity model on + `still`."""
    table, fit = fall_data(trials, seed, hard_persons)
    everyone = np.arange(len(trials))
    oof = F.grouped_oof(trials, table, everyone, folds, seed, fit)
    thr = F.pick_threshold(trials, oof, everyone, F.TARGET_FALSE_RATE)
    clf = fit(table, np.arange(len(table.y)), seed)
    fx = FeatureExtractor(W.WINDOW)
    act = W.activity_windows([*trials, *still], fx)
    forest = W.make_forest(seed).fit(act.x, act.y)
    activity_onnx = to_onnx(
        forest, W.WINDOW, "dolbom activity 2 (still/light/walking/active)", W.INVARIANT
    )
    validation = {
        "leave_subjects_out": {
            "folds": folds,
            "grouped_by": "data set + subject",
            **F.rates(trials, oof, everyone, thr),
            "curve": F.curve(trials, oof, everyone, F.CURVE_STEPS),
        }
    }
    return Built(
        activity_onnx,
        fall_to_onnx(clf),
        thr,
        validation,
        {
            "fall_candidates": int(np.sum(table.y >= 0)),
            "hard_negative_candidates": 0 if table.hard is None else len(table.hard),
            "activity_windows": len(act.y),
        },
    )


# -- robustness ----------------------------------------------------------------------------
def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.asarray(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _via_times(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sample a 50 Hz signal at times `t`, then resample back with the robot's code."""
    grid = np.arange(len(x)) / RATE_HZ
    vals = np.stack([np.interp(t, grid, x[:, k]) for k in range(6)], axis=1)
    parts = resample(t, vals)
    out = np.concatenate(parts)[: len(x)]
    if len(out) < len(x):
        out = np.concatenate([out, np.repeat(out[-1:], len(x) - len(out), axis=0)])
    return out.astype(np.float32)


def _jitter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bursty, irregular timestamps as phones and watches deliver them (mean ~50 Hz)."""
    n = len(x)
    dt = rng.uniform(0.008, 0.032, size=n * 2)
    t = np.cumsum(dt)
    t = t[t < (n - 1) / RATE_HZ]
    t = np.round(t + rng.normal(0, 0.002, len(t)), 3)  # millisecond stamps, some repeated
    return _via_times(x, np.clip(np.sort(t), 0, (n - 1) / RATE_HZ))


def _rate25(x: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    """A 25 Hz watch: every other sample (after a 2-tap average), back to 50 Hz."""
    avg = 0.5 * (x[:-1] + x[1:])
    t = np.arange(0, len(avg), 2) / RATE_HZ
    return _via_times(x if len(avg) < 2 else np.vstack([avg, x[-1:]]), t)


def _clip(g: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    def f(x: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        y = x.copy()
        y[:, :3] = np.clip(y[:, :3], -g, g)
        return y

    return f


def _mirror(x: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    y = x.copy()
    y[:, 0] *= -1  # the other wrist: x mirrored, and the rotation axes with it
    y[:, 4:6] *= -1
    return y


def _rotate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r = _rotation(rng)
    y = x.copy()
    y[:, :3] = x[:, :3] @ r.T
    y[:, 3:] = x[:, 3:] @ r.T
    return y


TRANSFORMS: Final[dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]]] = {
    "other_wrist_mirrored": _mirror,
    "rotated_watch": _rotate,
    "bursty_jitter_resampled": _jitter,
    "25_hz_input": _rate25,
    "clipped_8g": _clip(8.0),
    "clipped_16g": _clip(16.0),
}


def _trial_scores(clf: Any, trials: Sequence[Trial], idx: np.ndarray, fn: Any) -> np.ndarray:
    """The highest candidate score of each (transformed) trial; one classifier call for all."""
    feats: list[np.ndarray] = []
    owner: list[int] = []
    for i in idx:
        t = trials[int(i)]
        rng = np.random.default_rng([int(i), 77])
        x = t.samples if fn is None else fn(t.samples, rng)
        amag, _ = magnitudes(x)
        for k in candidates(amag):
            feats.append(fall_features(x, int(k)))
            owner.append(int(i))
    scores = np.zeros(len(trials))
    if feats:
        p = clf.predict_proba(np.stack(feats))[:, 1]
        np.maximum.at(scores, np.asarray(owner), p)
    return scores


def evaluate(
    trials: Sequence[Trial],
    still: Sequence[Trial],
    built: Built,
    seed: int,
    hard_persons: int = F.HARD_NEGATIVE_PERSONS,
) -> dict[str, Any]:
    """Leave-one-dataset-out (fall and activity), activity grouped CV, robustness."""
    table, fit = fall_data(trials, seed, hard_persons)
    datasets = sorted({t.dataset for t in trials})
    lodo: dict[str, Any] = {}
    robustness: dict[str, Any] = {}
    for test_ds in datasets:
        train_ds = "+".join(d for d in datasets if d != test_ds)
        tr_idx = np.asarray([i for i, t in enumerate(trials) if t.dataset != test_ds])
        te_idx = np.asarray([i for i, t in enumerate(trials) if t.dataset == test_ds])
        inner = F.grouped_oof(trials, table, tr_idx, 5, seed, fit)
        thr = F.pick_threshold(trials, inner, tr_idx, F.TARGET_FALSE_RATE)
        clf = fit(table, np.flatnonzero(np.isin(table.trial, tr_idx)), seed)
        te_rows = np.flatnonzero(np.isin(table.trial, te_idx))
        s = clf.predict_proba(table.x[te_rows])[:, 1] if len(te_rows) else np.empty(0)
        scores = np.nan_to_num(F.trial_scores(len(trials), table, s, te_rows), nan=0.0)
        key = f"{train_ds}_to_{test_ds}"
        lodo[key] = {
            "threshold_from": f"{train_ds} out-of-fold everyday trials (≤ 5 % false)",
            **F.rates(trials, scores, te_idx, thr),
            "at_shipped_threshold": F.rates(trials, scores, te_idx, built.threshold),
            "curve": F.curve(trials, scores, te_idx, F.CURVE_STEPS),
        }
        rob: dict[str, Any] = {}
        for name, fn in {"as_recorded": None, **TRANSFORMS}.items():
            sc = _trial_scores(clf, trials, te_idx, fn)
            r = F.rates(trials, sc, te_idx, thr)
            rob[name] = {
                "sensitivity": r["sensitivity"],
                "false_fall_trial_rate": r["false_fall_trial_rate"],
            }
        robustness[key] = rob
    act = _activity_eval(trials, still, seed)
    return {
        "fall": {
            **built.validation,
            "leave_one_dataset_out": lodo,
            "robustness": robustness,
            "shipped_threshold": built.threshold,
            "false_checks_per_day": false_checks_per_day(built.validation["leave_subjects_out"]),
        },
        "activity": act,
        "windows": built.windows,
    }


ACTIVE_HOURS_PER_DAY: Final = 6.0
"""Hours a day an older adult living alone moves about the way the ADL trials do."""
EPISODES_PER_DAY: Final = 100
"""Everyday movement episodes a day like the trials (sit down, stand up, pick up, drink, wash
hands, put on a jacket, walk a room, sweep...), for an older adult living alone."""


def false_checks_per_day(loso: dict[str, Any]) -> dict[str, Any]:
    """False "are you OK?" checks a day for an older adult, from the older group's ADL trials.

    Two extrapolations, both stated: per episode (the false-fall rate over the older adults'
    trials × EPISODES_PER_DAY) and per hour (their false falls per hour of trial × the
    ACTIVE_HOURS_PER_DAY; the trials are cropped to the movement, so this one is pessimistic).
    With no false fall seen, the rule of three gives the 95 % upper bound.
    """
    hours = float(loso.get("older_adult_hours") or 0.0)
    n = int(loso.get("older_adult_false_falls") or 0)
    trials = int(loso.get("older_adult_trials") or 0)
    if hours <= 0 or trials <= 0:
        return {"per_day": None, "note": "no older-adult everyday trials"}
    per_episode = n / trials
    return {
        "older_adult_false_falls": n,
        "older_adult_trials": trials,
        "older_adult_hours": round(hours, 3),
        "per_episode": round(per_episode, 4),
        "assumed_episodes_per_day": EPISODES_PER_DAY,
        "per_day": round(per_episode * EPISODES_PER_DAY, 2),
        "per_day_rule_of_three_if_zero": round(3.0 / trials * EPISODES_PER_DAY, 2)
        if not n
        else None,
        "per_active_hour": round(n / hours, 3),
        "assumed_active_hours_per_day": ACTIVE_HOURS_PER_DAY,
        "per_day_by_hours": round(n / hours * ACTIVE_HOURS_PER_DAY, 2),
        "method": "leave-subjects-out false falls of the older group's everyday trials:"
        f" per episode × {EPISODES_PER_DAY} episodes a day (headline), and per hour of"
        f" trial × {ACTIVE_HOURS_PER_DAY:g} active hours a day (pessimistic)",
    }


def _activity_eval(trials: Sequence[Trial], still: Sequence[Trial], seed: int) -> dict[str, Any]:
    """Macro-F1 on real windows: grouped 5-fold by person, and leave-one-dataset-out."""
    fx = FeatureExtractor(W.WINDOW)
    everyone = [*trials, *still]
    act = W.activity_windows(everyone, fx)
    real = act.trial < len(trials)
    subj = np.asarray([everyone[int(k)].subject for k in act.trial])
    ds = np.asarray([everyone[int(k)].dataset for k in act.trial])
    subjects = sorted(set(subj[real]))
    rng = np.random.default_rng(seed)
    fold_of = {s: i % 5 for i, s in enumerate(rng.permutation(subjects))}
    fold = np.asarray([fold_of.get(s, -1) for s in subj])
    pred = np.full(len(act.y), -1)
    for f in range(5):
        test = real & (fold == f)
        clf = W.make_forest(seed).fit(act.x[~test], act.y[~test])
        pred[test] = clf.predict(act.x[test])
    out: dict[str, Any] = {
        "labels": list(W.LABELS),
        "grouped_5_fold": classification_report(act.y[real], pred[real], W.LABELS),
    }
    for test_ds in sorted(set(ds[real])):
        test = ds == test_ds
        clf = W.make_forest(seed).fit(act.x[~test], act.y[~test])
        p = clf.predict(act.x[test])
        out[f"leave_out_{test_ds}"] = classification_report(act.y[test], p, W.LABELS)
    return out


def self_test_features(trials: Sequence[Trial]) -> np.ndarray:
    """Feature rows for the sidecar's self-test: the first candidates of a few trials."""
    rows: list[np.ndarray] = []
    for t in trials:
        amag, _ = magnitudes(t.samples)
        c = candidates(amag)
        if len(c):
            rows.append(fall_features(t.samples, int(c[np.argmax(amag[c])])))
        if len(rows) >= 3:
            break
    if not rows:
        rows.append(np.zeros(N_FALL_FEATURES, np.float32))
    return np.stack(rows).astype(np.float32)


__all__ = ["FALL_FEATURES", "Built", "evaluate", "fall_to_onnx", "train"]
