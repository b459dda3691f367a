"""`python -m models.sound.variants`: candidates against sound 2.0.0's recipe on the same folds.

Issue 12 item 4 after sound 2.0.0: every linear model on the robot's 216 summary features
(spec v2) lands near distress recall 0.82, and moaning against sighing and yawning is where
they fail. This script appends 45 **time-course features** (`models/sound/trajectory.py`: how
level, pitch, voicing and brightness move over 0.1-1 s; the main sound event's thirds, peak,
attack and decay) and scores, with `models.sound.train.cross_validate` on the shipped
recipe's speaker folds (`--seed`, 7): 2.0.0's recipe and candidates on all 261 columns,
each also paired fold by fold with 2.0.0; then, with `--choose`, 2.0.0's recipe and the chosen
candidate on a fresh repetition of folds (`--fresh-seed`), so the figure reported for it is
not the one it was picked on. Results: docs/sound.md (not shipped).

Read in place like training (`$DOLBOM_SOUND_DATA`); the rows and augmented copies are exactly
`models.sound.data.build_table`'s, and augmented copies only train. Writes a JSON summary
(default `benchmarks/results/sound_variants.json`).
"""

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.discriminant_analysis import (  # type: ignore[import-untyped]
    LinearDiscriminantAnalysis,
)
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from models.sound import data as sound_data
from models.sound import train as sound_train
from models.sound.data import FeatureTable
from models.sound.trajectory import trajectory_features

Fitter = Callable[[FeatureTable, np.ndarray, int], Any]


def logreg(c: float) -> Fitter:
    """The shipped recipe's classifier with another C."""

    def fit(table: FeatureTable, rows: np.ndarray, seed: int) -> Any:
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        )
        return model.fit(table.x[rows], table.label[rows])

    return fit


class _Mean:
    """Mean of several fitted models' probabilities (same classes)."""

    def __init__(self, models: list[Any]) -> None:
        self.models = models

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.mean([m.predict_proba(x) for m in self.models], axis=0)
        return out


def logreg_lda(c: float) -> Fitter:
    """Mean of the logistic regression's and a Ledoit-Wolf LDA's probabilities."""

    def fit(table: FeatureTable, rows: np.ndarray, seed: int) -> Any:
        lr = logreg(c)(table, rows, seed)
        lda = make_pipeline(
            StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        )
        y = table.label[rows]
        lda.fit(table.x[rows], y)
        return _Mean([lr, lda])

    return fit


def _table_with(table: FeatureTable, x: np.ndarray) -> FeatureTable:
    return FeatureTable(
        x=x, label=table.label, group=table.group, clip=table.clip, original=table.original
    )


def _brief(name: str, v: sound_train.Validation, seconds: float) -> dict[str, Any]:
    s = sound_train.summarize(v)
    pc = s["per_class_flagged"]
    row = {
        "candidate": name,
        "distress_recall": s["distress_recall"],
        "everyday_flagged": s["everyday_flagged"],
        "speech_flagged": s["speech_flagged"],
        "auc": s["auc"],
        "top1_accuracy": s["top1_accuracy"],
        "per_class_flagged": pc,
        "per_fold_recall": [round(f["distress_recall"], 4) for f in v.folds],
        "per_fold_everyday": [round(f["everyday_flagged"], 4) for f in v.folds],
        "cpu_s": round(seconds, 1),
    }
    print(
        f"{name:34s} recall {s['distress_recall']['mean']:.3f} ± {s['distress_recall']['sd']:.3f}"
        f"  everyday {s['everyday_flagged']['mean']:.3f} ± {s['everyday_flagged']['sd']:.3f}"
        f"  AUC {s['auc']['mean']:.3f}  moaning {pc['moaning']['mean']:.2f}"
        f"  panting {pc['panting']['mean']:.2f}  sighing {pc['sighing']['mean']:.2f}"
        f"  yawning {pc['yawning']['mean']:.2f}  ({seconds:.0f} s CPU)",
        flush=True,
    )
    return row


def paired(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Per-fold differences from the baseline on the same folds (the folds are paired)."""
    out: dict[str, Any] = {}
    for key in ("per_fold_recall", "per_fold_everyday"):
        d = np.asarray(other[key]) - np.asarray(base[key])
        out[key.replace("per_fold_", "") + "_difference"] = {
            "mean": round(float(d.mean()), 4),
            "sd": round(float(d.std(ddof=1)), 4),
            "folds_higher": int((d > 0).sum()),
            "folds_lower": int((d < 0).sum()),
        }
    r, e = out["recall_difference"], out["everyday_difference"]
    print(
        f"{'':34s} paired vs 2.0.0: recall {r['mean']:+.3f} ± {r['sd']:.3f}"
        f" (higher in {r['folds_higher']}, lower in {r['folds_lower']} folds),"
        f" everyday {e['mean']:+.3f} ± {e['sd']:.3f}",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Score the candidates on the shipped folds, then the chosen one on fresh folds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=7, help="the shipped recipe's folds")
    parser.add_argument("--fresh-seed", type=int, default=1007, help="the fresh repetition")
    parser.add_argument("--choose", default=None, help="candidate for the fresh repetition")
    parser.add_argument("--only-fresh", action="store_true", help="skip the same-folds round")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sound_variants.json"))
    args = parser.parse_args(argv)

    t0 = time.process_time()
    clips = sound_data.list_clips()
    table = sound_data.build_table(clips, args.seed)  # spec v2's 216: what 2.0.0 sees
    traj = sound_data.build_table(
        clips, args.seed, featurizer=trajectory_features, cache_tag="trajectory-1"
    )
    both = _table_with(table, np.concatenate([table.x, traj.x], axis=1))
    print(f"features: {both.x.shape}, {time.process_time() - t0:.0f} s CPU", flush=True)
    candidates: dict[str, tuple[FeatureTable, Fitter]] = {
        "2.0.0 (v2, logreg C 0.05)": (table, logreg(0.05)),
        "v2 + trajectory, logreg C 0.05": (both, logreg(0.05)),
        "v2 + trajectory, logreg C 0.02": (both, logreg(0.02)),
        "v2 + trajectory, logreg C 0.02 + LDA mean": (both, logreg_lda(0.02)),
    }
    results: dict[str, Any] = {"seed": args.seed, "fresh_seed": args.fresh_seed, "same_folds": []}
    for name, (tab, fitter) in candidates.items():
        if args.only_fresh:
            break
        t = time.process_time()
        v = sound_train.cross_validate("logreg", tab, args.seed, fitter=fitter)
        results["same_folds"].append(_brief(name, v, time.process_time() - t))
        if len(results["same_folds"]) > 1:
            results["same_folds"][-1]["paired"] = paired(
                results["same_folds"][0], results["same_folds"][-1]
            )
    if args.choose:
        results["fresh_folds"] = []
        print(f"fresh repetition (seed {args.fresh_seed}):", flush=True)
        for name in ("2.0.0 (v2, logreg C 0.05)", args.choose):
            tab, fitter = candidates[name]
            t = time.process_time()
            v = sound_train.cross_validate("logreg", tab, args.fresh_seed, fitter=fitter)
            results["fresh_folds"].append(_brief(name, v, time.process_time() - t))
        fresh = results["fresh_folds"]
        fresh[-1]["paired"] = paired(fresh[0], fresh[-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
