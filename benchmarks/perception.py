"""Perception models on this machine: latency per inference, size, memory, accuracy vs baseline.

Loads every model in models/artifacts/manifest.json the way the robot does (sha256, input
spec, self-test; onnxruntime on the CPU with one thread) and measures:

- latency of one inference at batch 1, p50 and p99 over many runs (µs); the input is the
  sidecar's committed self-test vector, so every model (IMU window, emotion features) is
  timed on a real input. For the emotion model the time per utterance including the
  featurizer (device.perception.emotion_bench) is reported too; for activity one inference
  is the cost per 2 s window; for the fall detector the cost per candidate impact including
  its phase features (device/perception/imu_features.py) is reported too;
- the fall detector's targets (leave-one-dataset-out on real recordings: sensitivity ≥ 0.90
  with false falls on ≤ 5 % of everyday trials), met or missed, from its sidecar;
- model file sizes;
- RSS added to a fresh process by importing onnxruntime and by loading all the models
  (measured in a child process, so this process's own imports do not count);
- the accuracy table of every model (against its same-run baseline where it has one), from
  the sidecars (written by `dolbom models evaluate`). The 2.x activity and fall figures are on
  real recordings; simulator figures are not evidence and are not shown for them.

Prints a table and writes benchmarks/results/perception.json.
Usage: .venv/bin/python benchmarks/perception.py [--runs 2000] [--models-dir models/artifacts]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from device.perception.loader import OnnxModel, load  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "perception.json"
TARGET_US = 1000.0

_RSS_CHILD = r"""
import json, sys, psutil
proc = psutil.Process()
base = proc.memory_info().rss
import onnxruntime  # noqa: F401
after_import = proc.memory_info().rss
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from device.perception.loader import load
models = [load(Path(p), threads=1) for p in sys.argv[2:]]
for m in models:
    m.self_test()
loaded = proc.memory_info().rss
print(json.dumps({"base": base, "after_import": after_import, "loaded": loaded}))
"""


def manifest_sidecars(models_dir: Path) -> list[Path]:
    """The sidecar of every model the manifest lists."""
    manifest = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
    return [models_dir / entry["sidecar"] for entry in manifest["models"]]


def latency_us(model: OnnxModel, runs: int) -> dict[str, Any]:
    """Batch-1 inference on the self-test input: p50/p99/mean in microseconds."""
    x = model.info.self_test["input"]
    one = [x[0]] if model.info.input.dtype == "string" else np.asarray(x, np.float32)[:1]
    for _ in range(20):
        model.run(one)
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        model.run(one)
        times[i] = time.perf_counter() - t0
    us = times * 1e6
    return {
        "n": runs,
        "p50": round(float(np.percentile(us, 50)), 1),
        "p90": round(float(np.percentile(us, 90)), 1),
        "p99": round(float(np.percentile(us, 99)), 1),
        "mean": round(float(us.mean()), 1),
    }


def rss_added(sidecars: list[Path]) -> dict[str, float]:
    """RSS of a fresh interpreter before and after onnxruntime and the models (MiB)."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(ROOT), *map(str, sidecars)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 2**20
    return {
        "onnxruntime_import_mb": round((raw["after_import"] - raw["base"]) / mib, 1),
        "models_loaded_mb": round((raw["loaded"] - raw["after_import"]) / mib, 1),
        "total_added_mb": round((raw["loaded"] - raw["base"]) / mib, 1),
    }


def accuracy(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of `model metric: model vs baseline` from a sidecar's metrics."""
    m, b = info.get("metrics", {}), info.get("baseline_metrics", {})
    rows: list[dict[str, Any]] = []

    def row(metric: str, model: Any, base: Any, note: str = "") -> None:
        rows.append({"metric": metric, "model": model, "baseline": base, "note": note})

    if "leave_subjects_out" in m:  # the fall detector 2.x: real recordings, no baseline run
        parts = [("LOSO", m["leave_subjects_out"]), *m.get("leave_one_dataset_out", {}).items()]
        for name, r in parts:
            label = name.replace("_to_", "→")
            row(f"{label} sensitivity", r["sensitivity"], None, f"{r['falls']} real falls")
            row(
                f"{label} false-fall trial rate",
                r["false_fall_trial_rate"],
                None,
                f"{r['everyday_trials']} everyday trials, thr {r['threshold']}",
            )
        fc = m.get("false_checks_per_day", {})
        row("false checks / day, older adult", fc.get("per_day"), None, "extrapolated, see card")
    elif "sensitivity" in m:  # the fall detector 1.x (simulated persons)
        row("fall sensitivity", m["sensitivity"], b.get("sensitivity"), f"{m.get('falls')} falls")
        row(
            "false alarms / person-day",
            m.get("false_alarms_per_person_day"),
            b.get("false_alarms_per_person_day"),
            f"{m.get('person_days')} person-days",
        )
        for kind, value in sorted(m.get("sensitivity_by_kind", {}).items()):
            row(f"sensitivity: {kind}", value, b.get("sensitivity_by_kind", {}).get(kind))
    elif "grouped_5_fold" in m:  # activity 2.x on real labelled windows
        g = m["grouped_5_fold"]
        row("macro-F1, real, grouped by person", g["macro_f1"], None, f"{g['windows']} windows")
        for key, r in sorted(m.items()):
            if key.startswith("leave_out_"):
                row(f"macro-F1, {key}", r["macro_f1"], None, f"{r['windows']} windows")
    elif "macro_f1" in m:  # activity
        row("macro-F1", m["macro_f1"], b.get("macro_f1"), f"{m.get('windows')} windows")
        if "basic_motions" in m:
            row("BasicMotions macro-F1 (real data)", m["basic_motions"].get("macro_f1"), None)
    elif isinstance(m.get("all"), dict):  # emotion: overall and per language
        for part in ("all", "ko", "en"):
            if isinstance(m.get(part), dict):
                row(
                    f"macro-F1 ({part})",
                    m[part].get("macro_f1"),
                    b.get(part, {}).get("macro_f1"),
                    f"{m[part].get('n')} utterances",
                )
        if "valence_mae" in m.get("all", {}):
            row("valence MAE (all)", m["all"]["valence_mae"], b.get("all", {}).get("valence_mae"))
    return rows


FALL_TARGET_SENSITIVITY = 0.90
FALL_TARGET_FALSE_RATE = 0.05
MAX_BYTES = 1_000_000


def fall_targets(info: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for the fall detector, met or not, from leave-one-dataset-out."""
    out: dict[str, Any] = {}
    for key, r in info.get("metrics", {}).get("leave_one_dataset_out", {}).items():
        out[key] = {
            "sensitivity": r["sensitivity"],
            "false_fall_trial_rate": r["false_fall_trial_rate"],
            "met": bool(
                r["sensitivity"] is not None
                and r["false_fall_trial_rate"] is not None
                and r["sensitivity"] >= FALL_TARGET_SENSITIVITY
                and r["false_fall_trial_rate"] <= FALL_TARGET_FALSE_RATE
            ),
        }
    return out


def fall_window_us(model: OnnxModel, runs: int) -> dict[str, Any]:
    """Per candidate window on the robot: the phase features (numpy) + the ONNX classifier."""
    from device.perception.imu_features import candidates, fall_features, magnitudes
    from models.data.imu_synth import Person, synth_fall_clip

    clip = synth_fall_clip("forward", Person(), np.random.default_rng(1))
    x = clip.samples
    amag, _ = magnitudes(x)
    i = int(candidates(amag)[0])
    times = np.empty(runs)
    for k in range(runs + 20):
        t0 = time.perf_counter()
        model.run(fall_features(x, i)[None])
        if k >= 20:
            times[k - 20] = time.perf_counter() - t0
    us = times * 1e6
    return {
        "n": runs,
        "p50": round(float(np.percentile(us, 50)), 1),
        "p99": round(float(np.percentile(us, 99)), 1),
    }


def emotion_per_utterance(sidecar: Path, runs: int) -> dict[str, Any] | None:
    """Featurizer + ONNX per utterance, if the emotion part is installed (helper 4b's)."""
    try:
        from device.perception.emotion import EmotionModel
        from device.perception.emotion_bench import text_latency
    except ImportError:
        return None
    return text_latency(EmotionModel.load(sidecar), repeats=runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models" / "artifacts")
    args = parser.parse_args()
    load_before = round(os.getloadavg()[0], 2)  # p99 suffers when other work shares the CPU
    sidecars = manifest_sidecars(args.models_dir)
    models: list[dict[str, Any]] = []
    for path in sidecars:
        model = load(path, threads=1)
        info = json.loads(path.read_text(encoding="utf-8"))
        entry: dict[str, Any] = {
            "name": model.info.name,
            "version": model.info.version,
            "size_bytes": model.info.size_bytes,
            "input_shape": list(model.info.input.shape),
            "latency_us": latency_us(model, args.runs),
            "accuracy": accuracy(info),
        }
        entry["size_ok"] = model.info.size_bytes <= MAX_BYTES
        if model.info.name == "emotion":
            entry["per_utterance_us"] = emotion_per_utterance(path, max(200, args.runs // 10))
        if model.info.name == "fall" and model.info.input.name == "features":
            entry["per_window_us"] = fall_window_us(model, args.runs)
            entry["targets"] = fall_targets(info)
        models.append(entry)
    memory = rss_added(sidecars)
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg_1m_before": load_before,
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        },
        "target_us": TARGET_US,
        "threads": 1,
        "models": models,
        "memory": memory,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"{'model':<10} {'version':<8} {'KiB':>6} {'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8}"
        f"  p99 ≤ {TARGET_US:g} µs"
    )
    for m in models:
        lat = m["latency_us"]
        ok = "yes" if lat["p99"] <= TARGET_US else "NO"
        print(
            f"{m['name']:<10} {m['version']:<8} {m['size_bytes'] / 1024:>6.0f}"
            f" {lat['p50']:>8.1f} {lat['p90']:>8.1f} {lat['p99']:>8.1f}  {ok}"
        )
        win = m.get("per_window_us")
        if win:
            print(f"{'':<10} per window incl. features: p50 {win['p50']} µs, p99 {win['p99']} µs")
        for key, tgt in m.get("targets", {}).items():
            print(
                f"{'':<10} target {key}: sensitivity {tgt['sensitivity']} (≥ 0.90), false falls"
                f" {tgt['false_fall_trial_rate']} (≤ 0.05): {'met' if tgt['met'] else 'MISSED'}"
            )
        utt = m.get("per_utterance_us")
        if utt:
            p = utt["predict"]
            print(f"{'':<10} per utterance incl. features: p50 {p['p50']} µs, p99 {p['p99']} µs")
    print(
        f"\nRSS added: onnxruntime import {memory['onnxruntime_import_mb']} MiB,"
        f" all models {memory['models_loaded_mb']} MiB, total {memory['total_added_mb']} MiB"
    )
    print(f"\n{'model':<10} {'metric':<36} {'model':>8} {'baseline':>9}  note")
    for m in models:
        for r in m["accuracy"]:
            print(
                f"{m['name']:<10} {r['metric']:<36} {fmt(r['model']):>8}"
                f" {fmt(r['baseline']):>9}  {r['note']}"
            )
    machine = result["machine"]
    print(
        f"\nload average {machine['load_avg_1m_before']} → {machine['load_avg_1m_after']}"
        f" on {machine['cpus']} CPUs (p99 is sensitive to it)"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def fmt(value: float | None) -> str:
    """Three decimals, or a dash."""
    return "—" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
