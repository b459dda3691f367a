"""The recogniser's peak memory, one change at a time (issue 17: peak RSS ≤ 650 MB).

Each variant is a process of its own under the allocator the Pi's unit gives the robot (jemalloc
preloaded with its MALLOC_CONF) with the speech graph mapped, as `deploy/pi/robot.toml` ships it.
It loads the model and the robot's `SpeechRecognizer` (70 MB renewal budget) and decodes the same
human Korean utterances (../shared/data/ko-speech-dev, sorted, as fast as they decode), as the
Listener feeds them (32 ms chunks; `idle()` at the chunk after each utterance when the variant
has it). The heartbeat's probe (`self_test`) runs on a thread of its own in the middle of every
third utterance, as the agent's loop may run it beside the audio thread's decode. Recorded per
variant: the peak (VmHWM) and the RSS at the end, anonymous and file-backed, renewals, graph
releases and the CPU time. The variants differ only in the changes named:

- `before`: the code before these changes (graph released only when an utterance is decided;
  the probe's pages kept; the free recogniser renewed at the next utterance's start);
- `probe`: + the probe's graph pages released after it;
- `in_decode`: + the graph released every `GRAPH_RELEASE_EVERY_S` of audio during a decode;
- `idle`: + the free recogniser renewed in idle time (after the utterance, not at the next start);
- `all`: the three together (the code as it ships).

  python benchmarks/footprint_peak.py --clips 40
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "footprint_peak.json"
SPEECH = ROOT.parent / "shared" / "data" / "ko-speech-dev"
VARIANTS = ("before", "probe", "in_decode", "idle", "all")
UNIT_MALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"  # deploy/pi/dolbom-robot.service


def _status() -> dict[str, float]:
    want = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in want:
            out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def child(args: argparse.Namespace) -> None:
    """One variant: load, decode every clip, print one JSON line."""
    import numpy as np

    from device.audio.asr import SpeechRecognizer, default_model_path
    from device.audio.source import CHUNK_SAMPLES, AudioChunk
    from device.speech_graph import load_mapped_model

    variant = args.variant
    with tempfile.TemporaryDirectory(prefix="dolbom-peak-") as tmp:
        model = load_mapped_model(default_model_path(), Path(tmp) / "speech-graph")
        if model is None:
            raise SystemExit("the speech graph could not be mapped")
        recognizer = SpeechRecognizer(model, rss_growth_mb=70.0)
        graph = recognizer.graph
        assert graph is not None
        probe_release = variant in ("probe", "all")
        if variant not in ("in_decode", "all"):
            recognizer.release_every_s = None
        elif args.release_every_s:
            recognizer.release_every_s = args.release_every_s
        idle = variant in ("idle", "all")
        if not probe_release:  # the probe's thread does not release (the code before)
            shipped = graph.release_soon

            def release_soon() -> None:
                if threading.current_thread().name != "probe":
                    shipped()

            graph.release_soon = release_soon  # type: ignore[method-assign]
        with np.load(args.sounds) as sounds:
            clips = [sounds[k] for k in sorted(sounds.files)]
        loaded = _status()
        cpu0 = sum(os.times()[:2])
        probes: list[bool] = []
        for n, samples in enumerate(clips):
            recognizer.start()
            probe = None
            chunks = range(0, len(samples) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES)
            for j, i in enumerate(chunks):
                if n % 3 == 2 and j == len(chunks) // 2:
                    probe = threading.Thread(
                        target=lambda: probes.append(recognizer.self_test()[0]), name="probe"
                    )
                    probe.start()
                recognizer.accept(AudioChunk(np.asarray(samples[i : i + CHUNK_SAMPLES]), 0.0))
            recognizer.finish()
            if probe is not None:
                probe.join()
            if idle:
                recognizer.idle()
        graph.wait_settled(60.0)  # the last release, on the graph's thread
        end = _status()
        print(
            json.dumps(
                {
                    "variant": variant,
                    "loaded": loaded,
                    "end": end,
                    "peak_mb": end["VmHWM"],
                    "renewals": recognizer.renewals,
                    "graph_releases": graph.releases,
                    "probes_ok": sum(probes),
                    "probes": len(probes),
                    "cpu_s": round(sum(os.times()[:2]) - cpu0, 1),
                }
            ),
            flush=True,
        )


def main() -> int:
    """The parent runs each variant in turn (order reversed on the second round) and writes."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=1, help="each variant this many times")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument(
        "--release-every-s", type=float, help="in_decode/all: seconds of audio between releases"
    )
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--sounds", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    import numpy as np

    from benchmarks.common import read_flac
    from benchmarks.footprint import _commit, jemalloc_path

    variants = args.variants.split(",")
    env = dict(os.environ, LD_PRELOAD=str(jemalloc_path()), MALLOC_CONF=UNIT_MALLOC_CONF)
    rows: list[dict[str, Any]] = []
    loads = [Path("/proc/loadavg").read_text().split()[:3]]
    with tempfile.TemporaryDirectory(prefix="dolbom-peak-") as tmp:
        sounds = Path(tmp) / "clips.npz"
        paths = sorted(SPEECH.glob("*.flac"))[: args.clips]
        audio = {f"clip{i:03d}": read_flac(p) for i, p in enumerate(paths)}
        np.savez(sounds, **audio)  # type: ignore[arg-type]
        audio_s = sum(len(a) for a in audio.values()) / 16000
        for r in range(args.rounds):
            for variant in variants if r % 2 == 0 else variants[::-1]:
                cmd = [sys.executable, __file__, "--child", "--variant", variant]
                if args.release_every_s:
                    cmd += ["--release-every-s", str(args.release_every_s)]
                run = subprocess.run(
                    [*cmd, "--sounds", str(sounds)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if run.returncode != 0:
                    print(run.stderr, file=sys.stderr)
                    return 1
                row = json.loads(run.stdout.strip().splitlines()[-1])
                rows.append(row)
                loads.append(Path("/proc/loadavg").read_text().split()[:3])
                e = row["end"]
                print(
                    f"  {variant:10s} peak {row['peak_mb']:6.1f} MB  end {e['VmRSS']:6.1f} MB"
                    f" (anon {e['RssAnon']:.0f}, file {e['RssFile']:.0f})  renewals"
                    f" {row['renewals']}  releases {row['graph_releases']}  cpu {row['cpu_s']} s"
                    f"  load {loads[-1][0]}",
                    flush=True,
                )
    print()
    print(f"| variant ({len(paths)} clips, {audio_s:.0f} s of audio) | peak | RSS at the end |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['variant']} | {row['peak_mb']:.0f} MB | {row['end']['VmRSS']:.0f} MB |")
    result = {
        "what": "recogniser peak RSS per change (benchmarks/footprint_peak.py)",
        "malloc": "jemalloc",
        "malloc_conf": UNIT_MALLOC_CONF,
        "graph": "mapped",
        "asr_rss_growth_mb": 70.0,
        "release_every_s": args.release_every_s or "GRAPH_RELEASE_EVERY_S (1.0)",
        "clips": len(paths),
        "audio_s": round(audio_s, 1),
        "commit": _commit(),
        "loadavg": loads,
        "runs": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
