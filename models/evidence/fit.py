"""Fit the safety evidence model (device/safety/evidence.py) on development speech.

    .venv/bin/python -m models.evidence.fit [--data ../shared/data] [--features var/evidence.jsonl]

1. Runs the robot's own ears (device.audio.pipeline.robot_listener: gate, Silero, Vosk free +
   safety grammar with its garbage path) over the development sets, read in place:
   `ko-help-calls` (5 human calls for help: the positives), `ko-speech-dev` (81 ordinary
   clips, 41 speakers) and `ko-speech-long-dev` (27 min of TEDx talks, like a television).
   Each utterance's evidence (device.safety.evidence.gather) is cached as JSON lines.
2. Fits a logistic regression over evidence.FEATURES (L2, balanced classes).
3. Scores every utterance with a model fitted WITHOUT its speaker (leave-one-group-out: a
   dev speaker, a long talk, the drone-noise calls, the clean calls) and reports that ROC.
4. Chooses the operating points from ordinary speech only (the held-out scores of the
   negatives): "ask" above every held-out negative but one, "act" above all of them with a
   margin. Positives are five clips from two or three young speakers: they are reported, never
   used to move a threshold.
5. Writes device/safety/evidence.json (weights, thresholds, ROC, counts) and the card
   models/cards/evidence.md.
"""

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT_MODEL = ROOT / "device" / "safety" / "evidence.json"
OUT_CARD = ROOT / "models" / "cards" / "evidence.md"
VERSION = "1.0.0"
CALL_MAX_SYLLABLES = 14
FREE_ACT_SIMILARITY = 0.9
FREE_ASK_SIMILARITY = 0.7  # the first wave's corroboration threshold (FUSED_MIN_SIMILARITY)
ACT_MARGIN = 0.05
LENGTH_CAP = 40  # syllables: the length feature is min(syllables, 40) / 40


def _utterances(data: Path) -> Iterator[tuple[str, str, str, np.ndarray]]:
    """(set, group, clip, samples) for every development recording."""
    from benchmarks.common import read_flac
    from device.audio.source import read_wav

    for p in sorted((data / "ko-help-calls").glob("*.wav")):
        group = "help-drone" if "drone" in p.name else "help-clean"
        yield "help", group, p.name, read_wav(p)
    with (data / "ko-speech-dev" / "transcripts.tsv").open(encoding="utf-8") as f:
        names = sorted(row["file"] for row in csv.DictReader(f, delimiter="\t"))
    for name in names:
        yield "dev", "dev-" + name.split("-")[0], name, read_flac(data / "ko-speech-dev" / name)
    for p in sorted((data / "ko-speech-long-dev").glob("*.flac")):
        yield "long", "long-" + p.stem, p.name, read_flac(p)


def extract(data: Path, cache: Path) -> list[dict[str, Any]]:
    """Run the robot's ears over the development sets; one row per utterance."""
    from device.audio.asr import SpeechRecognizer, load_model
    from device.audio.pipeline import robot_listener
    from device.audio.source import split_chunks
    from device.config import VadConfig
    from device.safety.evidence import gather

    recognizer = SpeechRecognizer(load_model())
    rows: list[dict[str, Any]] = []
    cache.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with cache.open("w", encoding="utf-8") as out:
        for i, (set_name, group, clip, samples) in enumerate(_utterances(data)):
            listener = robot_listener(recognizer, VadConfig())
            heard = []
            for chunk in split_chunks(samples):
                u = listener.process(chunk)
                if u is not None and not u.early:
                    heard.append(u)
            heard += listener.flush()
            for u in heard:
                ev = gather(u.text, u.grammar_words)
                row = {
                    "set": set_name,
                    "group": group,
                    "clip": clip,
                    "start_s": round(u.start_s, 3),
                    "end_s": round(u.end_s, 3),
                    "free_similarity": ev.free_similarity,
                    "free_intent": ev.free_intent.value,
                    "grammar_confidence": ev.grammar_confidence,
                    "grammar_share": ev.grammar_share,
                    "grammar_intent": ev.grammar_intent.value,
                    "syllables": ev.syllables,
                }
                rows.append(row)
                out.write(json.dumps(row) + "\n")
            print(
                f"\r{i + 1} recordings, {len(rows)} utterances, {time.perf_counter() - t0:.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)
    return rows


def features(row: dict[str, Any]) -> list[float]:
    """The model's input (device.safety.evidence.Evidence.features)."""
    return [
        float(row["free_similarity"]),
        float(row["grammar_confidence"]),
        float(row["grammar_share"]),
        min(int(row["syllables"]), LENGTH_CAP) / LENGTH_CAP,
    ]


def roc(scores: np.ndarray, labels: np.ndarray) -> list[dict[str, float]]:
    """True- and false-positive rates at every distinct threshold."""
    points = []
    for t in sorted(set(scores.tolist()), reverse=True):
        flagged = scores >= t
        points.append(
            {
                "threshold": round(float(t), 4),
                "tpr": round(float(flagged[labels == 1].mean()), 4),
                "fpr": round(float(flagged[labels == 0].mean()), 5),
            }
        )
    return points


def fit(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    x = np.asarray([features(r) for r in rows])
    y = np.asarray([1 if r["set"] == "help" else 0 for r in rows])
    groups = np.asarray([r["group"] for r in rows])

    def model() -> LogisticRegression:
        return LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)

    held_out = np.zeros(len(rows))
    for g in sorted(set(groups.tolist())):
        test = groups == g
        train = ~test
        if len(set(y[train].tolist())) < 2:
            raise SystemExit(f"group {g}: the rest has one class only; can't fit")
        held_out[test] = model().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    final = model().fit(x, y)
    negatives = np.sort(held_out[y == 0])[::-1]
    check_threshold = float(negatives[1]) + 1e-4 if negatives.size > 1 else 0.5
    act_threshold = min(0.999, float(negatives[0]) + ACT_MARGIN)
    check_threshold = min(check_threshold, act_threshold)
    hours = {
        s: sum(
            float(r["end_s"]) - float(r["start_s"])
            for r in rows
            if r["set"] == s  # speech time, not recording time
        )
        / 3600
        for s in ("dev", "long")
    }
    positives = [
        {
            "clip": r["clip"],
            "held_out_p": round(float(p), 4),
            "band": "act" if p >= act_threshold else "ask" if p >= check_threshold else "none",
        }
        for r, p in zip(rows, held_out, strict=True)
        if r["set"] == "help"
    ]
    return {
        "version": VERSION,
        "features": ["free_similarity", "grammar_confidence", "grammar_share", "length"],
        "weights": [round(float(w), 6) for w in final.coef_[0]],
        "bias": round(float(final.intercept_[0]), 6),
        "act_threshold": round(act_threshold, 4),
        "check_threshold": round(check_threshold, 4),
        "call_max_syllables": CALL_MAX_SYLLABLES,
        "free_act_similarity": FREE_ACT_SIMILARITY,
        "free_ask_similarity": FREE_ASK_SIMILARITY,
        "fitted": {
            "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "utterances": {
                s: int(sum(r["set"] == s for r in rows)) for s in ("help", "dev", "long")
            },
            "groups": len(set(groups.tolist())),
            "speech_hours": {k: round(v, 3) for k, v in hours.items()},
            "held_out_auc": round(float(roc_auc_score(y, held_out)), 4),
            "held_out_negatives_top": [round(float(v), 4) for v in negatives[:5]],
            "held_out_positives": positives,
            "roc": roc(held_out, y),
            "validation": "leave-one-group-out: each dev speaker, each long talk, the drone"
            " calls, the clean calls",
        },
    }


def card(model: dict[str, Any]) -> str:
    f = model["fitted"]
    names = model["features"]
    weights = "\n".join(
        f"| `{n}` | {w:+.3f} |" for n, w in zip(names, model["weights"], strict=True)
    )
    positives = "\n".join(
        f"| {p['clip']} | {p['held_out_p']:.3f} | {p['band']} |" for p in f["held_out_positives"]
    )
    top = ", ".join(f"{v:.3f}" for v in f["held_out_negatives_top"])
    roc_rows = "\n".join(
        f"| {p['threshold']:.3f} | {p['tpr']:.2f} | {p['fpr']:.4f} |" for p in f["roc"][:12]
    )
    return f"""# Safety evidence model {model["version"]}

Logistic regression over what the recognisers give (see `device/safety/evidence.py`): the
probability that an utterance is a call for help, and two thresholds that make the robot act
at once (≥ {model["act_threshold"]:.3f}), ask "도와 드릴까요?" (≥ {model["check_threshold"]:.3f}),
or do nothing. Three rules bound it: a close free-transcript match (similarity ≥
{model["free_act_similarity"]}) in an utterance of at most {model["call_max_syllables"]}
syllables acts whatever the model says; a near one (≥ {model["free_ask_similarity"]}) in such
an utterance at least asks; a longer utterance never acts on its own (at most the robot
asks). The model alone acts only when the free transcript at least nearly confirms the call
(≥ {model["free_ask_similarity"]}): a safety-grammar hit the free words do not confirm is asked
about. Words that say no or "I'm fine", or a no to "도와 드릴까요?" from the answer grammar,
are never overruled by the model or the grammar; and a two-syllable phrase ("아야", "아파")
counts as free evidence only when it is the exact word. A safety-grammar hit the free words
do not confirm is asked about only when it is the whole utterance, heard clearly (at most 2
other grammar words, phrase confidence ≥ 0.9; `device/safety/evidence.py`). Fitted {f["at"]}
by `models/evidence/fit.py`.

## Data (development only, read in place, never copied)
- Positives: `ko-help-calls`, {f["utterances"]["help"]} utterances from 5 human calls for help
  (MIT; 2-3 young adult speakers, 3 clips under drone noise). A floor, not a measure.
- Negatives: `ko-speech-dev` ({f["utterances"]["dev"]} utterances, 41 speakers) and
  `ko-speech-long-dev` ({f["utterances"]["long"]} utterances, TEDx talks as a television
  sounds); {f["speech_hours"]["dev"] + f["speech_hours"]["long"]:.2f} h of speech in all.
- Every utterance comes from the robot's own ears (gate, Silero, Vosk free + the safety
  grammar with its garbage path).

## Weights
| feature | weight |
|---|---:|
{weights}
| bias | {model["bias"]:+.3f} |

## Validation: leave one group out ({f["groups"]} groups)
Each utterance is scored by a model fitted without its group (a dev speaker, a long talk,
the drone-noise calls, the clean calls). Held-out ROC AUC: **{f["held_out_auc"]:.3f}**.
Highest held-out scores of ordinary speech: {top}.
The thresholds come from these negatives only: ask above all but one, act above all of them
plus {ACT_MARGIN}.

| held-out threshold | true-positive rate | false-positive rate |
|---:|---:|---:|
{roc_rows}

Calls for help, held out:

| clip | P(call) held out | band by P alone (before the rules) |
|---|---:|---|
{positives}

## Limits
Five positive clips from young adults cannot calibrate a probability for seniors; the
probabilities are a ranking, and the operating points are set by ordinary speech. The
robot is also scored on held-out human recordings that no one here has heard
(`benchmarks/intent_recall.py`, README).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--features", type=Path, default=ROOT / "var" / "evidence-features.jsonl")
    parser.add_argument("--reuse", action="store_true", help="reuse --features, don't re-run")
    args = parser.parse_args()
    if args.reuse and args.features.exists():
        rows = [json.loads(line) for line in args.features.open(encoding="utf-8")]
    else:
        rows = extract(args.data, args.features)
    model = fit(rows)
    OUT_MODEL.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    OUT_CARD.write_text(card(model), encoding="utf-8")
    f = model["fitted"]
    print(f"{'utterances':<28}{f['utterances']}")
    print(f"{'held-out ROC AUC':<28}{f['held_out_auc']:.3f}")
    print(f"{'weights':<28}{model['weights']} bias {model['bias']}")
    print(f"{'thresholds act / ask':<28}{model['act_threshold']} / {model['check_threshold']}")
    for p in f["held_out_positives"]:
        print(f"  {p['clip']:<26} P {p['held_out_p']:.3f}  {p['band']}")
    print(f"wrote {OUT_MODEL.relative_to(ROOT)} and {OUT_CARD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
