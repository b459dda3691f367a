"""How fast does the robot answer, and how well does it understand everyday intents?

Latency: from the end of the senior's speech (the VAD's end of the segment, as
benchmarks/voice_to_alert.py takes it) to the first sample of the robot's reply. The real
agent runs in this process, built as `dolbom device run` builds it (device.main.build_agent:
every default stage — privacy, motion, mood, the companion's DialogStage — and the consent
filter; Silero VAD, Vosk free + safety grammar, intent matching, the agent's loop and speech
thread; no broker) with a scripted source that plays clips at real-time pace, so stream time s
is wall time t0 + s. The DialogStage decides what to answer (the safety loop's own prompts
answer a call for help); a clip it does not answer is a miss. The speaker is the real
CachedSpeaker (espeak-ng synthesis, the LRU reply cache) whose player only notes when playback
would start. Each clip is measured with the
reply cache cold (emptied before the clip: synthesis included) and warm (the reply cached).

Clips: the committed espeak-ng dialog clips (tests/fixtures/dialog/audio, Korean) and short
human Korean clips from ../shared/data/ko-speech-dev (read in place, converted to WAV in a
temporary folder, never copied into the repository). One warm-up clip is not counted. Each
clip waits until the previous one is fully answered; a clip the VAD cuts into several
segments is excluded (and counted), since which reply answers which segment is ambiguous.

Accuracy: per-intent recall on the committed text utterances (Korean and English); on the 81
human ordinary clips, how many get an everyday intent, a safety intent, or a constrained
yes/no answer (the answer grammar with its garbage path; it should fire on none).

Usage: .venv/bin/python benchmarks/dialog.py [--dev-clips 8] [--pinned | --both]
Prints a table and writes benchmarks/results/dialog.json.
"""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentiles, read_flac
from device.agent import Step
from device.audio.asr import AnswerKind, SpeechRecognizer, load_model
from device.audio.pipeline import Listener
from device.audio.source import SAMPLE_RATE_HZ, ScriptedSource, WavSource
from device.audio.vad import SileroVad
from device.config import DeviceConfig
from device.dialog.intents import EMERGENCY_INTENTS, SAFETY_INTENTS, Intent, match_intent
from device.main import build_agent, default_stages
from device.speech.tts import Audio, CachedSpeaker, EspeakSynthesizer, ReplyCache, write_wav

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "dialog.json"
CLIPS = ROOT / "tests" / "fixtures" / "dialog" / "audio"
UTTERANCES = ROOT / "tests" / "fixtures" / "dialog"
DEV_DIR = ROOT.parent / "shared" / "data" / "ko-speech-dev"
TARGET_P95_S = 1.0
GAP_S = 1.5  # silence between clips: the reply is spoken (and the ears deaf) meanwhile
REPLY_TIMEOUT_S = 10.0
STAGES: list[str] = []  # the agent's stages, as the run built them
SHORT_CLIP_CHARS = 20
"""Dev clips with a transcript this short are mostly one VAD segment: a clip cut into several
gets several replies, and which one answers what is then ambiguous (excluded, counted)."""

console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


class TimingPlayer:
    """Plays nothing; sleeps for the reply's duration so the ears stay deaf as on a robot."""

    def play(self, audio: Audio) -> None:
        time.sleep(min(audio.duration_s, 0.5))


@dataclass
class Measure:
    """One clip heard and answered."""

    clip: str
    cache: str  # "cold" or "warm"
    intent: str = ""
    text: str = ""
    speech_end_at: float | None = None
    reply_at: float | None = None
    reply: str = ""
    cache_hit: bool | None = None

    @property
    def latency_s(self) -> float | None:
        if self.speech_end_at is None or self.reply_at is None:
            return None
        return self.reply_at - self.speech_end_at


@dataclass
class Recorder:
    """Collects the agent's steps and the speaker's playback starts, thread-safe."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    heard: list[tuple[float, float, str]] = field(default_factory=list)  # (at, stream end, detail)
    played: list[tuple[float, str, int]] = field(default_factory=list)  # (at, text, cache hits)

    def on_step(self, step: Step) -> None:
        if step.name == "heard" and step.stream_end_s is not None:
            with self.cond:
                self.heard.append((step.at_s, step.stream_end_s, step.detail))
                self.cond.notify_all()

    def wait(self, predicate: Any, timeout_s: float) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(predicate, timeout_s))


def to_wav(samples: Any, path: Path) -> Path:
    """16 kHz mono int16 samples as a WAV file (temporary folder only)."""
    write_wav(path, Audio(samples, SAMPLE_RATE_HZ))
    return path


def dev_rows() -> list[list[str]]:
    tsv = DEV_DIR / "transcripts.tsv"
    if not tsv.is_file():
        return []
    return [line.split("\t") for line in tsv.read_text("utf-8").splitlines()[1:] if line]


def latency_run(clips: Sequence[Path], workdir: Path) -> list[Measure]:
    """Play each clip twice (cold cache, then warm) into the real agent; measure each reply."""
    model = load_model()
    config = DeviceConfig(device_id="bench-dialog", data_dir=workdir, speech_out="print")
    cache = ReplyCache(workdir / "tts-cache")
    recorder = Recorder()

    def on_playback_start(text: str, at: float) -> None:
        with recorder.cond:
            recorder.played.append((at, text, cache.hits))
            recorder.cond.notify_all()

    speaker = CachedSpeaker(EspeakSynthesizer(), TimingPlayer(), cache, on_playback_start)
    source = ScriptedSource([], realtime=True, idle=True)
    listener = Listener(SpeechRecognizer(model), SileroVad(), config.vad)
    stages = default_stages(config)
    STAGES[:] = [stage.name for stage in stages]
    agent = build_agent(
        config,
        source=source,
        speaker=speaker,
        observer=recorder.on_step,
        stages=stages,
        listener=listener,
        offline=True,
    )
    measures: list[Measure] = []

    async def drive() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await asyncio.sleep(1.0)
        try:
            # Warm-up, not counted: the first decode after loading the model is ~0.5 s slower.
            await asyncio.to_thread(one_clip, clips[0], "warm-up")
            for clip in clips:
                for mode in ("cold", "warm"):
                    if mode == "cold":
                        for cached in cache.directory.glob("*.wav"):
                            cached.unlink()
                    measures.append(await asyncio.to_thread(one_clip, clip, mode))
        finally:
            stop.set()
            await task

    def quiet() -> None:
        """Wait until nothing was heard or said for GAP_S: the last clip is fully answered."""
        while True:
            with recorder.cond:
                counts = (len(recorder.heard), len(recorder.played))
            time.sleep(GAP_S)
            with recorder.cond:
                if (len(recorder.heard), len(recorder.played)) == counts:
                    return

    def one_clip(clip: Path, mode: str) -> Measure:
        m = Measure(clip.name, mode)
        quiet()
        with recorder.cond:
            n_heard, n_played = len(recorder.heard), len(recorder.played)
        hits_before = cache.hits
        source.say(clip)
        if not recorder.wait(lambda: len(recorder.played) > n_played, REPLY_TIMEOUT_S):
            return m
        quiet()  # every segment of the clip heard and answered
        with recorder.cond:
            heard = [h for h in recorder.heard[n_heard:] if "early, partial" not in h[2]]
            at, text, hits = recorder.played[n_played]
        if len(heard) != 1 or source.started_monotonic is None:
            m.text = f"excluded: {len(heard)} segments"  # the reply could answer either
            return m
        heard_at, stream_end_s, detail = heard[0]
        if at < heard_at:
            m.text = "excluded: a reply began before the segment was heard"
            return m
        m.speech_end_at = source.started_monotonic + stream_end_s
        m.reply_at, m.reply = at, text
        m.cache_hit = hits > hits_before
        m.intent = detail.rsplit("→ ", 1)[-1].split()[0] if "→ " in detail else ""
        m.text = detail
        return m

    asyncio.run(drive())
    return measures


def text_recall() -> dict[str, Any]:
    """Per-intent recall on the committed text utterances, both languages."""
    out: dict[str, Any] = {}
    for language in ("ko", "en"):
        raw = tomllib.loads((UTTERANCES / f"utterances_{language}.toml").read_text("utf-8"))
        per: dict[str, Any] = {}
        ok_all = n_all = 0
        emergencies = 0
        for key, texts in raw["utterances"].items():
            intent = Intent(key)
            heard = [match_intent(t, language=language).intent for t in texts]
            if intent is not Intent.NONE:
                ok = sum(h is intent for h in heard)
                per[key] = {"correct": ok, "n": len(texts), "recall": round(ok / len(texts), 3)}
                ok_all += ok
                n_all += len(texts)
            if intent not in SAFETY_INTENTS:
                emergencies += sum(h in EMERGENCY_INTENTS for h in heard)
            if intent is Intent.NONE:
                per["none"] = {
                    "n": len(texts),
                    "no_intent": sum(h is Intent.NONE for h in heard),
                    "safety_intent": sum(h in SAFETY_INTENTS for h in heard),
                }
        out[language] = {
            "per_intent": per,
            "overall_recall": round(ok_all / n_all, 3),
            "everyday_utterances_read_as_emergency": emergencies,
        }
    return out


def dev_accuracy() -> dict[str, Any] | None:
    """The 81 human ordinary clips: everyday / safety intents, and constrained yes/no answers."""
    rows = dev_rows()
    if not rows:
        return None
    recognizer = SpeechRecognizer(load_model())
    counts: dict[str, int] = defaultdict(int)
    answers = 0
    examples: list[dict[str, str]] = []
    vad_config = DeviceConfig("bench-dialog").vad
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            samples = read_flac(DEV_DIR / row[0])
            wav = to_wav(samples, Path(tmp) / "clip.wav")
            listener = Listener(recognizer, SileroVad(), vad_config)
            listener.expect(AnswerKind.YES_NO)
            heard = list(listener.listen(WavSource(wav)))
            intents = {u.intent for u in heard} - {Intent.NONE}
            counts["clips"] += 1
            counts["segments"] += len(heard)
            counts["any_everyday_intent"] += bool(intents - SAFETY_INTENTS)
            counts["any_safety_intent"] += bool(intents & SAFETY_INTENTS)
            counts["any_emergency_intent"] += bool(intents & EMERGENCY_INTENTS)
            answered = any(u.answer_text for u in heard)
            answers += answered
            if intents or answered:
                examples.append(
                    {
                        "file": row[0],
                        "heard": " / ".join(u.text for u in heard),
                        "intents": ",".join(sorted(i.value for i in intents)),
                        "answer": " / ".join(u.answer_text for u in heard if u.answer_text),
                    }
                )
        rtf = answer_grammar_cost(recognizer, rows[:RTF_CLIPS], Path(tmp), vad_config)
    return {
        **counts,
        "constrained_yes_no_answer_fired": answers,
        "listener_rtf": rtf,
        "examples": examples[:20],
    }


RTF_CLIPS = 15


def answer_grammar_cost(
    recognizer: SpeechRecognizer, rows: list[list[str]], tmp: Path, vad_config: Any
) -> dict[str, Any]:
    """The listener's real-time factor without and with an expected yes/no answer, same run,
    alternating twice; CPU time (this process) and wall time, with the load average."""
    wavs = [to_wav(read_flac(DEV_DIR / r[0]), tmp / f"rtf_{i}.wav") for i, r in enumerate(rows)]
    audio_s = sum(len(read_flac(DEV_DIR / r[0])) / SAMPLE_RATE_HZ for r in rows)
    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    for _ in range(2):
        for mode in ("free_and_safety_grammar", "with_yes_no_answer_grammar"):
            c0, w0 = time.process_time(), time.perf_counter()
            for wav in wavs:
                listener = Listener(recognizer, SileroVad(), vad_config)
                if mode == "with_yes_no_answer_grammar":
                    listener.expect(AnswerKind.YES_NO)
                list(listener.listen(WavSource(wav)))
            cpu[mode].append((time.process_time() - c0) / audio_s)
            wall[mode].append((time.perf_counter() - w0) / audio_s)
    return {
        "clips": len(rows),
        "audio_s": round(audio_s, 1),
        "cpu_rtf": {k: round(min(v), 3) for k, v in cpu.items()},
        "wall_rtf": {k: round(min(v), 3) for k, v in wall.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "note": "min of 2 alternating passes; CPU time counts every thread of this process",
    }


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """One configuration (2 cores, or pinned to core 0)."""
    if args.pinned:
        os.sched_setaffinity(0, {0})
    label = "pinned to 1 core" if args.pinned else f"{os.cpu_count()} cores"
    console.print(f"[bold]{label}[/bold]: latency on real-time clips …")
    clips = sorted(CLIPS.glob("ko_*.wav"))
    with tempfile.TemporaryDirectory() as tmp:
        dev = [r for r in dev_rows() if len(r) > 1 and len(r[1]) <= SHORT_CLIP_CHARS]
        dev = dev[: args.dev_clips]
        for row in dev:
            clips.append(to_wav(read_flac(DEV_DIR / row[0]), Path(tmp) / f"dev_{row[0]}.wav"))
        measures = latency_run(clips, Path(tmp) / "robot")
    result: dict[str, Any] = {
        "label": label,
        "stages": list(STAGES),
        "pinned": bool(args.pinned),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }
    for mode in ("cold", "warm"):
        values = [m.latency_s for m in measures if m.cache == mode and m.latency_s is not None]
        result[f"latency_{mode}_s"] = percentiles(values, raw=True)
        result[f"misses_{mode}"] = sum(
            1
            for m in measures
            if m.cache == mode and m.latency_s is None and not m.text.startswith("excluded")
        )
        result[f"excluded_{mode}"] = sum(
            1 for m in measures if m.cache == mode and m.text.startswith("excluded")
        )
    result["measures"] = [
        {
            "clip": m.clip,
            "cache": m.cache,
            "latency_s": None if m.latency_s is None else round(m.latency_s, 4),
            "reply": m.reply,
            "cache_hit": m.cache_hit,
            "heard": m.text,
        }
        for m in measures
    ]
    return result


def print_tables(doc: dict[str, Any]) -> None:
    table = Table(title="end of speech (VAD) → first sample of the reply")
    cols = ("configuration", "cache", "n", "p50 s", "p95 s", "max s", "misses", "excl.", "load")
    for col in cols:
        table.add_column(col)
    for config in doc["configs"]:
        for mode in ("cold", "warm"):
            p = config[f"latency_{mode}_s"]
            table.add_row(
                config["label"],
                mode,
                str(p["n"]),
                f"{p['p50']:.3f}" if p["p50"] is not None else "-",
                f"{p['p95']:.3f}" if p["p95"] is not None else "-",
                f"{p['max']:.3f}" if p["max"] is not None else "-",
                str(config[f"misses_{mode}"]),
                str(config[f"excluded_{mode}"]),
                str(config["load_average_1min_after"]),
            )
    console.print(table)
    console.print(f"the real agent, stages: {', '.join(doc['configs'][0]['stages'])}")
    recall = Table(title="intent recall on the committed text utterances")
    for col in ("intent", "ko", "en"):
        recall.add_column(col)
    ko, en = doc["text_recall"]["ko"]["per_intent"], doc["text_recall"]["en"]["per_intent"]
    for key in ko:
        if key == "none":
            continue
        recall.add_row(
            key,
            f"{ko[key]['correct']}/{ko[key]['n']}",
            f"{en[key]['correct']}/{en[key]['n']}" if key in en else "-",
        )
    recall.add_row(
        "overall",
        str(doc["text_recall"]["ko"]["overall_recall"]),
        str(doc["text_recall"]["en"]["overall_recall"]),
    )
    console.print(recall)
    dev = doc.get("dev_clips")
    if dev:
        console.print(
            f"human ordinary clips: {dev['clips']} clips; an everyday intent in "
            f"{dev['any_everyday_intent']}, a safety intent in {dev['any_safety_intent']} "
            f"(emergency {dev['any_emergency_intent']}); constrained yes/no answer fired on "
            f"{dev['constrained_yes_no_answer_fired']}"
        )
        rtf = dev["listener_rtf"]
        console.print(
            f"listener real-time factor (CPU) on {rtf['clips']} clips: "
            f"{rtf['cpu_rtf']['free_and_safety_grammar']} → "
            f"{rtf['cpu_rtf']['with_yes_no_answer_grammar']} with the yes/no answer grammar "
            f"(wall {rtf['wall_rtf']['free_and_safety_grammar']} → "
            f"{rtf['wall_rtf']['with_yes_no_answer_grammar']}, load {rtf['load_average_1min']})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-clips", type=int, default=8, help="human clips in the latency run")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--pinned", action="store_true", help="pin to CPU 0")
    mode.add_argument("--both", action="store_true", help="2 cores, then pinned to 1 core")
    parser.add_argument("--part", type=Path, help=argparse.SUPPRESS)  # a child's JSON
    args = parser.parse_args()
    if args.part is not None:
        args.part.write_text(json.dumps(run_config(args)), "utf-8")
        return
    configs = []
    if args.both:
        with tempfile.TemporaryDirectory() as tmp:
            for pinned in (False, True):
                part = Path(tmp) / f"{pinned}.json"
                cmd = [sys.executable, __file__, "--dev-clips", str(args.dev_clips)]
                cmd += ["--part", str(part), *(["--pinned"] if pinned else [])]
                if subprocess.run(cmd, check=False).returncode != 0:
                    raise BenchError(f"the {'pinned' if pinned else '2-core'} run failed")
                configs.append(json.loads(part.read_text("utf-8")))
    else:
        configs.append(run_config(args))
    console.print("intent accuracy …")
    doc = {
        "benchmark": "dialog",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "target": {"latency_p95_s": TARGET_P95_S},
        "method": __doc__,
        "configs": configs,
        "text_recall": text_recall(),
        "dev_clips": dev_accuracy(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print_tables(doc)
    console.print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(1)
