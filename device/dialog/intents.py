"""What the senior meant: call for help, pain, a fall, "I'm fine" — from the free transcript first.

Measured on human speech (benchmarks/intent_recall.py): a grammar-only recogniser maps almost
every ordinary sentence onto some phrase, often at confidence 1.0, so the grammar never decides
alone. The free transcript decides (a fuzzy jamo match, spacing ignored); the grammar can only
corroborate a looser free match.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from device.dialog.jamo import best_substring, normalize, syllable_boundaries, to_jamo


class Intent(StrEnum):
    """What an utterance asks for; the safety loop acts on HELP, PAIN, FELL and FINE."""

    HELP = "help"
    PAIN = "pain"
    FELL = "fell"
    FINE = "fine"
    NONE = "none"


@dataclass(frozen=True)
class IntentMatch:
    """The intent heard, how sure the match is (0..1), and the phrase it matched."""

    intent: Intent
    confidence: float
    phrase: str


PHRASES: dict[Intent, tuple[str, ...]] = {
    Intent.HELP: (
        "살려 주세요",
        "도와주세요",
        "구해 주세요",
        "살려줘",
        "도와줘",
        "사람 살려",
        "help me",
        "help",
        "somebody help",
    ),
    Intent.PAIN: ("아파요", "아파", "아야", "너무 아파", "it hurts", "i'm in pain"),
    Intent.FELL: ("넘어졌어요", "쓰러졌어요", "i fell", "i've fallen", "i fell down"),
    Intent.FINE: (
        "괜찮아요",
        "괜찮아",
        "네 괜찮아요",
        "i'm fine",
        "i am fine",
        "i'm okay",
        "i'm ok",
    ),
}

# When two intents match equally well, the one that keeps the senior safer wins.
PRIORITY = (Intent.HELP, Intent.FELL, Intent.PAIN, Intent.FINE)

# Thresholds chosen on human speech with benchmarks/intent_recall.py (0 false emergencies on
# 81 ordinary TEDx utterances); see that script's JSON output for the measured margins.
FREE_MIN_SIMILARITY = 0.9
"""A free-transcript match this close decides alone (11-jamo phrases: 1 edit; short: exact)."""
FUSED_MIN_SIMILARITY = 0.7
"""A looser free match counts when the grammar heard a phrase of the same intent..."""
FUSED_MIN_GRAMMAR_CONFIDENCE = 0.6
"""...with at least this mean word confidence."""
SHORT_PHRASE_SYLLABLES = 2
"""Phrases this short ("아파", "아야") also occur inside ordinary words ("좋아야", "아파트")..."""
SHORT_PHRASE_MAX_EXTRA_SYLLABLES = 3
"""...so they count only in an utterance at most this much longer than the phrase."""

_NEGATED_BEFORE = ("안", "못")
_NEGATED_AFTER = ("지않", "지못", "지는않")
_NEGATABLE = frozenset({Intent.PAIN, Intent.FELL, Intent.FINE})
_LATIN = re.compile(r"[a-z]")


@dataclass(frozen=True)
class PhraseScore:
    """How well one phrase fits a transcript (1.0 = present exactly), and whether it was negated."""

    intent: Intent
    phrase: str
    similarity: float
    negated: bool


def _english_words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).replace("'", "").split())


def _score_english(intent: Intent, phrase: str, text: str) -> PhraseScore:
    words = _english_words(text)
    pattern = r"\b" + re.escape(_english_words(phrase)) + r"\b"
    found = re.search(pattern, words)
    if found is None:
        return PhraseScore(intent, phrase, 0.0, False)
    negated = re.search(r"\b(not|dont|doesnt|didnt)\s*$", words[: found.start()]) is not None
    return PhraseScore(intent, phrase, 1.0, negated and intent in _NEGATABLE)


def _score_korean(intent: Intent, phrase: str, text: str) -> PhraseScore:
    norm_text, norm_phrase = normalize(text), normalize(phrase)
    if not norm_text or not norm_phrase:
        return PhraseScore(intent, phrase, 0.0, False)
    if len(norm_phrase) <= SHORT_PHRASE_SYLLABLES and (
        len(norm_text) > len(norm_phrase) + SHORT_PHRASE_MAX_EXTRA_SYLLABLES
    ):
        return PhraseScore(intent, phrase, 0.0, False)
    jamo_phrase = to_jamo(norm_phrase)
    bounds = syllable_boundaries(norm_text)
    found = best_substring(jamo_phrase, to_jamo(norm_text), bounds)
    if found is None:
        return PhraseScore(intent, phrase, 0.0, False)
    first, last = bounds.index(found.start), bounds.index(found.end)
    negated = norm_text[:first].endswith(_NEGATED_BEFORE) or any(
        n in norm_text[last - 1 : last + 3] for n in _NEGATED_AFTER
    )
    return PhraseScore(
        intent, phrase, found.similarity(len(jamo_phrase)), negated and intent in _NEGATABLE
    )


def score_phrases(text: str) -> list[PhraseScore]:
    """Every known phrase scored against one transcript (the benchmark reads these margins)."""
    scores = []
    for intent, phrases in PHRASES.items():
        for phrase in phrases:
            if _LATIN.search(phrase):
                scores.append(_score_english(intent, phrase, text))
            else:
                scores.append(_score_korean(intent, phrase, text))
    return scores


def grammar_intents(grammar_text: str) -> set[Intent]:
    """Intents whose phrase occurs exactly (spacing aside) in a grammar recogniser's output."""
    norm = normalize(grammar_text)
    return {
        intent
        for intent, phrases in PHRASES.items()
        for phrase in phrases
        if not _LATIN.search(phrase) and normalize(phrase) in norm
    }


def _best(candidates: Iterable[IntentMatch]) -> IntentMatch:
    ranked = sorted(candidates, key=lambda m: (-m.confidence, PRIORITY.index(m.intent)))
    return ranked[0] if ranked else IntentMatch(Intent.NONE, 0.0, "")


def match_intent(text: str, grammar_text: str = "", grammar_confidence: float = 0.0) -> IntentMatch:
    """The intent of one utterance: a close free match, or a looser one the grammar agrees with."""
    scores = [s for s in score_phrases(text) if not s.negated]
    heard_by_grammar = (
        grammar_intents(grammar_text)
        if grammar_confidence >= FUSED_MIN_GRAMMAR_CONFIDENCE
        else set()
    )
    candidates = []
    for s in scores:
        if s.similarity >= FREE_MIN_SIMILARITY:
            candidates.append(IntentMatch(s.intent, s.similarity, s.phrase))
        elif s.similarity >= FUSED_MIN_SIMILARITY and s.intent in heard_by_grammar:
            confidence = min(s.similarity, grammar_confidence)
            candidates.append(IntentMatch(s.intent, confidence, s.phrase))
    return _best(candidates)
