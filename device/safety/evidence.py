"""Is this utterance a call for help? Evidence from both recognisers, in three bands.

`decide` turns one utterance's transcripts into a `SafetyDecision`:

- **act** (HELP / FELL / PAIN): the robot calls for help at once, as always;
- **check** (Intent.CHECK): the robot asks "도와 드릴까요?" and runs the countdown — a yes, a
  repeated call or silence escalate, "괜찮아요" / "no" cancel (a `safety_check` event);
- **nothing**: the everyday intent of the utterance (or NONE).

The evidence (issue 12), each a number the recognisers give:

- `free_similarity`: how closely the free transcript contains an emergency phrase (fuzzy jamo
  match, spacing ignored, negation excluded), 0..1;
- `grammar_confidence`: the mean Vosk word confidence of a whole emergency phrase heard by the
  safety grammar (which has a garbage path, so ordinary speech decodes as syllables), 0 if none;
- `grammar_share`: the confidence-weighted share of everything the grammar heard that is that
  phrase (a call for help is the whole utterance; a sentence on television holds other words);
- `length`: the free transcript's length in syllables, capped at 40 and scaled to 0..1 (a call
  for help is short; long fluent speech is a television or a talk).

A logistic model over these (fitted by `models/evidence/fit.py` on development data, with its
leave-speakers-out ROC in its card, weights in `evidence.json` beside this file) gives the
probability of a call for help; its two thresholds make the bands. Two rules bound it:
a close free match in a short utterance acts whatever the model says (the rule measured since
the first wave), a near one (≥ `free_ask_similarity`, the first wave's corroboration
threshold 0.7) in a short utterance at least asks, and a long utterance (more than
`call_max_syllables`) never acts on its own: at most the robot asks. `reasons` says which
evidence decided, for logs and `transcribe --json`.
"""

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from device.audio.asr import DEFAULT_GRAMMAR_TOKENS
from device.audio.sounds import SoundEvent
from device.dialog.answers import syllables
from device.dialog.intents import (
    EMERGENCY_INTENTS,
    PHRASES,
    PRIORITY,
    SHORT_PHRASE_SYLLABLES,
    Intent,
    IntentMatch,
    PhraseScore,
    score_phrases,
)
from device.dialog.jamo import normalize
from device.errors import DeviceError

MODEL_PATH = Path(__file__).with_name("evidence.json")
FEATURES = ("free_similarity", "grammar_confidence", "grammar_share", "length")
LENGTH_CAP = 40
"""The length feature: min(syllables, LENGTH_CAP) / LENGTH_CAP (a call for help is short)."""


class EvidenceModelError(DeviceError):
    """The committed evidence model can't be read."""


class TranscriptLike(Protocol):
    """What `decide` reads from a recogniser's Transcript."""

    @property
    def text(self) -> str: ...

    @property
    def grammar_words(self) -> tuple[Any, ...]: ...


@dataclass(frozen=True)
class EvidenceModel:
    """Logistic weights over FEATURES, the two band thresholds and the length bound."""

    weights: tuple[float, ...]
    bias: float
    act_threshold: float
    check_threshold: float
    call_max_syllables: int
    free_act_similarity: float
    free_ask_similarity: float
    version: str
    held_out_auc: float | None = None
    """The fit's leave-one-group-out ROC AUC (its card): how far P can be trusted."""

    def probability(self, features: tuple[float, ...]) -> float:
        """P(call for help | evidence)."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> EvidenceModel:
    """The committed evidence model (EvidenceModelError names what is wrong)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if tuple(raw["features"]) != FEATURES:
            raise EvidenceModelError(f"{path}: features {raw['features']}, expected {FEATURES}")
        model = EvidenceModel(
            weights=tuple(float(w) for w in raw["weights"]),
            bias=float(raw["bias"]),
            act_threshold=float(raw["act_threshold"]),
            check_threshold=float(raw["check_threshold"]),
            call_max_syllables=int(raw["call_max_syllables"]),
            free_act_similarity=float(raw["free_act_similarity"]),
            free_ask_similarity=float(raw["free_ask_similarity"]),
            version=str(raw["version"]),
            held_out_auc=float(raw["fitted"]["held_out_auc"]) if "fitted" in raw else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvidenceModelError(f"can't read the evidence model {path}: {e}") from None
    if len(model.weights) != len(FEATURES) or not (
        0.0 < model.check_threshold <= model.act_threshold <= 1.0
    ):
        raise EvidenceModelError(f"{path}: weights or thresholds out of range")
    return model


@dataclass(frozen=True)
class Evidence:
    """The numbers one utterance gives (see the module's docstring)."""

    free_intent: Intent
    free_similarity: float
    free_phrase: str
    grammar_intent: Intent
    grammar_confidence: float
    grammar_share: float
    grammar_phrase: str
    syllables: int
    grammar_extra: int = 0
    """Words the safety grammar heard besides the phrase (see `grammar_extra`)."""

    def features(self) -> tuple[float, ...]:
        """The model's input, in FEATURES order."""
        length = min(self.syllables, LENGTH_CAP) / LENGTH_CAP
        return (self.free_similarity, self.grammar_confidence, self.grammar_share, length)


@dataclass(frozen=True)
class SafetyDecision:
    """The band an utterance falls in, the intent the agent acts on, and why."""

    intent: Intent
    confidence: float
    reasons: tuple[str, ...] = ()
    probability: float = 0.0
    evidence: Evidence | None = field(default=None, compare=False)


_KOREAN_PHRASES: tuple[tuple[Intent, str], ...] = tuple(
    (intent, normalize(phrase))
    for intent in PRIORITY
    if intent in EMERGENCY_INTENTS
    for phrase in PHRASES[intent]
    if not any("a" <= ch <= "z" for ch in phrase)
)
_MAX_PHRASE_WORDS = 4


def grammar_extra(words: tuple[Any, ...]) -> int:
    """How many words the safety grammar heard outside every whole emergency phrase (garbage
    syllables, lone phrase words, no answers). A call for help is the phrase, with at most a
    breath or a noise on either side; a phrase found inside a sentence (a television) comes
    with syllables around it, whatever their confidence (garbage syllables are heard with low
    confidence, so `grammar_share` alone barely sees them)."""
    return len(words) - len(_phrase_words(words))


def _phrase_spans(words: tuple[Any, ...]) -> list[tuple[int, int, Intent]]:
    """(start, end, intent) of every run of contiguous phrase tokens whose spelling, spacing
    aside, is a whole emergency phrase (a garbage syllable ends a run)."""
    spans = []
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + _MAX_PHRASE_WORDS) + 1):
            if str(words[j - 1].word) not in DEFAULT_GRAMMAR_TOKENS:
                break  # a garbage syllable: no phrase spans it
            joined = normalize("".join(str(w.word) for w in words[i:j]))
            hit = next((it for it, p in _KOREAN_PHRASES if p == joined), None)
            if hit is not None:
                spans.append((i, j, hit))
    return spans


def _phrase_words(words: tuple[Any, ...]) -> set[int]:
    """The indices of the words that make up some whole emergency phrase."""
    return {k for i, j, _ in _phrase_spans(words) for k in range(i, j)}


def grammar_phrase(words: tuple[Any, ...]) -> tuple[Intent, float, float, str]:
    """Whole emergency phrases in the safety grammar's words (contiguous tokens whose spelling,
    spacing aside, is a phrase): the most confident one's intent, mean confidence and text,
    and the confidence-weighted share of all the words that the phrases make up (a call
    repeated twice is all call). (NONE, 0, 0, "") when there is none."""
    total = sum(max(0.0, float(w.conf)) for w in words)
    covered: set[int] = set()
    best: tuple[Intent, float, str] = (Intent.NONE, 0.0, "")
    for i, j, hit in _phrase_spans(words):
        covered.update(range(i, j))
        confidence = sum(float(w.conf) for w in words[i:j]) / (j - i)
        if confidence > best[1]:
            best = (hit, confidence, " ".join(str(w.word) for w in words[i:j]))
    share = sum(max(0.0, float(words[k].conf)) for k in covered) / total if total > 0 else 0.0
    return best[0], best[1], share, best[2]


def _short_and_inexact(score: PhraseScore) -> bool:
    """A phrase of two syllables ("아야", "아파") fits another word with one jamo changed:
    "아예", "아이", "아요", and so the first syllables of "아니에요" and "아니요" (0.75). For these
    only the exact word is evidence (the act rule has always asked this much: 0.9 on four jamo
    is exact); a near fit made espeak-ng's "아니에요" a check ("아 이예요" ~ "아야" 0.75)."""
    short = len(normalize(score.phrase)) <= SHORT_PHRASE_SYLLABLES
    return short and score.similarity < 1.0 and not any("a" <= c <= "z" for c in score.phrase)


def gather(text: str, grammar_words: tuple[Any, ...]) -> Evidence:
    """The evidence of one utterance."""
    scores = [
        s
        for s in score_phrases(text)
        if s.intent in EMERGENCY_INTENTS and not s.negated and not _short_and_inexact(s)
    ]
    top = max(
        scores,
        key=lambda s: (s.similarity, -PRIORITY.index(s.intent)),
        default=None,
    )
    g_intent, g_conf, g_share, g_phrase = grammar_phrase(grammar_words)
    return Evidence(
        free_intent=top.intent if top is not None and top.similarity > 0 else Intent.NONE,
        free_similarity=top.similarity if top is not None else 0.0,
        free_phrase=top.phrase if top is not None else "",
        grammar_intent=g_intent,
        grammar_confidence=g_conf,
        grammar_share=g_share,
        grammar_phrase=g_phrase,
        syllables=syllables(text),
        grammar_extra=grammar_extra(grammar_words),
    )


GRAMMAR_ALONE_MAX_EXTRA = 2
GRAMMAR_ALONE_MIN_CONFIDENCE = 0.9
"""A safety-grammar hit that the free words do not confirm is asked about only when it is
the whole utterance, heard clearly: at most GRAMMAR_ALONE_MAX_EXTRA other words (a breath or
a noise on either side of a call; inside a sentence, as on television, the grammar hears
syllables around it) and a mean word confidence of at least GRAMMAR_ALONE_MIN_CONFIDENCE.
Set on ordinary speech, not on the calls (docs/hearing.md §3 has the margins)."""

SAYS_NO = frozenset({Intent.NO, Intent.FINE})
"""What a senior says to turn the robot's help down ("아니요", "괜찮아요", "no", "I'm fine")."""


def decide(
    heard: TranscriptLike,
    match: IntentMatch,
    duration_s: float,
    model: EvidenceModel | None = None,
    *,
    answered_no: float | None = None,
) -> SafetyDecision:
    """The safety band of one utterance; `match` is match_intent's reading (kept for
    everything that is not an emergency: FINE, and the everyday intents). `answered_no`: the
    robot expected a yes or no and the utterance answered no, with this confidence (the answer
    grammar's reading; None: no such answer).

    Words that say no or "I'm fine" are never overruled by weaker evidence: the grammar or the
    model alone do not make a no a call, nor ask about it. Only free words that hold a call
    (≥ free_ask_similarity) still count: a close match acts ("아니 아파요", "no, help me"), a
    near one is decided as before ("아니 고 사례 주세요" may be "아이고 살려 주세요")."""
    model = model or load_model()
    ev = gather(heard.text, tuple(heard.grammar_words))
    p = model.probability(ev.features())
    call_like = ev.syllables <= model.call_max_syllables
    intent = ev.free_intent if ev.free_similarity >= ev.grammar_confidence else ev.grammar_intent
    if intent is Intent.NONE:
        intent = ev.free_intent if ev.free_intent is not Intent.NONE else ev.grammar_intent
    reasons = [
        f"free transcript ~ {ev.free_phrase!r} {ev.free_similarity:.2f}"
        if ev.free_phrase
        else "free transcript: no emergency phrase",
        f"safety grammar heard {ev.grammar_phrase!r} conf {ev.grammar_confidence:.2f},"
        f" {ev.grammar_share:.0%} of what it heard, {ev.grammar_extra} other words"
        if ev.grammar_phrase
        else "safety grammar: no whole emergency phrase",
        f"{ev.syllables} syllables in {duration_s:.1f} s"
        + ("" if call_like else f" (longer than a call, > {model.call_max_syllables})"),
        f"P(call for help) {p:.2f} (act ≥ {model.act_threshold:.2f},"
        f" ask ≥ {model.check_threshold:.2f}"
        + (
            ""
            if model.held_out_auc is None
            else f"; a ranking, not calibrated: held-out AUC {model.held_out_auc:.2f}"
        )
        + ")",
    ]
    free_acts = ev.free_similarity >= model.free_act_similarity and call_like
    # The free words at least nearly hold a call: "아니 고 사례 주세요" may be "아이고 살려 주세요".
    free_near = ev.free_similarity >= model.free_ask_similarity
    if call_like and not free_near and match.intent in SAYS_NO:
        why = f"{match.intent.value}: the words say so ({match.phrase!r}), nothing overrules them"
        return SafetyDecision(match.intent, match.confidence, (*reasons, why), p, ev)
    if call_like and not free_near and answered_no is not None:
        why = "no: answered no to the robot's question (answer grammar)"
        return SafetyDecision(Intent.NO, answered_no, (*reasons, why), p, ev)
    # The model alone acts only when the free transcript at least nearly confirms the call: a
    # grammar hit with a free transcript of other words ("아이 였다" for espeak-ng's "아니요",
    # grammar "아파 요", P 0.98) is asked about, never acted on.
    model_acts = call_like and free_near and p >= model.act_threshold
    if intent in EMERGENCY_INTENTS and (free_acts or model_acts):
        why = "close free match in a short utterance" if free_acts else "evidence ≥ act threshold"
        return SafetyDecision(intent, max(p, ev.free_similarity), (*reasons, f"act: {why}"), p, ev)
    long_close = ev.free_similarity >= model.free_act_similarity and not call_like
    # ...unless the words clearly mean something else ("괜찮아요" is near "아야")
    unexplained = match.intent is Intent.NONE or match.intent in EMERGENCY_INTENTS
    short_near = ev.free_similarity >= model.free_ask_similarity and call_like and unexplained
    # A grammar hit the free words do not confirm asks only when it is the whole utterance,
    # heard clearly: inside a sentence (a talk on television) the grammar hears syllables
    # around it.
    grammar_alone = (
        ev.grammar_extra <= GRAMMAR_ALONE_MAX_EXTRA
        and ev.grammar_confidence >= GRAMMAR_ALONE_MIN_CONFIDENCE
    )
    evidence_asks = p >= model.check_threshold and (free_near or grammar_alone)
    if intent in EMERGENCY_INTENTS and (long_close or short_near or evidence_asks):
        why = (
            "close match in long speech (a television?)"
            if long_close
            else "near match in a short utterance"
            if short_near
            else "evidence ≥ ask"
        )
        return SafetyDecision(Intent.CHECK, p, (*reasons, f"ask: {why}"), p, ev)
    if intent in EMERGENCY_INTENTS and p >= model.check_threshold:
        reasons.append(
            "not asked: a safety-grammar hit the free transcript does not confirm, not alone"
            f" (≤ {GRAMMAR_ALONE_MAX_EXTRA} other words) or not clear"
            f" (conf ≥ {GRAMMAR_ALONE_MIN_CONFIDENCE}): speech around it (a television?)"
        )
    if match.intent in EMERGENCY_INTENTS:  # the old fused rule, not confirmed by the evidence
        return SafetyDecision(Intent.NONE, p, (*reasons, "nothing: evidence too weak"), p, ev)
    return SafetyDecision(match.intent, match.confidence, tuple(reasons), p, ev)


def sound_decision(sound: SoundEvent, decision: SafetyDecision) -> SafetyDecision:
    """A wordless segment the sound classifier heard: distress → the robot asks."""
    why = f"sound classifier: {sound.label}, P(distress) {sound.distress:.2f}"
    if sound.is_distress:
        return SafetyDecision(
            Intent.DISTRESS, sound.distress, (*decision.reasons, why, "ask: distress sound")
        )
    return SafetyDecision(
        decision.intent, decision.confidence, (*decision.reasons, why), decision.probability
    )
