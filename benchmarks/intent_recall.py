"""Does the robot hear real calls for help, and does it stay quiet on ordinary life?

Runs the robot's own ears (device.main.open_listener's parts: energy gate, Silero, Vosk free +
safety grammar with a garbage path, the safety evidence bands, the sound classifier) over the
human development sets, read in place from ../shared/data:

- ko-help-calls (5 calls for help, MIT): how many reach an emergency at once, how many a
  check ("도와 드릴까요?");
- ko-speech-dev (81 ordinary clips, 41 speakers) and ko-speech-long-dev (27 min of TEDx talks,
  as a television sounds): emergencies and checks, per hour; answers (yes/no/done/not yet)
  that a long sentence would have given the robot without the length guard;
- ko-nonverbal-dev (671 non-verbal clips, 16 classes): how many distress clips reach a check
  and how many everyday sounds do. The shipped sound model was trained on these clips, so
  these counts are in-sample; the speaker-held-out figures come from the model's sidecar
  (benchmarks/results/sound.json) and are printed beside them.

Baseline in the same run: the first wave's rule (`match_intent` alone: a close free match,
or a looser one the grammar corroborates) on the same transcripts.
Prints a table, writes benchmarks/results/intent_recall.json.
Usage: .venv/bin/python benchmarks/intent_recall.py [--data ../shared/data] [--no-nonverbal]
       [--workers N]  (N processes, each with its own ears, over the recordings: the same
       decisions, since every recording gets fresh ears; a shorter run on a shared machine)
"""

import argparse
import csv
import dataclasses
import json
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import read_flac
from device.audio.asr import DEFAULT_GRAMMAR_TOKENS, SpeechRecognizer, load_model
from device.audio.pipeline import Utterance, robot_listener
from device.audio.sounds import SoundClassifier
from device.audio.source import SAMPLE_RATE_HZ, read_wav, split_chunks
from device.config import VadConfig
from device.dialog.answers import answer_like
from device.dialog.intents import EMERGENCY_INTENTS, Intent, match_everyday, match_intent
from device.dialog.jamo import normalize
from device.safety.evidence import gather
from device.safety.evidence import load_model as load_evidence

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "intent_recall.json"
ASK = frozenset({Intent.CHECK, Intent.DISTRESS})
ANSWERS = frozenset({Intent.YES, Intent.NO, Intent.DONE, Intent.NOT_YET})


@dataclass
class Clip:
    """What the ears made of one recording."""

    name: str
    duration_s: float
    seconds: float
    utterances: list[Utterance]
    early: int = 0
    label: str = ""
    reference: str = ""
    speaker: str = ""
    baseline: bool = False  # the first wave's rule found an emergency
    answers_unguarded: int = field(default=0)  # answer intents a long sentence carried
    classified: int = 0  # segments and spans the sound classifier heard
    ears_load_s: float = 0.0  # how long the ears that heard it took to load

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances if u.text)

    @property
    def emergency(self) -> bool:
        return self.early > 0 or any(u.intent in EMERGENCY_INTENTS for u in self.utterances)

    @property
    def asked(self) -> int:
        return sum(u.intent in ASK for u in self.utterances)


class Ears:
    def __init__(
        self,
        sounds: SoundClassifier,
        *,
        denoise: bool = True,
        recognizer: SpeechRecognizer | None = None,
    ) -> None:
        self.recognizer = recognizer or SpeechRecognizer(load_model())
        self.sounds = sounds
        self.denoise = denoise

    def run(self, name: str, samples: np.ndarray) -> Clip:
        listener = robot_listener(
            self.recognizer, VadConfig(), "ko", sounds=self.sounds, denoise=self.denoise
        )
        t0 = time.perf_counter()
        utterances, early = [], 0
        for chunk in split_chunks(samples):
            u = listener.process(chunk)
            if u is not None and u.early:
                early += 1
            elif u is not None:
                utterances.append(u)
        utterances += listener.flush()
        clip = Clip(
            name, len(samples) / SAMPLE_RATE_HZ, time.perf_counter() - t0, utterances, early
        )
        clip.classified = listener.sounds_classified
        clip.baseline = any(
            match_intent(u.text, u.grammar_text, _grammar_confidence(u)).intent in EMERGENCY_INTENTS
            for u in utterances
        )
        clip.answers_unguarded = sum(
            match_everyday(u.text).intent in ANSWERS and not answer_like(u.text, u.duration_s)
            for u in utterances
        )
        return clip


_EARS: list[Ears] = []  # this process's ears (one per process: loaded once, reused per clip)
_EARS_LOAD_S: list[float] = []


def _hear(job: tuple[str, Path, bool]) -> Clip:
    """(name, path, denoise) → what this process's ears made of the recording, without its
    audio (fresh ears per recording, so the process that hears it makes no difference)."""
    name, path, denoise = job
    if not _EARS:
        t0 = time.perf_counter()
        _EARS.append(Ears(SoundClassifier.load()))
        _EARS_LOAD_S.append(time.perf_counter() - t0)
    ears = _EARS[0]
    if not denoise:
        ears = Ears(ears.sounds, denoise=False, recognizer=ears.recognizer)
    clip = ears.run(name, read_wav(path) if path.suffix == ".wav" else read_flac(path))
    clip.utterances = [  # what crosses back to the parent: no audio, plain scores
        dataclasses.replace(
            u,
            samples=None,
            sound=None
            if u.sound is None
            else dataclasses.replace(u.sound, scores=dict(u.sound.scores)),
        )
        for u in clip.utterances
    ]
    clip.ears_load_s = _EARS_LOAD_S[0]
    return clip


def _hear_all(jobs: list[tuple[str, Path, bool]], workers: int) -> list[Clip]:
    """Every job's Clip, in the jobs' order; the longest recordings first across workers."""
    if workers <= 1:
        return [_hear(job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][1].stat().st_size)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        heard = list(pool.map(_hear, [jobs[i] for i in order], chunksize=1))
    clips: list[Clip | None] = [None] * len(jobs)
    for i, clip in zip(order, heard, strict=True):
        clips[i] = clip
    return [c for c in clips if c is not None]


def _grammar_confidence(u: Utterance) -> float:
    """The safety grammar's mean confidence over its phrase words (the first wave's input)."""
    confs = [w.conf for w in u.grammar_words if w.word in DEFAULT_GRAMMAR_TOKENS]
    return sum(confs) / len(confs) if confs else 0.0


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return len(hyp), 0
    prev = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        cur = [i] + [0] * len(hyp)
        for j in range(1, len(hyp) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] != hyp[j - 1]))
        prev = cur
    return prev[-1], len(ref)


def summary(clips: list[Clip]) -> dict[str, Any]:
    hours = sum(c.duration_s for c in clips) / 3600
    emergencies = sum(
        (c.early > 0) + sum(u.intent in EMERGENCY_INTENTS for u in c.utterances) for c in clips
    )
    checks = sum(c.asked for c in clips)
    return {
        "recordings": len(clips),
        "hours": round(hours, 3),
        "utterances": sum(len(c.utterances) for c in clips),
        "emergencies": emergencies,
        "checks": checks,
        "emergencies_per_hour": round(emergencies / hours, 2) if hours else None,
        "checks_per_hour": round(checks / hours, 2) if hours else None,
        "baseline_recordings_with_emergency": sum(c.baseline for c in clips),
        "answers_a_long_sentence_would_have_given": sum(c.answers_unguarded for c in clips),
        "examples": [
            {"clip": c.name, "intent": u.intent.value, "why": list(u.reasons)}
            for c in clips
            for u in c.utterances
            if u.intent in EMERGENCY_INTENTS or u.intent in ASK
        ][:10],
        "highest_p": closest(clips),
    }


def closest(clips: list[Clip], n: int = 8) -> list[dict[str, Any]]:
    """The utterances whose evidence came closest to a call (highest P): the margins."""
    model = load_evidence()
    scored = []
    for c in clips:
        for u in c.utterances:
            ev = gather(u.text, u.grammar_words)
            scored.append((model.probability(ev.features()), c.name, u, ev))
    scored.sort(key=lambda t: -t[0])
    return [
        {
            "clip": name,
            "p": round(p, 4),
            "intent": u.intent.value,
            "text": u.text,
            "grammar": u.grammar_text,
            "free_similarity": round(ev.free_similarity, 3),
            "grammar_confidence": round(ev.grammar_confidence, 3),
            "grammar_extra": ev.grammar_extra,
            "syllables": ev.syllables,
        }
        for p, name, u, ev in scored[:n]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--no-nonverbal", action="store_true", help="skip the 671 sound clips")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes hearing the recordings (default 1)"
    )
    args = parser.parse_args()
    data: Path = args.data

    evidence = load_evidence()
    calls = sorted((data / "ko-help-calls").glob("*.wav"))
    with (data / "ko-speech-dev" / "transcripts.tsv").open(encoding="utf-8") as f:
        references = {row["file"]: row["text"] for row in csv.DictReader(f, delimiter="\t")}
    talks = sorted((data / "ko-speech-long-dev").glob("*.flac"))
    rows: list[dict[str, str]] = []
    if not args.no_nonverbal:
        with (data / "ko-nonverbal-dev" / "clips.tsv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    # The calls also without the steady-noise suppressor in front of the recogniser (the ears
    # before 2026-12-05 20:00): the baseline of the suppressor, in the same run.
    jobs = (
        [(p.name, p, True) for p in calls]
        + [(p.name, p, False) for p in calls]
        + [(name, data / "ko-speech-dev" / name, True) for name in sorted(references)]
        + [(p.name, p, True) for p in talks]
        + [(row["file"], data / "ko-nonverbal-dev" / row["file"], True) for row in rows]
    )
    heard = iter(_hear_all(jobs, args.workers))
    helps = [next(heard) for _ in calls]
    helps_raw = [next(heard) for _ in calls]
    dev = [next(heard) for _ in references]
    for clip in dev:
        clip.reference = references[clip.name]
    long = [next(heard) for _ in talks]
    sound_clips = [next(heard) for _ in rows]
    load_s = helps[0].ears_load_s if helps else 0.0

    nonverbal: dict[str, Any] = {}
    if args.no_nonverbal and OUT.exists():  # keep the last measured figures, saying so
        previous = json.loads(OUT.read_text(encoding="utf-8")).get("nonverbal") or {}
        if previous:
            nonverbal = {**previous, "not_re_run": "--no-nonverbal: from the previous run"}
    if not args.no_nonverbal:
        from models.sound.data import DISTRESS

        per_class: dict[str, list[int]] = {}
        reached: dict[str, list[int]] = {}
        for row, clip in zip(rows, sound_clips, strict=True):
            flagged = int(clip.asked > 0 or clip.emergency)
            per_class.setdefault(row["class"], []).append(flagged)
            reached.setdefault(row["class"], []).append(int(clip.classified > 0))
        distress = [f for c, fs in per_class.items() if c in DISTRESS for f in fs]
        everyday = [f for c, fs in per_class.items() if c not in DISTRESS for f in fs]
        sound_json = ROOT / "benchmarks" / "results" / "sound.json"
        held_out = (
            json.loads(sound_json.read_text(encoding="utf-8"))["speaker_held_out"]
            if sound_json.exists()
            else {}
        )
        nonverbal = {
            "note": "in-sample: the shipped sound model was trained on these clips",
            "emergencies": sum(c.emergency for c in sound_clips),
            "words_highest_p": closest(sound_clips),
            "distress_reached_a_check": round(sum(distress) / len(distress), 3),
            "everyday_checked": round(sum(everyday) / len(everyday), 3),
            "per_class_checked": {c: round(sum(fs) / len(fs), 3) for c, fs in per_class.items()},
            "distress_reached_the_classifier": round(
                sum(f for c, fs in reached.items() if c in DISTRESS for f in fs)
                / sum(len(fs) for c, fs in reached.items() if c in DISTRESS),
                3,
            ),
            "per_class_reached_the_classifier": {
                c: round(sum(fs) / len(fs), 3) for c, fs in reached.items()
            },
            "speaker_held_out_from_sidecar": {
                k: held_out.get(k)
                for k in ("distress_recall", "everyday_flagged", "per_class_flagged")
            },
        }

    errors = sum(cer(c.reference, c.text)[0] for c in dev)
    ref_chars = sum(cer(c.reference, c.text)[1] for c in dev)
    speech = dev + long + helps
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "evidence_model": {
            "version": evidence.version,
            "act_threshold": evidence.act_threshold,
            "check_threshold": evidence.check_threshold,
            "call_max_syllables": evidence.call_max_syllables,
        },
        "help_calls": {
            "clips": len(helps),
            "emergency_at_once": sum(c.emergency for c in helps),
            "emergency_or_check": sum(c.emergency or c.asked > 0 for c in helps),
            "baseline_emergency": sum(c.baseline for c in helps),
            "without_noise_suppressor": {
                "emergency_at_once": sum(c.emergency for c in helps_raw),
                "emergency_or_check": sum(c.emergency or c.asked > 0 for c in helps_raw),
            },
            "per_clip": {
                c.name: [
                    {
                        "text": u.text,
                        "grammar": u.grammar_text,
                        "intent": u.intent.value,
                        "loud": u.loud,
                        "why": list(u.reasons),
                    }
                    for u in c.utterances
                ]
                for c in helps
            },
        },
        "ordinary_dev_clips": summary(dev),
        "long_speech": summary(long),
        "nonverbal": nonverbal,
        "free_cer_dev": round(errors / ref_chars, 4),
        "real_time_factor": round(
            sum(c.seconds for c in speech) / sum(c.duration_s for c in speech), 4
        ),
        "model_load_s": round(load_s, 2),
        "peak_rss_mb": round(  # one process's ears: with --workers, the largest worker's
            max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            )
            / 1024
        ),
        "workers": args.workers,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    h = result["help_calls"]
    print(f"{'set':<30}{'emergencies':>12}{'checks':>8}{'per hour (e / c)':>20}{'baseline':>10}")
    print(
        f"{'calls for help (5)':<30}{h['emergency_at_once']:>12}"
        f"{h['emergency_or_check'] - h['emergency_at_once']:>8}{'':>20}"
        f"{h['baseline_emergency']:>10}"
    )
    raw = h["without_noise_suppressor"]
    print(
        f"{'  without noise suppressor':<30}{raw['emergency_at_once']:>12}"
        f"{raw['emergency_or_check'] - raw['emergency_at_once']:>8}"
    )
    for name, key in (
        ("ordinary dev clips (81)", "ordinary_dev_clips"),
        ("long speech", "long_speech"),
    ):
        s = result[key]
        print(
            f"{name:<30}{s['emergencies']:>12}{s['checks']:>8}"
            f"{s['emergencies_per_hour']!s:>10} / {s['checks_per_hour']!s:<7}"
            f"{s['baseline_recordings_with_emergency']:>10}"
        )
    if nonverbal:
        held = nonverbal["speaker_held_out_from_sidecar"]["distress_recall"]
        print(
            "non-verbal (in-sample): distress reached a check"
            f" {nonverbal['distress_reached_a_check']:.2f}, everyday checked"
            f" {nonverbal['everyday_checked']:.2f}; speaker-held-out (sidecar): {held}"
        )
    print(
        "long sentences that would have answered the robot without the length guard:"
        f" {result['long_speech']['answers_a_long_sentence_would_have_given']} (long speech),"
        f" {result['ordinary_dev_clips']['answers_a_long_sentence_would_have_given']} (dev)"
    )
    print(
        f"free CER on dev {result['free_cer_dev']:.3f}; real-time factor"
        f" {result['real_time_factor']:.3f}; model load {load_s:.1f} s;"
        f" peak RSS {result['peak_rss_mb']} MB"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
