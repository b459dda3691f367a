"""The robot's memory over a simulated day, with every stage on (issue 17: peak RSS ≤ 650 MB).

The robot runs as its own process (so its RSS is its own): `build_agent` with the default
stages — privacy, the hardware layer against the virtual MCU on a PTY (run by this parent),
activity and fall models, mood (emotion model + voice prosody), dialog — and the robot's ears
(energy gate, Silero VAD, Vosk free + safety grammar, sound classifier), its MQTT link to the
system Mosquitto. Time is simulated (`ScaledClock`, `--speed` times real time); the ears hear a
modelled room (benchmarks.common.room_noise, -50 dBFS) with one human Korean utterance
(../shared/data/ko-speech-dev, cycled) every `--every-s` simulated seconds, paced by the
simulated clock (never ahead of it; when decoding falls behind, the audio lags and the JSON
says how much was heard). The child reports VmRSS and VmHWM every simulated hour.

Baseline in the same run: the README's last figure (745 MB peak with every stage on, before
issue 17) and the target, 650 MB.

  python benchmarks/footprint.py --hours 24 --speed 60
"""

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.audio.source import CHUNK_S, CHUNK_SAMPLES, AudioChunk
from device.clock import ScaledClock

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "data" / "ko-speech-dev"
RESULTS = ROOT / "benchmarks" / "results" / "footprint.json"
KST = timezone(timedelta(hours=9))
START = datetime(2026, 12, 7, 7, 0, tzinfo=KST)  # a Monday, 07:00
BASELINE_PEAK_MB = 745.0  # README, "Re-measured with every stage on", before issue 17
TARGET_MB = 650.0
UNIT_MALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"  # deploy/pi/dolbom-robot.service


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class DaySource:
    """A room's sound paced by the simulated clock, with an utterance every `every_s`."""

    def __init__(
        self, clock: ScaledClock, clips: list[np.ndarray], noise: np.ndarray, every_s: float
    ) -> None:
        self.clock = clock
        self.clips = clips
        self.every_s = every_s
        self.noise = noise
        self.stream_s = 0.0
        self.utterances = 0
        self._closed = threading.Event()

    def chunks(self) -> Iterator[AudioChunk]:
        """Chunks until closed; an utterance starts at every multiple of `every_s`."""
        n = 0
        speech: np.ndarray | None = None
        pos = 0
        next_speech_s = self.every_s / 2
        noise_at = 0
        while not self._closed.is_set():
            while self.stream_s > self.clock.monotonic():  # never ahead of simulated time
                if self._closed.wait(0.005):
                    return
            block = self.noise[noise_at : noise_at + CHUNK_SAMPLES]
            if len(block) < CHUNK_SAMPLES:
                noise_at = 0
                block = self.noise[:CHUNK_SAMPLES]
            noise_at += CHUNK_SAMPLES
            out = block.astype(np.int32)
            if speech is None and self.stream_s >= next_speech_s:
                speech, pos = self.clips[self.utterances % len(self.clips)], 0
                self.utterances += 1
                next_speech_s += self.every_s
            if speech is not None:
                part = speech[pos : pos + CHUNK_SAMPLES].astype(np.int32)
                out[: len(part)] += part
                pos += CHUNK_SAMPLES
                if pos >= len(speech):
                    speech = None
            yield AudioChunk(np.clip(out, -32768, 32767).astype(np.int16), n * CHUNK_S)
            n += 1
            self.stream_s = n * CHUNK_S

    def close(self) -> None:
        """Stop."""
        self._closed.set()


def room_sound() -> np.ndarray:
    """A minute of the modelled room at -50 dBFS, int16."""
    from benchmarks.common import room_noise

    noise: np.ndarray = np.clip(room_noise(60.0, -50.0), -32768, 32767).astype(np.int16)
    return noise


def clip_arrays() -> dict[str, np.ndarray]:
    """The human utterances, 16 kHz int16, in a fixed order."""
    from benchmarks.common import read_flac

    paths = sorted(SPEECH.glob("*.flac"))
    return {f"clip{i:03d}": read_flac(p) for i, p in enumerate(paths)}


def jemalloc_path() -> Path:
    """Debian's libjemalloc2 for this machine (the Pi's unit preloads the same package)."""
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(os.uname().machine, os.uname().machine)
    for folder in (f"/usr/lib/{arch}-linux-gnu", f"/lib/{arch}-linux-gnu"):
        path = Path(folder) / "libjemalloc.so.2"
        if path.exists():
            return path
    raise SystemExit("libjemalloc.so.2 not found: apt-get install libjemalloc2")


def _commit() -> str:
    run = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return run.stdout.strip()


def child(args: argparse.Namespace) -> None:
    """The robot: every stage on; one JSON line per simulated hour."""
    from device.agent import Step
    from device.config import DeviceConfig, HalConfig, MqttConfig
    from device.main import build_agent, open_listener
    from device.speech.tts import PrintSpeaker

    logging.basicConfig(level=logging.WARNING)
    clock = ScaledClock(args.speed, start=START.astimezone(UTC))
    # The sounds come from the parent: benchmarks.common imports scipy (~76 MB), the robot not.
    with np.load(args.sounds) as sounds:
        clips = [sounds[k] for k in sorted(sounds.files) if k.startswith("clip")]
        noise = sounds["noise"]
    source = DaySource(clock, clips, noise, args.every_s)
    heard = [0]

    def observe(step: Step) -> None:
        if step.name == "heard":
            heard[0] += 1

    config = DeviceConfig(
        device_id=f"footprint-robot-{os.getpid()}",  # runs side by side: distinct MQTT clients
        data_dir=Path(args.data_dir),
        speech_out="print",
        mqtt=MqttConfig(port=args.mqtt_port),
        hal=HalConfig(enabled=True, port=args.mcu),
        asr_graph=args.graph,
        asr_rss_growth_mb=args.rss_growth_mb,
    )
    ears = open_listener(config)
    graph = getattr(ears.recognizer, "graph", None)
    if graph is not None:
        ears.recognizer.release_graph_pages = args.graph_release == "on"  # type: ignore[attr-defined]
    agent = build_agent(
        config,
        source=source,
        speaker=PrintSpeaker(lambda _t: None),
        observer=observe,
        clock=clock,
        listener=ears,
    )

    def report(hour: int) -> None:
        print(
            json.dumps(
                {
                    "hour": hour,
                    "rss_mb": round(_status_mb("VmRSS"), 1),
                    "hwm_mb": round(_status_mb("VmHWM"), 1),
                    "anon_mb": round(_status_mb("RssAnon"), 1),
                    "file_mb": round(_status_mb("RssFile"), 1),
                    "renewals": getattr(ears.recognizer, "renewals", None),
                    "graph_releases": None if graph is None else graph.releases,
                    "graph_release_ms_max": (
                        None if graph is None else round(graph.release_s_max * 1000, 2)
                    ),
                    "graph_release_ms_mean": (
                        None
                        if graph is None or not graph.releases
                        else round(graph.release_s_total / graph.releases * 1000, 2)
                    ),
                    "cpu_s": round(sum(os.times()[:2]), 1),
                    "audio_h": round(source.stream_s / 3600, 3),
                    "utterances_played": source.utterances,
                    "heard": heard[0],
                    "sim_h": round(clock.monotonic() / 3600, 3),
                }
            ),
            flush=True,
        )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        report(0)
        for hour in range(1, args.hours + 1):
            while clock.monotonic() < hour * 3600:
                await asyncio.sleep(0.2)
                if task.done():
                    await task  # raise what stopped it
            report(hour)
        stop.set()
        source.close()
        await task

    asyncio.run(main())


def parent(args: argparse.Namespace) -> int:
    """Start the virtual MCU and the robot, collect its hourly figures, print and write."""
    from firmware_sim.body import Battery
    from firmware_sim.mcu import VirtualMcu
    from firmware_sim.pty import PtyMcu
    from firmware_sim.world import World, plan_days

    with tempfile.TemporaryDirectory(prefix="dolbom-footprint-") as tmp:
        clock = ScaledClock(args.speed, start=START.astimezone(UTC))
        segments, touches = plan_days(START, args.hours + 1, np.random.default_rng(17))
        pty = PtyMcu(VirtualMcu(World(segments, touches), 17, battery=Battery(80, True)), clock)
        port = pty.start()
        commit = _commit()  # the code measured: HEAD when the run starts
        load_start = Path("/proc/loadavg").read_text().split()[:3]
        sounds = Path(tmp) / "sounds.npz"
        np.savez(sounds, *(), noise=room_sound(), **clip_arrays())  # type: ignore[arg-type]
        started = time.monotonic()
        cmd = [
            sys.executable, __file__, "--child", "--hours", str(args.hours), "--speed",
            str(args.speed), "--every-s", str(args.every_s), "--data-dir", tmp + "/robot",
            "--graph", args.graph, "--rss-growth-mb", str(args.rss_growth_mb),
            "--graph-release", args.graph_release,
            "--mcu", port, "--mqtt-port", str(args.mqtt_port), "--sounds", str(sounds),
        ]  # fmt: skip
        rows: list[dict[str, Any]] = []
        env = dict(os.environ)
        if args.malloc == "jemalloc":  # as deploy/pi/dolbom-robot.service runs the robot
            env["LD_PRELOAD"] = str(jemalloc_path())
            env["MALLOC_CONF"] = args.malloc_conf
        elif args.arenas:
            env["MALLOC_ARENA_MAX"] = str(args.arenas)
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                row = json.loads(line)
                rows.append(row)
                print(
                    f"  sim {row['sim_h']:6.2f} h  RSS {row['rss_mb']:6.1f} MB  peak"
                    f" {row['hwm_mb']:6.1f} MB  (anon {row['anon_mb']:.0f}, file"
                    f" {row['file_mb']:.0f})  renewals {row['renewals']}"
                    f"  heard {row['heard']}/{row['utterances_played']}"
                    f"  audio {row['audio_h']:.2f} h",
                    flush=True,
                )
            rc = proc.wait()
        pty.stop()
    if rc != 0 or not rows:
        print(f"robot exited with {rc}", file=sys.stderr)
        return 1
    at = {r["hour"]: r for r in rows}
    one, last = at.get(1, rows[-1]), rows[-1]
    peak = max(r["hwm_mb"] for r in rows)
    result = {
        "what": "robot RSS, every stage on, over a simulated day (benchmarks/footprint.py)",
        "malloc": args.malloc,
        "malloc_conf": args.malloc_conf if args.malloc == "jemalloc" else None,
        "graph": args.graph,
        "graph_release": args.graph_release if args.graph == "mapped" else None,
        "asr_rss_growth_mb": args.rss_growth_mb,
        "loadavg_start": load_start,
        "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
        "malloc_arena_max": (args.arenas or "glibc default") if args.malloc == "glibc" else None,
        "commit": commit,
        "host": os.uname().machine,
        "speed": args.speed,
        "hours": args.hours,
        "every_s": args.every_s,
        "real_minutes": round((time.monotonic() - started) / 60, 1),
        "stages": "privacy, hal (virtual MCU on a PTY), motion (activity+fall), mood, dialog",
        "ears": "energy gate, Silero VAD, Vosk free + safety grammar, sound classifier",
        "rss_1h_mb": one["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "peak_rss_mb": peak,
        "growth_1h_to_end_mb": round(last["rss_mb"] - one["rss_mb"], 1),
        "baseline_peak_mb": BASELINE_PEAK_MB,
        "target_mb": TARGET_MB,
        "hourly": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = "✓" if peak <= TARGET_MB else "✗"
    print()
    print(
        f"| metric | target | before (README) | now ({args.hours} h simulated at {args.speed}×) |"
    )
    print("|---|---|---|---|")
    target, before = f"≤ {TARGET_MB:.0f} MB", f"{BASELINE_PEAK_MB:.0f} MB"
    what = f"{args.malloc}, graph {args.graph}"
    if args.graph == "mapped":
        what += f", release {args.graph_release}"
    print(f"| peak RSS (VmHWM), {what} | {target} | {before} | {peak:.0f} MB {ok} |")
    print(f"| RSS at 1 h | | | {one['rss_mb']:.0f} MB |")
    print(f"| RSS at {last['hour']} h | | | {last['rss_mb']:.0f} MB |")
    counts = f"{last['heard']} / {last['utterances_played']}"
    print(f"| agent 'heard' steps (incl. early) / utterances played | | | {counts} |")
    print(f"wrote {out}")
    return 0


def main() -> int:
    """Parse the arguments; the child runs the robot, the parent measures it."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--every-s", type=float, default=300.0, help="simulated s between utterances")
    ap.add_argument("--mqtt-port", type=int, default=1883)
    ap.add_argument("--malloc", choices=("jemalloc", "glibc"), default="jemalloc")
    ap.add_argument(
        "--graph",
        choices=("heap", "mapped"),
        default="mapped",
        help="the speech graph mapped (as deploy/pi/robot.toml ships) or read into the heap",
    )
    ap.add_argument(
        "--graph-release",
        choices=("on", "off"),
        default="on",
        help="mapped graph: give its pages back when each utterance is decided (as the code does)",
    )
    ap.add_argument(
        "--malloc-conf",
        default=UNIT_MALLOC_CONF,
        help="jemalloc's MALLOC_CONF (default: the unit's; '' for jemalloc's own defaults)",
    )
    ap.add_argument(
        "--rss-growth-mb",
        type=float,
        default=70.0,
        help="DeviceConfig.asr_rss_growth_mb: the free recogniser's renewal budget",
    )
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--arenas", type=int, default=2, help="glibc's MALLOC_ARENA_MAX (0: default)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--mcu", help=argparse.SUPPRESS)
    ap.add_argument("--sounds", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
