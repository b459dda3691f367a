"""What giving the mapped speech graph's pages back costs the next decode (issue 17).

`SpeechRecognizer.finish` releases the mapped graph's pages (madvise DONTNEED) once an
utterance is decided; the next decode faults the pages it needs back in from the page cache.
This measures that cost in one process, paired: every clip is decoded twice, once right after a
release and once with the graph's pages kept (the order alternates clip by clip and pass by
pass, so load drifts on this shared machine fall on both sides alike). Per decode: the time of
`finish()` (end of speech → transcript, when decoding keeps up with the speech), the CPU time
of the whole decode (accept + finish) per second of audio, the graph's resident pages after it,
and the time of the release itself. Clips: the human calls for help (tests/fixtures) and human
Korean utterances (../shared/data/ko-speech-dev), heard as fast as they decode.
`same_transcripts_both_ways` compares each clip's two decodes; they can differ for another
reason than the release (the recogniser's history differs between the passes: a warm or renewed
free recogniser, state Vosk carries between utterances). That a release changes no transcript
is tested with fresh recognisers (tests/device/test_speech_graph.py).

  python benchmarks/footprint_release.py --clips 24
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "footprint_release.json"
SPEECH = ROOT.parent / "shared" / "data" / "ko-speech-dev"
CALLS = ROOT / "tests" / "fixtures" / "audio" / "ko-help-calls"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    """Decode the clips after a release and with the pages kept; print a table, write JSON."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=24, help="human dev clips (plus the 5 calls)")
    ap.add_argument("--data-dir", default="/tmp/dolbom-footprint-release")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()

    from benchmarks.common import read_flac
    from device.audio.asr import SpeechRecognizer, default_model_path
    from device.audio.source import CHUNK_SAMPLES, AudioChunk, read_wav
    from device.speech_graph import load_mapped_model, resident_bytes

    load_start = Path("/proc/loadavg").read_text().split()[:3]
    model = load_mapped_model(default_model_path(), Path(args.data_dir))
    if model is None:
        raise SystemExit("the speech graph could not be mapped")
    recognizer = SpeechRecognizer(model)
    graph = recognizer.graph
    assert graph is not None
    recognizer.release_graph_pages = False  # released here, timed, before the chosen decodes
    clips: list[tuple[str, np.ndarray]] = [
        (p.name, read_wav(p)) for p in sorted(CALLS.glob("*.wav"))
    ]
    clips += [(p.name, read_flac(p)) for p in sorted(SPEECH.glob("*.flac"))[: args.clips]]
    rows: list[dict[str, Any]] = []
    for rep in range(2):
        for i, (name, samples) in enumerate(clips):
            released = (i + rep) % 2 == 0
            release_ms = None
            if released:
                t = time.perf_counter()
                graph.release()
                release_ms = (time.perf_counter() - t) * 1000
            before = resident_bytes(graph.path)
            cpu0 = time.thread_time()
            recognizer.start()
            for k in range(0, len(samples), CHUNK_SAMPLES):
                recognizer.accept(AudioChunk(samples[k : k + CHUNK_SAMPLES], k / 16000))
            t0 = time.perf_counter()
            heard = recognizer.finish()
            finish_s = time.perf_counter() - t0
            cpu = time.thread_time() - cpu0
            rows.append(
                {
                    "clip": name,
                    "pass": rep,
                    "after_release": released,
                    "audio_s": round(len(samples) / 16000, 2),
                    "release_ms": None if release_ms is None else round(release_ms, 2),
                    "finish_ms": round(finish_s * 1000, 1),
                    "cpu_s": round(cpu, 3),
                    "graph_resident_before_mb": round(before / 2**20, 1),
                    "graph_resident_after_mb": round(resident_bytes(graph.path) / 2**20, 1),
                    "text": heard.text,
                }
            )
    same = all(
        a["text"] == b["text"]
        for a in rows
        for b in rows
        if a["clip"] == b["clip"] and a["pass"] < b["pass"]
    )
    summary: dict[str, dict[str, float]] = {}
    for label, flag in (("after a release", True), ("pages kept", False)):
        part = [r for r in rows if r["after_release"] is flag]
        finish = [r["finish_ms"] for r in part]
        summary[label] = {
            "decodes": len(part),
            "finish_ms_p50": statistics.median(finish),
            "finish_ms_p95": _p(finish, 0.95),
            "cpu_s_per_audio_s": round(
                sum(r["cpu_s"] for r in part) / sum(r["audio_s"] for r in part), 3
            ),
            "graph_resident_after_mb_p50": statistics.median(
                r["graph_resident_after_mb"] for r in part
            ),
        }
    releases = [r["release_ms"] for r in rows if r["release_ms"] is not None]
    result = {
        "what": "the next decode after the mapped graph's pages were released, paired "
        "(benchmarks/footprint_release.py)",
        "loadavg_start": load_start,
        "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
        "cores": os.cpu_count(),
        "graph_mapped_mb": round(graph.size / 2**20, 1),
        "release_ms_p50": statistics.median(releases),
        "release_ms_max": max(releases),
        "same_transcripts_both_ways": same,
        "summary": summary,
        "decodes": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"load average {' '.join(load_start)} → {' '.join(result['loadavg_end'])}")
    print("| decode | n | finish() p50 / p95 ms | CPU s per audio s | graph resident after, MB |")
    print("|---|---|---|---|---|")
    for label, s in summary.items():
        print(
            f"| {label} | {s['decodes']:.0f} | {s['finish_ms_p50']:.0f} / {s['finish_ms_p95']:.0f}"
            f" | {s['cpu_s_per_audio_s']:.3f} | {s['graph_resident_after_mb_p50']:.0f} |"
        )
    print(f"release: p50 {result['release_ms_p50']:.2f} ms, max {result['release_ms_max']:.2f} ms")
    print(f"same transcripts in both passes (the recogniser's history differs): {same}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
