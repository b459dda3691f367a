"""How large a fleet can one process simulate, and how fast does the HAL decode the serial line?

(a) Fleet: `firmware_sim.fleet.FleetSimulator` (paho-mqtt clients on one asyncio loop) at one
event per robot per 10 s, MQTT 5, QoS 1, against a private Mosquitto started for each step on
a free port (max_connections unlimited, RLIMIT_NOFILE raised to the hard limit; the shared
broker on 1883 is left alone). Ramp N (1k, 2k, 5k, 10k, then more while it holds), each step
in a fresh child process so its CPU and memory are its own: connect all robots, report for
--duration s with no drops (steady state), drain, disconnect. Per step: events created /
acknowledged, publish → PUBACK p50/p95/p99, schedule lag (due → created; "kept up" = p99
≤ 1 s), event-loop lag, the simulator's CPU (cores) and peak RSS, and the broker's. The ramp
stops at the first step that does not keep up or loses acknowledgements. Then one disrupted
run at --disrupted robots with the CLI's defaults: 5 % offline for 40 % of the run draining
their backlog on return, and a reconnect storm of 10 %.

(b) HAL decode: `device.hal.codec.FrameDecoder.feed` on a byte stream of realistic IMU frames
(body and wrist band, 50 Hz each; gravity, gait, tremor, sensor noise, quantized as the MCU
does) fed in 256-byte reads, clean and with injected corruption (bit flips, dropped bytes,
line noise). The robot needs 100 frames/s (50 Hz × 2 sensors at one sample per frame, the
worst case); the ratio decoded samples/s ÷ 100 is the headroom on this machine's one core.

Prints tables and writes benchmarks/results/fleet.json.
Usage: .venv/bin/python benchmarks/fleet.py [--steps 1000,2000,5000,10000,15000,19500]
       [--duration 60] [--disrupted 10000] [--hal-frames 50000] [--skip-fleet] [--skip-hal]
"""

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.hal.codec import FrameDecoder, encode_frame
from device.hal.messages import ImuBand, ImuBody, quantize_imu
from firmware_sim.fleet import BrokerAddress, FleetConfig, FleetError, FleetSimulator

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "fleet.json"
TARGET_DEVICES = 10_000
NEEDED_SAMPLES_S = 100.0  # 50 Hz × 2 sensors: 100 frames/s at one sample per frame
IMU_HZ = 50
READ_CHUNK = 256
FD_MARGIN = 100

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout_s: float) -> bool:
    """Poll until 127.0.0.1:port accepts connections or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# -- the broker -----------------------------------------------------------------------------
@dataclass
class Broker:
    """A private Mosquitto child process."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def usage(self) -> dict[str, float]:
        """CPU seconds so far, RSS and peak RSS in MB (from /proc)."""
        pid = self.proc.pid
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(stat[11]) + int(stat[12])) / ticks
        mem = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                mem[key] = int(value.split()[0]) / 1024
        return {"cpu_s": cpu, "rss_mb": mem.get("VmRSS", 0.0), "peak_rss_mb": mem.get("VmHWM", 0.0)}

    def fd_limit(self) -> int:
        """The broker's RLIMIT_NOFILE (soft)."""
        for line in Path(f"/proc/{self.proc.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise BenchError("cannot read the broker's file-descriptor limit")


@contextmanager
def mosquitto(workdir: Path) -> Iterator[Broker]:
    """`mosquitto -c` on a free 127.0.0.1 port, unlimited connections, no persistence."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise BenchError("the mosquitto binary is missing: `sudo apt-get install mosquitto`")
    port = free_port()
    conf = workdir / f"mosquitto-{port}.conf"
    log = workdir / f"mosquitto-{port}.log"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "max_connections -1\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n",
        encoding="utf-8",
    )
    with log.open("wb") as err:
        # The child inherits our RLIMIT_NOFILE, raised to the hard limit in main().
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=err)
    try:
        if not wait_listening(port, 10.0):
            raise BenchError(f"mosquitto did not listen on {port}: {log.read_text()[-1000:]}")
        yield Broker(proc, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)


# -- (a) one fleet step ---------------------------------------------------------------------
def child_main(config_json: str) -> None:
    """In the child process: run one fleet and print its report as JSON on stdout."""
    spec = json.loads(config_json)
    spec["broker"] = BrokerAddress(**spec["broker"])
    config = FleetConfig(**spec)
    report = FleetSimulator(
        config, progress=lambda m: print(f"  [{config.devices}] {m}", file=sys.stderr, flush=True)
    ).run()
    sys.stdout.write(json.dumps(report.to_dict()) + "\n")


def run_step(
    devices: int, args: argparse.Namespace, workdir: Path, *, disrupted: bool
) -> dict[str, Any]:
    """Start a broker, run one fleet in a child process, measure both."""
    label = f"{devices:,}" + (" disrupted" if disrupted else "")
    with mosquitto(workdir) as broker:
        broker_fds = broker.fd_limit()
        if broker_fds < devices + FD_MARGIN:
            raise BenchError(
                f"the broker may open only {broker_fds} files, {devices} robots need more"
            )
        spec = {
            "devices": devices,
            "rate_hz": args.rate,
            "duration_s": args.duration,
            "broker": {"host": "127.0.0.1", "port": broker.port},
            "prefix": f"bench-{devices}",
            "seed": 1,
            "mqtt_protocol": args.protocol,
            "offline_share": 0.05 if disrupted else 0.0,
            "storm_share": 0.1 if disrupted else 0.0,
        }
        console.print(f"[bold]\\[{label}][/] {devices} robots for {args.duration:g} s…")
        b0 = broker.usage()
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                stdout=subprocess.PIPE,
                timeout=args.duration + 600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"the {label} step did not finish in time") from None
        wall = time.monotonic() - t0
        b1 = broker.usage()
    if done.returncode != 0:
        return {"label": label, "devices": devices, "disrupted": disrupted, "failed": True}
    report: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    report["label"] = label
    report["disrupted"] = disrupted
    report["failed"] = False
    report["broker"] = {
        "fd_limit": broker_fds,
        "cpu_s": round(b1["cpu_s"] - b0["cpu_s"], 2),
        "cpu_share": round((b1["cpu_s"] - b0["cpu_s"]) / wall, 3),
        "rss_mb": round(b1["rss_mb"], 1),
        "peak_rss_mb": round(b1["peak_rss_mb"], 1),
    }
    report["child_wall_s"] = round(wall, 1)
    report["loadavg_1m"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    held = holds(report)
    console.print(
        f"[bold]\\[{label}][/] acked {report['acked']}/{report['created']}, PUBACK p99"
        f" {_ms(report['ack_latency_s']['p99'])} ms, lag p99"
        f" {_ms(report['schedule_lag_s']['p99'])} ms, CPU {report['run_cpu_share']:.2f} cores,"
        f" peak RSS {report['peak_rss_mb']:.0f} MB — "
        + ("[green]holds[/]" if held else "[red]does not hold[/]")
    )
    return report


def holds(r: dict[str, Any]) -> bool:
    """Kept its schedule, every robot connected and every event acknowledged."""
    return (
        not r.get("failed")
        and bool(r["kept_up"])
        and bool(r["all_acked"])
        and r["connected_at_start"] == r["devices"]
    )


# -- (b) HAL decode -------------------------------------------------------------------------
def imu_stream(frames: int, samples_per_frame: int, seed: int = 3) -> tuple[bytes, int]:
    """Encoded IMU frames alternating body / band, 50 Hz each; returns (bytes, frame count)."""
    rng = np.random.default_rng(seed)
    n = frames * samples_per_frame // 2 + samples_per_frame
    t = np.arange(n) / IMU_HZ
    # The band: walking at ~1.8 steps/s with a 6 Hz tremor; the body: mostly still on a shelf.
    band = np.zeros((n, 6))
    band[:, 0] = 0.25 * np.sin(2 * np.pi * 1.8 * t) + 0.02 * np.sin(2 * np.pi * 6 * t)
    band[:, 1] = 0.1 * np.sin(2 * np.pi * 0.9 * t + 0.4)
    band[:, 2] = 1.0 + 0.15 * np.sin(2 * np.pi * 1.8 * t + 1.0)
    band[:, 3:] = 40.0 * np.sin(2 * np.pi * 0.9 * t)[:, None] * np.array([1.0, 0.5, 0.2])
    band += rng.normal(0.0, [0.01, 0.01, 0.01, 0.8, 0.8, 0.8], size=(n, 6))
    body = np.zeros((n, 6))
    body[:, 2] = 1.0
    body += rng.normal(0.0, [0.004, 0.004, 0.004, 0.3, 0.3, 0.3], size=(n, 6))
    band_q, body_q = quantize_imu(band), quantize_imu(body)
    out = bytearray()
    count = 0
    for i in range(frames):
        k = (i // 2) * samples_per_frame
        ms = int(k * 1000 / IMU_HZ)
        if i % 2 == 0:
            msg: ImuBody | ImuBand = ImuBody(ms, body_q[k : k + samples_per_frame], seq=i & 0xFFFF)
        else:
            msg = ImuBand(ms, band_q[k : k + samples_per_frame], seq=i & 0xFFFF)
        out += encode_frame(msg)
        count += 1
    return bytes(out), count


def corrupt(data: bytes, error_rate: float, seed: int = 5) -> bytes:
    """Line faults at about `error_rate` per frame: bit flips, dropped bytes, noise bursts."""
    rng = np.random.default_rng(seed)
    buf = bytearray(data)
    faults = max(1, int(buf.count(0) / 2 * error_rate))
    positions = sorted(rng.choice(len(buf) - 64, size=faults, replace=False).tolist(), reverse=True)
    for pos in positions:
        kind = int(rng.integers(0, 3))
        if kind == 0:
            buf[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            del buf[pos : pos + int(rng.integers(1, 4))]
        else:
            buf[pos:pos] = (
                rng.integers(0, 256, size=int(rng.integers(1, 16))).astype(np.uint8).tobytes()
            )
    return bytes(buf)


def decode_rate(data: bytes, repeats: int) -> dict[str, Any]:
    """Feed `data` in READ_CHUNK reads `repeats` times; frames/s of the median run."""
    rates, frames, stats = [], 0, {}
    for _ in range(repeats):
        decoder = FrameDecoder()
        t0 = time.perf_counter()
        got = 0
        for i in range(0, len(data), READ_CHUNK):
            got += len(decoder.feed(data[i : i + READ_CHUNK]))
        elapsed = time.perf_counter() - t0
        rates.append(got / elapsed)
        frames, stats = got, decoder.stats.as_dict()
    return {
        "frames_decoded": frames,
        "frames_per_s": round(statistics.median(rates)),
        "stats": stats,
    }


def hal_bench(frames: int, repeats: int) -> list[dict[str, Any]]:
    """Decode throughput for 1 and 10 samples per frame, clean and with 1 % / 10 % faults."""
    rows = []
    for spf in (1, 10):
        clean, sent = imu_stream(frames, spf)
        for rate in (0.0, 0.01, 0.1):
            data = clean if rate == 0 else corrupt(clean, rate)
            r = decode_rate(data, repeats)
            r.update(
                samples_per_frame=spf,
                frames_sent=sent,
                fault_rate_per_frame=rate,
                bytes=len(data),
                samples_per_s=r["frames_per_s"] * spf,
                ratio_to_needed=round(r["frames_per_s"] * spf / NEEDED_SAMPLES_S, 1),
            )
            rows.append(r)
            console.print(
                f"HAL {spf} sample(s)/frame, faults {rate:.0%}: {r['frames_per_s']:,} frames/s"
                f" ({r['frames_decoded']}/{sent} recovered)"
            )
    return rows


# -- the report -----------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.1f}"


def fleet_table(steps: list[dict[str, Any]]) -> Table:
    """One row per fleet step."""
    t = Table(title="fleet simulator: one process, one event per robot per 10 s, private Mosquitto")
    for name in (
        "robots",
        "created / acked",
        "msg/s",
        "PUBACK ms p50 / p95 / p99",
        "lag p99 ms",
        "loop lag p99 ms",
        "sim CPU cores",
        "sim peak RSS MB",
        "broker CPU / RSS MB",
        "connect s",
        "holds",
    ):
        t.add_column(name, justify="right")
    for s in steps:
        if s.get("failed"):
            t.add_row(s["label"], "failed", *[""] * 8, "[red]✗[/]")
            continue
        a = s["ack_latency_s"]
        extra = ""
        if s["disrupted"]:
            extra = (
                f" (storm {s['storm_devices']} back in {s['storm_recovery_s']} s;"
                f" offline {s['offline_devices']} drained in {s['offline_drain_s']} s)"
            )
        t.add_row(
            s["label"] + extra,
            f"{s['created']} / {s['acked']}",
            f"{s['achieved_rate_msg_s']:.0f}",
            f"{_ms(a['p50'])} / {_ms(a['p95'])} / {_ms(a['p99'])}",
            _ms(s["schedule_lag_s"]["p99"]),
            _ms(s["loop_lag_s"]["p99"]),
            f"{s['run_cpu_share']:.2f}",
            f"{s['peak_rss_mb']:.0f}",
            f"{s['broker']['cpu_share']:.2f} / {s['broker']['peak_rss_mb']:.0f}",
            f"{s['connect_s']:.1f}",
            "[green]✓[/]" if holds(s) else "[red]✗[/]",
        )
    return t


def hal_table(rows: list[dict[str, Any]]) -> Table:
    """One row per HAL stream."""
    t = Table(title=f"HAL decode (FrameDecoder.feed, {READ_CHUNK}-byte reads, one core)")
    for name in (
        "samples/frame",
        "faults/frame",
        "frames recovered / sent",
        "frames/s",
        "samples/s",
        f"× needed ({NEEDED_SAMPLES_S:.0f} samples/s)",
    ):
        t.add_column(name, justify="right")
    for r in rows:
        t.add_row(
            str(r["samples_per_frame"]),
            f"{r['fault_rate_per_frame']:.0%}",
            f"{r['frames_decoded']} / {r['frames_sent']}",
            f"{r['frames_per_s']:,}",
            f"{r['samples_per_s']:,}",
            f"{r['ratio_to_needed']:,}",
        )
    return t


def main() -> None:
    """Parse arguments, run the fleet ramp and the HAL decode, print, write the JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", default="1000,2000,5000,10000,15000,19500")
    parser.add_argument("--duration", type=float, default=60.0, help="s of reporting per step")
    parser.add_argument("--rate", type=float, default=0.1, help="events/s per robot")
    parser.add_argument("--protocol", choices=("5", "3.1.1"), default="5")
    parser.add_argument("--disrupted", type=int, default=TARGET_DEVICES, help="0: skip")
    parser.add_argument("--hal-frames", type=int, default=50_000)
    parser.add_argument("--hal-repeats", type=int, default=5)
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--skip-hal", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        try:
            child_main(args.child)
        except FleetError as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(1) from None
        return
    try:
        steps_n = [int(s) for s in args.steps.split(",") if s.strip()]
    except ValueError:
        parser.error("--steps takes robot counts, e.g. 1000,5000,10000")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the broker and children inherit it
    steps: list[dict[str, Any]] = []
    hal: list[dict[str, Any]] = []
    try:
        if not args.skip_fleet:
            with tempfile.TemporaryDirectory(prefix="dolbom-bench-fleet-") as tmp:
                for n in steps_n:
                    if n + FD_MARGIN > hard:
                        console.print(f"[yellow]{n} robots need more than {hard} files: stop[/]")
                        break
                    step = run_step(n, args, Path(tmp), disrupted=False)
                    steps.append(step)
                    if not holds(step):
                        break
                if args.disrupted:
                    steps.append(run_step(args.disrupted, args, Path(tmp), disrupted=True))
        if not args.skip_hal:
            hal = hal_bench(args.hal_frames, args.hal_repeats)
    except KeyboardInterrupt:
        console.print("[red]interrupted: nothing written[/]")
        raise SystemExit(130) from None
    except BenchError as e:
        console.print(f"[red]error: {e}[/]")
        raise SystemExit(1) from None
    steady = [s for s in steps if not s.get("disrupted")]
    largest = max((s["devices"] for s in steady if holds(s)), default=0)
    result = {
        "benchmark": "fleet",
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "kernel": platform.release(),
            "fd_limit_hard": hard,
            "note": "2 cores shared with other work: see each step's loadavg_1m",
        },
        "parameters": {k: v for k, v in vars(args).items() if k not in ("out", "child")},
        "target_devices": TARGET_DEVICES,
        "largest_fleet_that_holds": largest,
        "largest_vs_target": round(largest / TARGET_DEVICES, 2),
        "steps": steps,
        "hal_needed_samples_per_s": NEEDED_SAMPLES_S,
        "hal": hal,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if steps:
        console.print(fleet_table(steps))
        console.print(
            f"largest fleet that holds: {largest:,} robots"
            f" ({result['largest_vs_target']}× the {TARGET_DEVICES:,} target)"
            + ("; the ramp's last step still held" if largest == steps_n[-1] else "")
        )
    if hal:
        console.print(hal_table(hal))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
