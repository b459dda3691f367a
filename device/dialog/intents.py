"""What the senior meant: the safety intents first, then the companion's everyday intents.

Safety (HELP, PAIN, FELL, FINE). Measured on human speech (benchmarks/intent_recall.py): a
grammar-only recogniser maps almost every ordinary sentence onto some phrase, often at
confidence 1.0, so the grammar never decides alone. The free transcript decides (a fuzzy jamo
match, spacing ignored); the grammar can only corroborate a looser free match. A safety intent
always wins over an everyday one in the same utterance.

Everyday intents (greetings, yes/no, "I took it", "not yet", "pardon?", stop, thanks, moods,
requests for content) come from per-language phrase files (device/dialog/phrases/ko.toml,
en.toml, which a linguist edits; safety phrases too): Korean phrases of three syllables
or more match fuzzily at the jamo level on whole syllables (spacing, a dropped particle or a
near-homophone still match); shorter ones ("네", "응", "퀴즈") only as a whole word, optionally
with a particle, because they hide inside ordinary words ("좋네요", "그래서"). English is matched
word by word after simple normalisation. Negation turns "I took it" into NOT_YET and "good"
into SAD; a negated everyday phrase of another intent counts for nothing.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from device.dialog.jamo import best_substring, normalize, syllable_boundaries, to_jamo
from device.dialog.phrases import LANGUAGES, load_phrase_books


class Intent(StrEnum):
    """What an utterance asks for; the safety loop acts on HELP, PAIN, FELL and FINE."""

    HELP = "help"
    PAIN = "pain"
    FELL = "fell"
    FINE = "fine"
    CHECK = "check"  # maybe a call for help: the robot asks "도와 드릴까요?"
    DISTRESS = "distress"  # a wordless distress sound (a scream, moaning): the robot asks
    GREETING = "greeting"
    YES = "yes"
    NO = "no"
    DONE = "done"  # a reminder's task is done: "먹었어", "I took it"
    NOT_YET = "not_yet"
    REPEAT = "repeat"  # "뭐라고?", "pardon?"
    STOP = "stop"  # stop talking / stop this activity
    THANKS = "thanks"
    GOOD = "good"  # a good mood, slept well
    SAD = "sad"
    LONELY = "lonely"
    WANT_STORY = "want_story"
    WANT_QUIZ = "want_quiz"
    WANT_SONG = "want_song"
    WANT_EXERCISE = "want_exercise"
    WANT_GAME = "want_game"
    NONE = "none"


SAFETY_INTENTS = frozenset({Intent.HELP, Intent.PAIN, Intent.FELL, Intent.FINE})
"""The intents the safety loop acts on (FINE cancels a countdown)."""
NOT_FROM_PHRASES = frozenset({Intent.CHECK, Intent.DISTRESS})
"""Intents no phrase gives: the safety evidence (device.safety.evidence) and the sound
classifier decide them."""
EMERGENCY_INTENTS = frozenset({Intent.HELP, Intent.PAIN, Intent.FELL})
"""The intents that start the safety loop: no everyday utterance may land here."""


@dataclass(frozen=True)
class IntentMatch:
    """The intent heard, how sure the match is (0..1), and the phrase it matched."""

    intent: Intent
    confidence: float
    phrase: str


_EVERYDAY_INTENTS = frozenset(Intent) - SAFETY_INTENTS - NOT_FROM_PHRASES - {Intent.NONE}
_BOOKS = load_phrase_books(
    safety_intents=frozenset(i.value for i in SAFETY_INTENTS),
    everyday_intents=frozenset(i.value for i in _EVERYDAY_INTENTS),
)
"""device/dialog/phrases/ko.toml and en.toml, read and checked once."""

PHRASES: dict[Intent, tuple[str, ...]] = {
    intent: tuple(p for lang in LANGUAGES for p in _BOOKS[lang].safety[intent.value])
    for intent in (Intent.HELP, Intent.PAIN, Intent.FELL, Intent.FINE)
}
"""The safety phrases of every language (Korean first), from the phrase files' [safety]."""

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
_HELP_DECLINED_AFTER_KO = ("도돼", "도되", "도괜찮", "지않아도", "지마", "줄필요없", "실필요없")
"""What turns a help phrase down right after it: "안 도와줘도 돼요" (you needn't help), "도와주지
마" (don't help); "왜 안 도와줘" (why won't you help) stays a call."""
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


_NOT_A_FALL = re.compile(r"^\s*(asleep|for|in love)\b")
"""What follows "I fell" in ordinary speech: "I fell asleep", "I fell for it"."""
_HELP_DECLINED_BEFORE = re.compile(
    r"\b((dont|do not|doesnt|didnt|wont|not) (really )?(need|want)|need no) (any |your |more )?$"
)
_HELP_DECLINED_AFTER = re.compile(r"^\s*(is |isnt )?(not )?needed\b|^\s*not necessary\b")
"""A help turned down: "I don't need help", "no help needed", "help is not needed". Only these
forms: "I can't get up, help" and "no, no, help me" are calls (a negation elsewhere before
"help" says nothing)."""


def _score_english(intent: Intent, phrase: str, text: str) -> PhraseScore:
    words = _english_words(text)
    pattern = r"\b" + re.escape(_english_words(phrase)) + r"\b"
    for found in re.finditer(pattern, words):
        if intent is Intent.FELL and _NOT_A_FALL.match(words[found.end() :]):
            continue
        if intent is Intent.HELP and (
            _HELP_DECLINED_BEFORE.search(words[: found.start()])
            or _HELP_DECLINED_AFTER.match(words[found.end() :])
        ):
            continue
        negated = re.search(r"\b(not|dont|doesnt|didnt)\s*$", words[: found.start()]) is not None
        return PhraseScore(intent, phrase, 1.0, negated and intent in _NEGATABLE)
    return PhraseScore(intent, phrase, 0.0, False)


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
    declined = intent is Intent.HELP and norm_text[last:].startswith(_HELP_DECLINED_AFTER_KO)
    return PhraseScore(
        intent,
        phrase,
        found.similarity(len(jamo_phrase)),
        declined or (negated and intent in _NEGATABLE),
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


GRAMMAR_BREAK = "·"
"""The recogniser's mark for a run of garbage syllables: a phrase never spans one."""


def grammar_intents(grammar_text: str) -> set[Intent]:
    """Intents whose phrase occurs exactly (spacing aside) in a grammar recogniser's output,
    within one run of phrase words (not across a garbage mark)."""
    runs = [normalize(run) for run in grammar_text.split(GRAMMAR_BREAK)]
    return {
        intent
        for intent, phrases in PHRASES.items()
        for phrase in phrases
        if not _LATIN.search(phrase) and any(normalize(phrase) in run for run in runs)
    }


def _best(candidates: Iterable[IntentMatch]) -> IntentMatch:
    ranked = sorted(candidates, key=lambda m: (-m.confidence, PRIORITY.index(m.intent)))
    return ranked[0] if ranked else IntentMatch(Intent.NONE, 0.0, "")


def match_safety(text: str, grammar_text: str = "", grammar_confidence: float = 0.0) -> IntentMatch:
    """The safety intent of one utterance: a close free match, or a looser one the grammar
    agrees with (NONE when there is none)."""
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


def match_intent(
    text: str,
    grammar_text: str | None = None,
    grammar_confidence: float | None = None,
    language: str = "ko",
) -> IntentMatch:
    """The intent of one utterance: a safety intent if any (same rules as always), else the
    best everyday intent of the language's phrase list, else NONE.

    `grammar_text` / `grammar_confidence` are the safety grammar's reading; they only
    corroborate a safety phrase. Safety phrases of both languages are always matched (a Korean
    senior may cry "help"); everyday phrases come from `language` ("ko" or "en").
    """
    safety = match_safety(text, grammar_text or "", grammar_confidence or 0.0)
    if safety.intent is not Intent.NONE:
        return safety
    return match_everyday(text, language)


# -- everyday intents -------------------------------------------------------------------------

EVERYDAY_PHRASES: dict[str, dict[Intent, tuple[str, ...]]] = {
    lang: {Intent(name): phrases for name, phrases in book.everyday.items()}
    for lang, book in _BOOKS.items()
}
"""Per language, the companion's intents and their phrases (the phrase files' [everyday])."""

EVERYDAY_MIN_SIMILARITY = 0.8
"""A Korean everyday phrase of 3+ syllables matches with about one jamo slip in eight."""
_SHORT_EVERYDAY_SYLLABLES = 2
"""Korean phrases this short must be a whole word (a particle or 요 may follow)."""
_PARTICLES = ("", "요", "은", "는", "이", "가", "을", "를", "좀", "이요", "하자")
"""What may follow a short phrase in one word: particles and 요 (not 도, 야: "그래도", "좋아야")."""
_SHORT_ENGLISH_MAX_WORDS = 4
"""An English one-word reply ("yes", "good", "done") counts at an utterance's start, or
anywhere in an utterance of at most this many words ("well yes", "oh yes please")."""
_ANYWHERE_EN = frozenset(
    {
        Intent.WANT_STORY,
        Intent.WANT_QUIZ,
        Intent.WANT_SONG,
        Intent.WANT_EXERCISE,
        Intent.WANT_GAME,
        Intent.LONELY,
        Intent.SAD,
        Intent.THANKS,
        Intent.REPEAT,
        Intent.GREETING,
    }
)
"""English one-word phrases specific enough to count anywhere ("I want to hear a song")."""
_FILLERS = frozenset({"좀", "그냥", "한번", "한"})
"""Filler words dropped before Korean everyday matching ("음악 좀 틀어 줘")."""
_AT_START = frozenset({Intent.YES, Intent.NO})
"""Answers come first: a YES or NO phrase counts only at the utterance's start ("그렇게 해"
inside "그렇게 해서 저희가..." is no answer; measured on the human TEDx clips)."""
_ANYWHERE = frozenset(
    {
        Intent.LONELY,
        Intent.SAD,
        Intent.THANKS,
        Intent.REPEAT,
        Intent.GREETING,
    }
)
"""Intents whose short phrases are specific enough to count anywhere in an utterance ("슬퍼",
"고마워", "quiz"... in English); the others ("네", "응", "좋아", "노래", "yes", "good") count only
as its first word (Vosk splits endings into pieces: "좋 네 요" holds a "네" that is no answer,
and "노래를 좋아했어요" asks for no song)."""
_NEGATED_TO = {Intent.DONE: Intent.NOT_YET, Intent.GOOD: Intent.SAD, Intent.YES: Intent.NO}
"""A negated phrase of these intents means another intent ("안 먹었어" → NOT_YET)."""
_EN_NEGATORS = frozenset(
    {
        "not",
        "dont",
        "didnt",
        "doesnt",
        "havent",
        "hasnt",
        "never",
        "isnt",
        "wasnt",
        "arent",
        "cant",
        "wont",
        "no",
    }
)
_EVERYDAY_PRIORITY = (
    Intent.NOT_YET,
    Intent.DONE,
    Intent.REPEAT,
    Intent.STOP,
    Intent.SAD,
    Intent.LONELY,
    Intent.WANT_STORY,
    Intent.WANT_QUIZ,
    Intent.WANT_SONG,
    Intent.WANT_EXERCISE,
    Intent.WANT_GAME,
    Intent.THANKS,
    Intent.GOOD,
    Intent.NO,
    Intent.YES,
    Intent.GREETING,
)
"""Tie-break between equally close, equally long matches: the more specific intent first."""


@dataclass(frozen=True)
class _Hit:
    intent: Intent
    phrase: str
    similarity: float
    length: int  # the phrase's normalised length: a longer exact match is more specific


@lru_cache(maxsize=256)
def _korean_words(text: str) -> tuple[str, ...]:
    return tuple(w for w in (normalize(x) for x in text.split()) if w)


def _korean_negated(norm_text: str, first: int, last: int) -> bool:
    return norm_text[:first].endswith(_NEGATED_BEFORE) or any(
        n in norm_text[last - 1 : last + 3] for n in _NEGATED_AFTER
    )


@lru_cache(maxsize=4096)
def _jamo(norm_text: str) -> str:
    return to_jamo(norm_text)


@lru_cache(maxsize=1024)
def _bounds(norm_text: str) -> tuple[int, ...]:
    return tuple(syllable_boundaries(norm_text))


def _could_match(pattern: str, text: str, allowed_edits: int) -> bool:
    """False when no substring of `text` is within `allowed_edits` of `pattern`.

    A lower bound, so it never drops a real match: a substring at most len(pattern) +
    allowed_edits long lies inside some window of that length, and each edit supplies at most
    one of the pattern's jamo the window lacks. Most phrases fail it on ordinary sentences,
    which spares the O(len(pattern) * len(text)) search (≈8x faster on a long utterance).
    """
    need = Counter(pattern)
    width = min(len(text), len(pattern) + allowed_edits)
    have: Counter[str] = Counter()
    deficit = len(pattern)  # jamo of the pattern the current window lacks
    for i, c in enumerate(text):
        if have[c] < need[c]:
            deficit -= 1
        have[c] += 1
        if i >= width:
            old = text[i - width]
            have[old] -= 1
            if have[old] < need[old]:
                deficit += 1
        if i >= width - 1 and deficit <= allowed_edits:
            return True
    return deficit <= allowed_edits


@lru_cache(maxsize=256)
def _word_edges(text: str) -> tuple[frozenset[int], frozenset[int]]:
    """Offsets in normalize(text) where its words start and end (the recogniser's spacing)."""
    starts, ends, offset = set(), set(), 0
    for word in _korean_words(text):
        starts.add(offset)
        offset += len(word)
        ends.add(offset)
    return frozenset(starts), frozenset(ends)


def _short_word_is(word: str, phrase: str) -> bool:
    """The word is the phrase, said once or repeated ("네네"), or with a particle or 요."""
    repeats, rest = divmod(len(word), len(phrase))
    if repeats >= 1 and rest == 0 and word == phrase * repeats:
        return True
    return any(word == phrase + p for p in _PARTICLES)


@lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    return normalize(text)


def _korean_everyday_hits(intent: Intent, phrase: str, text: str) -> list[_Hit]:
    norm_phrase = _norm(phrase)
    norm_text = _norm(text)
    if not norm_phrase or not norm_text:
        return []
    if len(norm_phrase) <= _SHORT_EVERYDAY_SYLLABLES:
        words = _korean_words(text)
        negated = False
        if words and words[0] in _NEGATED_BEFORE:  # "안 좋아", "안 그래"
            words, negated = words[1:], True
        if intent not in _ANYWHERE:
            words = words[:1]  # "네 먹었어요", never the "네" piece of "좋 네 요"
        for word in words:
            if word.startswith(_NEGATED_BEFORE) and _short_word_is(word[1:], norm_phrase):
                return [_Hit(*_negation(intent, phrase, 1.0, True), len(norm_phrase))]
            if _short_word_is(word, norm_phrase):
                return [_Hit(*_negation(intent, phrase, 1.0, negated), len(norm_phrase))]
        return []
    jamo_phrase = _jamo(norm_phrase)
    allowed_edits = int(len(jamo_phrase) * (1.0 - EVERYDAY_MIN_SIMILARITY) + 1e-9)
    if not _could_match(jamo_phrase, _jamo(norm_text), allowed_edits):
        return []
    bounds = _bounds(norm_text)
    found = best_substring(jamo_phrase, _jamo(norm_text), bounds)
    if found is None:
        return []
    similarity = found.similarity(len(jamo_phrase))
    if similarity < EVERYDAY_MIN_SIMILARITY:
        return []
    first, last = bounds.index(found.start), bounds.index(found.end)
    starts, ends = _word_edges(text)
    if first not in starts:
        return []  # inside a word: "했어요" in "좋아했어요" is no "I did it"
    if intent in _AT_START and (first > 0 or (last not in ends and norm_text[last:] != "요")):
        return []  # "그렇게 해" at the start of "그렇게 해서 ..." is no answer
    negated = _korean_negated(norm_text, first, last)
    return [_Hit(*_negation(intent, phrase, similarity, negated), len(norm_phrase))]


def _negation(
    intent: Intent, phrase: str, similarity: float, negated: bool
) -> tuple[Intent, str, float]:
    if not negated:
        return intent, phrase, similarity
    if intent in _NEGATED_TO:
        return _NEGATED_TO[intent], phrase, similarity
    return Intent.NONE, phrase, 0.0


def _english_everyday_hits(intent: Intent, phrase: str, text: str) -> list[_Hit]:
    words = _english_words(text).split()
    target = _english_words(phrase).split()
    if not words or not target:
        return []
    n = len(target)
    for i in range(len(words) - n + 1):
        if words[i : i + n] != target:
            continue
        if (
            n == 1
            and intent not in _ANYWHERE_EN
            and i > 0
            and len(words) > _SHORT_ENGLISH_MAX_WORDS
        ):
            continue
        before = words[i - 1] if i > 0 else ""
        after = words[i + n] if i + n < len(words) else ""
        negated = before in _EN_NEGATORS or after == "not"
        if target == ["no"] or target[0] in _EN_NEGATORS:
            negated = False  # "no", "not really", "never" are negative already
        return [_Hit(*_negation(intent, phrase, 1.0, negated), len(" ".join(target)))]
    return []


def everyday_hits(text: str, language: str = "ko") -> list[_Hit]:
    """Every everyday phrase of the language found in the text (for tests and the benchmark)."""
    table = EVERYDAY_PHRASES.get(language, EVERYDAY_PHRASES["ko"])
    english = language == "en"
    korean = " ".join(w for w in text.split() if w not in _FILLERS)
    hits: list[_Hit] = []
    for intent, phrases in table.items():
        for phrase in phrases:
            if english:
                hits.extend(_english_everyday_hits(intent, phrase, text))
            else:
                hits.extend(_korean_everyday_hits(intent, phrase, korean))
    return [h for h in hits if h.intent is not Intent.NONE]


def match_everyday(text: str, language: str = "ko") -> IntentMatch:
    """The best everyday intent: closest match, then the longest phrase, then the most specific."""
    hits = everyday_hits(text, language)
    if not hits:
        return IntentMatch(Intent.NONE, 0.0, "")
    best = min(hits, key=lambda h: (-h.similarity, -h.length, _EVERYDAY_PRIORITY.index(h.intent)))
    return IntentMatch(best.intent, best.similarity, best.phrase)
