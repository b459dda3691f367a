"""Does ordinary speech ever raise HELP, and how many real calls for help are caught?

Runs the real Listener (Silero VAD → segmenter → Vosk free + grammar → match_intent) over
the 81 ordinary human clips in ../shared/data/ko-speech-dev and the 5 human calls for help
in ../shared/data/ko-help-calls, and compares three decision rules side by side:

- free:    a close fuzzy jamo match in the free transcript alone
- grammar: a HELP phrase in the grammar recogniser's output alone
- fused:   what the robot uses, `match_intent` (free alone, or a looser free match the grammar
           corroborates)

Also the free recognition's character error rate against transcripts.tsv and the real-time
factor of the whole listener. Prints a table, writes benchmarks/results/intent_recall.json.
Usage: .venv/bin/python benchmarks/intent_recall.py [--data ../shared/data]
"""

import argparse
import csv
import json
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import read_flac
from device.audio.asr import SpeechRecognizer, load_model
from device.audio.pipeline import Listener, Utterance
from device.audio.source import SAMPLE_RATE_HZ, read_wav, split_chunks
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.dialog import intents
from device.dialog.intents import Intent, grammar_intents, match_intent, score_phrases
from device.dialog.jamo import normalize

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "intent_recall.json"


@dataclass
class ClipResult:
    """What the listener made of one clip."""

    name: str
    duration_s: float
    seconds: float
    utterances: list[Utterance]
    early_help: int = 0
    reference: str = ""
    rules: dict[str, bool] = field(default_factory=dict)
    help_free_similarity: float = 0.0
    help_free_similarity_when_grammar_agrees: float = 0.0

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances if u.text)


def help_free_similarity(text: str) -> float:
    return max(
        (s.similarity for s in score_phrases(text) if s.intent is Intent.HELP and not s.negated),
        default=0.0,
    )


def run_clip(listener: Listener, vad: SileroVad, name: str, samples: np.ndarray) -> ClipResult:
    vad.reset()
    t0 = time.perf_counter()
    utterances = []
    early = 0
    for chunk in split_chunks(samples):
        u = listener.process(chunk)
        if u is not None and u.early:
            early += 1  # reported before the segment closed, on the partial transcript
        elif u is not None:
            utterances.append(u)
    last = listener.flush()
    if last is not None:
        utterances.append(last)
    seconds = time.perf_counter() - t0
    return ClipResult(name, len(samples) / SAMPLE_RATE_HZ, seconds, utterances, early)


class RecordingRecognizer(SpeechRecognizer):
    """The real recogniser, also remembering each utterance's grammar confidence."""

    confidences: list[float]

    def finish(self) -> Any:
        transcript = super().finish()
        self.confidences.append(transcript.grammar_confidence)
        return transcript


def evaluate(clip: ClipResult, confidences: list[float]) -> None:
    free = grammar = fused = False
    best_free = best_agreeing = 0.0
    for u, conf in zip(clip.utterances, confidences, strict=True):
        sim = help_free_similarity(u.text)
        heard = Intent.HELP in grammar_intents(u.grammar_text)
        best_free = max(best_free, sim)
        if heard and conf >= intents.FUSED_MIN_GRAMMAR_CONFIDENCE:
            best_agreeing = max(best_agreeing, sim)
        free |= sim >= intents.FREE_MIN_SIMILARITY
        grammar |= heard
        fused |= match_intent(u.text, u.grammar_text, conf).intent is Intent.HELP
    clip.rules = {"free": free, "grammar": grammar, "fused": fused}
    clip.help_free_similarity = best_free
    clip.help_free_similarity_when_grammar_agrees = best_agreeing


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return len(hyp), 0
    # Global edit distance: best_substring with the hypothesis as pattern is a substring
    # search, so compute the plain Levenshtein distance here.
    prev = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        cur = [i] + [0] * len(hyp)
        for j in range(1, len(hyp) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] != hyp[j - 1]))
        prev = cur
    return prev[-1], len(ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    dev_dir, help_dir = args.data / "ko-speech-dev", args.data / "ko-help-calls"

    t_load = time.perf_counter()
    model = load_model()
    load_s = time.perf_counter() - t_load
    recognizer = RecordingRecognizer(model)
    vad = SileroVad()
    config = VadConfig()

    def run_set(items: list[tuple[str, np.ndarray]]) -> list[ClipResult]:
        results = []
        for name, samples in items:
            recognizer.confidences = []
            listener = Listener(recognizer, vad, config)
            clip = run_clip(listener, vad, name, samples)
            evaluate(clip, recognizer.confidences)
            results.append(clip)
        return results

    with (dev_dir / "transcripts.tsv").open(encoding="utf-8") as f:
        references = {row["file"]: row["text"] for row in csv.DictReader(f, delimiter="\t")}
    dev = run_set([(n, read_flac(dev_dir / n)) for n in sorted(references)])
    for clip in dev:
        clip.reference = references[clip.name]
    helps = run_set([(p.name, read_wav(p)) for p in sorted(help_dir.glob("*.wav"))])

    errors = sum(cer(c.reference, c.text)[0] for c in dev)
    ref_chars = sum(cer(c.reference, c.text)[1] for c in dev)
    audio_s = sum(c.duration_s for c in dev + helps)
    compute_s = sum(c.seconds for c in dev + helps)
    false_intents = {
        i.value: sum(any(u.intent is i for u in c.utterances) for c in dev)
        for i in (Intent.HELP, Intent.PAIN, Intent.FELL, Intent.FINE)
    }
    table = {
        rule: {
            "false_emergencies": sum(c.rules[rule] for c in dev),
            "dev_clips": len(dev),
            "help_recall": sum(c.rules[rule] for c in helps),
            "help_clips": len(helps),
        }
        for rule in ("free", "grammar", "fused")
    }
    help_margins = {
        c.name: (c.help_free_similarity, c.help_free_similarity_when_grammar_agrees) for c in helps
    }
    margins: dict[str, Any] = {
        "max_dev_help_free_similarity": max(c.help_free_similarity for c in dev),
        "max_dev_help_free_similarity_when_grammar_agrees": max(
            c.help_free_similarity_when_grammar_agrees for c in dev
        ),
        "help_clips": {
            name: {
                "free_similarity": round(a, 3),
                "free_similarity_when_grammar_agrees": round(b, 3),
            }
            for name, (a, b) in help_margins.items()
        },
    }
    worst_dev = sorted(dev, key=lambda c: -c.help_free_similarity_when_grammar_agrees)[:5]
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "thresholds": {
            "FREE_MIN_SIMILARITY": intents.FREE_MIN_SIMILARITY,
            "FUSED_MIN_SIMILARITY": intents.FUSED_MIN_SIMILARITY,
            "FUSED_MIN_GRAMMAR_CONFIDENCE": intents.FUSED_MIN_GRAMMAR_CONFIDENCE,
        },
        "vad": config.__dict__,
        "rules": table,
        "false_intents_on_dev_fused": false_intents,
        "early_help_reports": {
            "dev_clips_with_one": sum(c.early_help > 0 for c in dev),
            "help_clips_with_one": sum(c.early_help > 0 for c in helps),
        },
        "margins": margins,
        "closest_dev_clips": [
            {"file": c.name, "similarity": round(c.help_free_similarity_when_grammar_agrees, 3)}
            for c in worst_dev
        ],
        "free_cer_dev": round(errors / ref_chars, 4),
        "real_time_factor": round(compute_s / audio_s, 4),
        "audio_s": round(audio_s, 1),
        "model_load_s": round(load_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "help_clips": {
            c.name: [
                {"text": u.text, "grammar": u.grammar_text, "intent": u.intent.value}
                for u in c.utterances
            ]
            for c in helps
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"{'rule':<10}{'false HELP on ordinary speech':>32}{'recall on help calls':>24}")
    for rule, row in table.items():
        print(
            f"{rule:<10}{row['false_emergencies']:>26} / {row['dev_clips']:<3}"
            f"{row['help_recall']:>20} / {row['help_clips']}"
        )
    print(f"fused rule, other intents on ordinary speech: {false_intents}")
    print(
        "early help reports (partial transcript, before the hangover):",
        result["early_help_reports"],
    )
    worst = margins["max_dev_help_free_similarity"]
    agreeing = margins["max_dev_help_free_similarity_when_grammar_agrees"]
    print(
        f"margin: ordinary speech's best HELP similarity {worst:.3f} (grammar agreeing:"
        f" {agreeing:.3f}); thresholds free {intents.FREE_MIN_SIMILARITY},"
        f" fused {intents.FUSED_MIN_SIMILARITY}"
    )
    for name, sims in help_margins.items():
        print(f"  {name:<26} free {sims[0]:.3f}  grammar-agreeing {sims[1]:.3f}")
    print(
        f"free CER on dev {result['free_cer_dev']:.3f}; real-time factor"
        f" {result['real_time_factor']:.3f} over {audio_s:.0f} s of audio;"
        f" model load {load_s:.1f} s; peak RSS {result['peak_rss_mb']} MB"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
