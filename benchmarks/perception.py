"""Perception models on this machine: latency per inference, size, memory, accuracy vs baseline.

Loads every model in models/artifacts/manifest.json the way the robot does (sha256, input
spec, self-test; onnxruntime on the CPU with one thread) and measures:

- latency of one inference at batch 1, p50 and p99 over many runs (µs); the input is the
  sidecar's committed self-test vector, so every model (IMU window, emotion features) is
  timed on a real input. For the emotion model the time per utterance including the
  featurizer (device.perception.emotion_bench) is reported too; for the IMU models one
  inference is the cost per 2 s (activity) or 4 s (fall) window.
- model file sizes;
- RSS added to a fresh process by importing onnxruntime and by loading all the models
  (measured in a child process, so this process's own imports do not count);
- the accuracy table of every model against its same-run baseline, from the sidecars
  (written by `dolbom models evaluate`, on the held-out split).

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

    if "sensitivity" in m:  # the fall detector
        row("fall sensitivity", m["sensitivity"], b.get("sensitivity"), f"{m.get('falls')} falls")
        row(
            "false alarms / person-day",
            m.get("false_alarms_per_person_day"),
            b.get("false_alarms_per_person_day"),
            f"{m.get('person_days')} person-days",
        )
        for kind, value in sorted(m.get("sensitivity_by_kind", {}).items()):
            row(f"sensitivity: {kind}", value, b.get("sensitivity_by_kind", {}).get(kind))
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
        if model.info.name == "emotion":
            entry["per_utterance_us"] = emotion_per_utterance(path, max(200, args.runs // 10))
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
