"""Wordless distress: the sound model's speaker-held-out table, operating point, cost and size.

- The per-class table (recall of screaming, moaning, crying and panting; the share of each
  everyday class, speech and synthetic noise flagged as distress), mean ± sd over the
  speaker-held-out folds. By default it is read from the shipped sidecar, where
  `dolbom models train sound` wrote it; `--recompute` runs the same repeated folds again here
  from the shared data (`../shared/data`, features cached in $DOLBOM_CACHE) and reports
  those figures instead.
- The operating point (threshold, calibration) from the sidecar.
- Time of `SoundClassifier.classify` per segment on one thread, p50/p95, on generated
  segments of 1, 3, 10 and 30 s (the featurizer and the ONNX graph, as on the robot), and
  on the shared non-verbal clips when they are present.
- The share of 3 s windows of held-out ordinary speech (`ko-speech-long-dev`, TEDx talks as a
  television sounds; never used in training or tuning) flagged as distress, when present.
- The model file's size and the RSS a fresh process gains by loading the classifier (after
  numpy and onnxruntime are imported, which the robot does anyway), in a child process.

Prints a table and writes benchmarks/results/sound.json.
Usage: .venv/bin/python benchmarks/sound.py [--recompute] [--runs 50]
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentiles  # noqa: E402
from device.audio.sounds import SoundClassifier  # noqa: E402
from device.perception.loader import SHIPPED_DIR, find_sidecar  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "sound.json"
DISTRESS = ("screaming", "moaning", "crying", "panting")

_RSS_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
import numpy as np, onnxruntime
base = rss()
from device.audio.sounds import SoundClassifier
imported = rss()
c = SoundClassifier.load()
loaded = rss()
c.classify(np.zeros(16000 * 3, dtype=np.float32) + 0.01 * np.sin(np.arange(48000)))
used = rss()
print(json.dumps({"base": base, "imported": imported, "loaded": loaded, "used": used}))
"""


def _rss() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 2**20
    return {
        "import_mb": round((raw["imported"] - raw["base"]) / mib, 1),
        "load_mb": round((raw["loaded"] - raw["imported"]) / mib, 1),
        "first_classify_mb": round((raw["used"] - raw["loaded"]) / mib, 1),
        "total_added_mb": round((raw["used"] - raw["base"]) / mib, 1),
    }


def _signal(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    tone = 0.2 * np.sin(2 * np.pi * (300 + 100 * np.sin(t)) * t)
    out: np.ndarray = (tone + 0.02 * rng.normal(size=n)).astype(np.float32)
    return out


def _timing(classifier: SoundClassifier, runs: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for seconds in (1.0, 3.0, 10.0, 30.0):
        x = _signal(seconds, rng)
        classifier.classify(x)
        times, cpu = [], []
        for _ in range(runs if seconds <= 10 else max(5, runs // 5)):
            t0, c0 = time.perf_counter(), time.thread_time()
            classifier.classify(x)
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        # CPU time of this thread: what the robot's core spends, less blurred by other load
        out[f"{seconds:g}s"] = percentiles(times) | {"cpu_p50": percentiles(cpu)["p50"]}
    return out


def _clip_timing(classifier: SoundClassifier) -> dict[str, Any] | None:
    from models.errors import DataError
    from models.sound.data import data_dir, list_clips, read_audio

    try:
        clips = [c for c in list_clips() if c.source == "ko-nonverbal-dev"][::10]
    except DataError:
        return None
    times = []
    for c in clips:
        x = read_audio(data_dir(), c)
        t0 = time.perf_counter()
        classifier.classify(x)
        times.append(time.perf_counter() - t0)
    return {"clips": len(clips), **percentiles(times)}


def _long_speech(classifier: SoundClassifier) -> dict[str, Any] | None:
    import soundfile

    from models.sound.data import data_dir

    files = sorted((data_dir() / "ko-speech-long-dev").glob("*.flac"))
    if not files:
        return None
    window = 3 * 16000
    n = flagged = 0
    labels: dict[str, int] = {}
    seconds = 0.0
    for f in files:
        x, rate = soundfile.read(str(f), dtype="float32", always_2d=True)
        if int(rate) != 16000:
            continue
        mono = x.mean(axis=1)
        seconds += mono.size / 16000
        for start in range(0, mono.size - window + 1, window):
            event = classifier.classify(mono[start : start + window])
            n += 1
            flagged += int(event.is_distress)
            labels[event.label] = labels.get(event.label, 0) + 1
    return {
        "files": len(files),
        "minutes": round(seconds / 60, 1),
        "windows_3s": n,
        "flagged": flagged,
        "flagged_share": round(flagged / max(n, 1), 4),
        "top_labels": dict(sorted(labels.items(), key=lambda kv: -kv[1])[:6]),
    }


def _recompute() -> dict[str, Any]:
    from models.sound import recipe as sound_recipe
    from models.sound import train as sound_train
    from models.sound.data import build_table, list_clips

    table = build_table(list_clips(), 7)
    validation = sound_train.cross_validate(sound_recipe.KIND, table, 7)
    return sound_train.summarize(validation)


def _ms(raw: dict[str, Any] | None) -> str:
    if not raw:
        return "–"
    return f"{raw['mean']:.3f} ± {raw['sd']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recompute", action="store_true", help="rerun the speaker folds here")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    sidecar_path = find_sidecar(SHIPPED_DIR, "sound")
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    classifier = SoundClassifier.load()
    if args.recompute:
        table = _recompute()
        source = "recomputed here: repeated speaker-held-out folds on the shared data"
    else:
        table = {k: v for k, v in sidecar["metrics"].items() if k not in ("roc",)}
        source = "the sidecar's speaker-held-out validation (written by dolbom models train sound)"
    timing = _timing(classifier, args.runs)
    clip_timing = _clip_timing(classifier)
    long_speech = _long_speech(classifier)
    rss = _rss()
    per = table["per_class_flagged"]

    print(f"sound model {sidecar['version']}  ({source})")
    print(f"{'class':<18} {'kind':<10} {'flagged as distress (mean ± sd over folds)':>44}")
    for name in sidecar["labels"]:
        kind = "distress" if name in DISTRESS else "everyday"
        kind = "synthetic" if name == "noise" else kind
        print(f"{name:<18} {kind:<10} {_ms(per.get(name)):>44}")
    print(f"distress recall      {_ms(table['distress_recall'])}")
    print(f"everyday flagged     {_ms(table['everyday_flagged'])}  (confounders and speech)")
    print(f"speech flagged       {_ms(table['speech_flagged'])}")
    print(f"ROC AUC              {_ms(table['auc'])}")
    decision = sidecar["decision"]
    print(f"threshold            {decision['threshold']}  calibration {decision['calibration']}")
    for k, v in timing.items():
        print(
            f"classify {k:>4}        p50 {1000 * v['p50']:.1f} ms  p95 {1000 * v['p95']:.1f} ms"
            f"  (CPU p50 {1000 * v['cpu_p50']:.1f} ms)"
        )
    if clip_timing:
        print(
            f"classify dev clips   p50 {1000 * clip_timing['p50']:.1f} ms"
            f"  p95 {1000 * clip_timing['p95']:.1f} ms  ({clip_timing['clips']} clips)"
        )
    if long_speech:
        print(
            f"held-out long speech {long_speech['flagged']} of {long_speech['windows_3s']} 3 s"
            f" windows flagged ({long_speech['flagged_share']:.3f}; {long_speech['minutes']} min)"
        )
    print(f"model size           {sidecar['size_bytes']} bytes")
    print(f"RSS added            {rss}")
    result = {
        "model": {"name": "sound", "version": sidecar["version"], "sha256": sidecar["sha256"]},
        "size_bytes": sidecar["size_bytes"],
        "table_source": source,
        "speaker_held_out": table,
        "operating_point": {
            "threshold": decision["threshold"],
            "calibration": decision["calibration"],
            "max_everyday_flagged": decision.get("max_everyday_flagged"),
        },
        "classify_time_s": timing,
        "classify_time_dev_clips_s": clip_timing,
        "held_out_long_speech": long_speech,
        "rss": rss,
        "machine": {"python": platform.python_version(), "machine": platform.machine()},
        "notes": "one onnxruntime thread; times are wall-clock on a shared, loaded 2-core box",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
