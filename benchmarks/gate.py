"""Idle CPU of the robot's ears in a quiet room, with and without the energy gate.

The same 120 s of a modelled quiet room (benchmarks.common.room_noise: pink noise plus 60 Hz
hum, at -60, -55 and -45 dBFS RMS; a stated model, not a recording) is fed chunk by chunk to
the robot's ears (real Silero, real Vosk recogniser, the safety evidence, the sound
classifier), once with the gate (device.audio.gate) and once without it (Silero on every
chunk: the first wave's ears, the baseline). CPU is this process's CPU time over the audio's
duration, as a share of one core; the gate's own cost is included. Also counted: the chunks
the VAD had to look at and the segments (false wake-ups) each run opened.

A second part plays 12 loud, clipped copies of the committed MIT calls for help (x8 gain)
after the quiet room to count how many reach recognition with and without the gate
(plumbing: five clips made loud, not new evidence of recall).

Prints a table, writes benchmarks/results/gate.json.
Usage: .venv/bin/python benchmarks/gate.py [--seconds 120]
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import room_noise
from device.audio.asr import SpeechRecognizer, load_model
from device.audio.denoise import NoiseSuppressor
from device.audio.gate import EnergyGate, GateConfig
from device.audio.pipeline import Listener
from device.audio.sounds import SoundClassifier
from device.audio.source import CHUNK_SAMPLES, SAMPLE_RATE_HZ, AudioChunk, read_wav
from device.audio.vad import SileroVad
from device.config import VadConfig

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "gate.json"
HELP = ROOT / "tests" / "fixtures" / "audio" / "ko-help-calls"
LEVELS = (-60.0, -55.0, -45.0)


def _chunks(x: np.ndarray) -> list[AudioChunk]:
    pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    n = len(pcm) // CHUNK_SAMPLES
    return [
        AudioChunk(pcm[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES], i * CHUNK_SAMPLES / 16000)
        for i in range(n)
    ]


def _listener(recognizer: SpeechRecognizer, sounds: SoundClassifier, gated: bool) -> Listener:
    gate = EnergyGate(GateConfig(enabled=gated))
    return Listener(
        recognizer,
        SileroVad(),
        VadConfig(),
        gate=gate,
        sounds=sounds,
        denoiser=NoiseSuppressor(),  # as the robot runs: it keeps the room's last chunks
    )


def idle(
    recognizer: SpeechRecognizer, sounds: SoundClassifier, audio: np.ndarray, gated: bool
) -> dict[str, Any]:
    chunks = _chunks(audio)
    listener = _listener(recognizer, sounds, gated)
    segments = 0
    c0, t0 = time.process_time(), time.perf_counter()
    for chunk in chunks:
        if listener.process(chunk) is not None:
            segments += 1
    segments += len(listener.flush())
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    seconds = len(audio) / SAMPLE_RATE_HZ
    return {
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cpu_pct_of_one_core": round(100 * cpu / seconds, 2),
        "vad_chunks": listener.gate.vad_chunks,
        "chunks": len(chunks),
        "segments_opened": segments,
    }


def shouted(recognizer: SpeechRecognizer, sounds: SoundClassifier, gated: bool) -> dict[str, Any]:
    reached = 0
    clips = sorted(HELP.glob("*.wav"))
    for i, path in enumerate(clips):
        call = np.clip(read_wav(path).astype(np.float64) * 8.0, -32768, 32767)
        audio = np.concatenate([room_noise(6.0, seed=i), call, room_noise(1.5, seed=50 + i)])
        listener = _listener(recognizer, sounds, gated)
        heard = [u for u in (listener.process(c) for c in _chunks(audio)) if u is not None]
        heard += listener.flush()
        reached += any(u.text or u.sound is not None for u in heard)
    return {"clips": len(clips), "reached_recognition": reached}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    recognizer = SpeechRecognizer(load_model())
    sounds = SoundClassifier.load()
    rows: dict[str, Any] = {}
    for level in LEVELS:
        audio = room_noise(args.seconds, level_dbfs=level, seed=int(-level))
        rows[f"{level:.0f} dBFS"] = {
            "gate": idle(recognizer, sounds, audio, gated=True),
            "no_gate": idle(recognizer, sounds, audio, gated=False),
        }
    loud = {
        "gate": shouted(recognizer, sounds, gated=True),
        "no_gate": shouted(recognizer, sounds, gated=False),
    }
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "room_model": "pink noise (one-pole 0.95) + 60 Hz hum 10 dB below, RMS at the level",
        "seconds": args.seconds,
        "idle": rows,
        "shouted_calls_x8_clipped": loud,
        "gate_config": GateConfig().__dict__,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'room level':<12}{'ears':<9}{'CPU % of a core':>16}{'VAD chunks':>12}{'segments':>10}")
    for room, pair in rows.items():
        for name, r in pair.items():
            print(
                f"{room:<12}{name:<9}{r['cpu_pct_of_one_core']:>16.2f}"
                f"{r['vad_chunks']:>8}/{r['chunks']:<5}{r['segments_opened']:>8}"
            )
    for name, r in loud.items():
        share = f"{r['reached_recognition']}/{r['clips']}"
        print(f"shouted calls (x8, clipped) reaching recognition, {name}: {share}")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
