"""Where the robot's memory goes, part by part, in one process (issue 17's breakdown).

Loads what `dolbom device run` loads, one part at a time, and records the process's resident
memory after each (`/proc/self/status`: VmRSS, RssAnon, RssFile), then decodes human Korean
utterances (../shared/data/ko-speech-dev) with the robot's SpeechRecognizer and records again.
The child runs with the allocator the Pi's unit gives the robot (jemalloc preloaded, its
MALLOC_CONF), as benchmarks/footprint.py does; `--graph` says how the speech graph is held.

  python benchmarks/footprint_breakdown.py --graph mapped --clips 20
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "footprint_breakdown.json"
SPEECH = ROOT.parent / "shared" / "data" / "ko-speech-dev"


def _status() -> dict[str, float]:
    want = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in want:
            out[key] = int(line.split()[1]) / 1024
    return out


def child(args: argparse.Namespace) -> None:
    """Load part by part; one JSON line per step."""
    rows: list[dict[str, Any]] = []

    def step(what: str) -> None:
        s = _status()
        rows.append({"step": what, **{k: round(v, 1) for k, v in s.items()}})
        print(json.dumps(rows[-1]), flush=True)

    step("python")
    import numpy as np

    step("numpy")
    import onnxruntime  # type: ignore[import-untyped]  # noqa: F401

    step("onnxruntime")
    import vosk  # noqa: F401

    step("vosk")
    from device.audio.asr import AnswerKind, SpeechRecognizer, default_model_path, load_model
    from device.audio.sounds import SoundClassifier
    from device.audio.source import CHUNK_SAMPLES, AudioChunk
    from device.audio.vad import SileroVad
    from device.main import build_agent  # noqa: F401  everything the robot imports
    from device.perception.emotion import EmotionModel
    from device.perception.loader import SHIPPED_DIR, load_named
    from device.speech_graph import load_mapped_model

    step("device packages")
    if args.ort_lean:  # the sessions without onnxruntime's CPU arena and memory patterns
        import device.perception.loader as loader

        shipped = loader.session_options

        def lean(threads: int) -> Any:
            opts = shipped(threads)
            opts.enable_cpu_mem_arena = False
            opts.enable_mem_pattern = False
            return opts

        loader.session_options = lean
    with tempfile.TemporaryDirectory(prefix="dolbom-breakdown-") as tmp:
        model = None
        if args.graph == "mapped":
            model = load_mapped_model(default_model_path(), Path(tmp) / "speech-graph")
        model = model if model is not None else load_model()
        step(f"Vosk model (graph {args.graph})")
        recognizer = SpeechRecognizer(model)
        step("free + safety-grammar recognisers")
        SileroVad()
        step("Silero VAD")
        SoundClassifier.load()
        step("ONNX session: sound")
        load_named(SHIPPED_DIR, "activity")
        step("ONNX session: activity")
        load_named(SHIPPED_DIR, "fall")
        step("ONNX session: fall")
        EmotionModel.load_newest(SHIPPED_DIR)
        step("ONNX session: emotion")
        with np.load(args.sounds) as sounds:  # read by the parent: it imports scipy, the robot not
            clips = [sounds[k] for k in sorted(sounds.files)]
        step("(benchmark: the clips in memory)")
        for n, samples in enumerate(clips, 1):
            recognizer.start()
            for i in range(0, len(samples) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES):
                recognizer.accept(AudioChunk(np.asarray(samples[i : i + CHUNK_SAMPLES]), 0.0))
            recognizer.finish()
            if n in (1, 5, len(clips)):
                step(f"after {n} utterance(s), {recognizer.renewals} renewals")
        recognizer.use_answer(recognizer.answer_grammar(AnswerKind.YES_NO))
        step("+ a yes/no answer grammar (built, cached)")
        for samples in clips[:5]:
            recognizer.start()
            for i in range(0, len(samples) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES):
                recognizer.accept(AudioChunk(np.asarray(samples[i : i + CHUNK_SAMPLES]), 0.0))
            recognizer.finish()
        step("after 5 more utterances with it")


UNIT_MALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"  # deploy/pi/dolbom-robot.service


def main() -> int:
    """The parent starts the child under jemalloc and writes the table and JSON."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--graph", choices=("heap", "mapped"), default="mapped")
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--ort-lean", action="store_true", help="ONNX sessions without arena/patterns")
    ap.add_argument("--malloc-conf", default=UNIT_MALLOC_CONF, help="default: the Pi unit's")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sounds", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    import numpy as np

    from benchmarks.common import read_flac
    from benchmarks.footprint import jemalloc_path

    env = dict(os.environ, LD_PRELOAD=str(jemalloc_path()), MALLOC_CONF=args.malloc_conf)
    with tempfile.TemporaryDirectory(prefix="dolbom-breakdown-") as tmp:
        sounds = Path(tmp) / "clips.npz"
        paths = sorted(SPEECH.glob("*.flac"))[: args.clips]
        np.savez(sounds, **{f"clip{i:03d}": read_flac(p) for i, p in enumerate(paths)})  # type: ignore[arg-type]
        cmd = [sys.executable, __file__, "--child", "--graph", args.graph, "--sounds", str(sounds)]
        cmd += ["--ort-lean"] if args.ort_lean else []
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    lean = ", ONNX arena and memory patterns off" if args.ort_lean else ""
    print(f"| step (jemalloc, MALLOC_CONF={args.malloc_conf!r}{lean}) | RSS | +RSS | anon | file |")
    print("|---|---|---|---|---|")
    before = 0.0
    for r in rows:
        delta = r["VmRSS"] - before
        before = r["VmRSS"]
        print(
            f"| {r['step']} | {r['VmRSS']:.0f} | {delta:+.0f} | {r['RssAnon']:.0f}"
            f" | {r['RssFile']:.0f} |"
        )
    print(f"peak (VmHWM) {rows[-1]['VmHWM']:.0f} MB")
    from benchmarks.footprint import _commit

    commit = _commit()
    result = {
        "what": "robot memory part by part (benchmarks/footprint_breakdown.py)",
        "graph": args.graph,
        "malloc": "jemalloc",
        "malloc_conf": args.malloc_conf,
        "ort_lean": args.ort_lean,
        "commit": commit,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "steps": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
