"""Answers to the robot's questions: yes/no and a choice among spoken options (screening).

Pure functions over a transcript (free or constrained). They return None when the answer is
unclear ("글쎄요", "I don't know", both yes and no, nothing at all): the dialog then asks once
more, never guesses. Korean is matched on normalised words (spacing ignored where a phrase
spans words) and at the jamo level for options; English on lower-case words.
"""

import re
from collections.abc import Sequence
from itertools import pairwise

from device.dialog.jamo import best_substring, normalize, syllable_boundaries, to_jamo

# Korean: whole-word answers (a word may carry 요 or be repeated: "네네", "응응").
_KO_YES_WORDS = frozenset(
    {
        "네",
        "예",
        "응",
        "어",
        "그래",
        "그래요",
        "맞아",
        "맞아요",
        "맞습니다",
        "맞지",
        "그럼",
        "그럼요",
        "그렇지",
        "그렇죠",
        "그래그래",
        "물론",
        "물론이지",
        "물론이죠",
        "있어",
        "있어요",
        "있지",
        "좋아",
        "좋아요",
        "좋지",
        "당연하지",
        "당연하죠",
        "그렇다",
        "그렇습니다",
        "그런편이야",
        "그런편이에요",
        "자주",
    }
)
_KO_NO_WORDS = frozenset(
    {
        "아니",
        "아니요",
        "아뇨",
        "아니오",
        "아니야",
        "아니에요",
        "아닙니다",
        "아닌데",
        "아닌데요",
        "없어",
        "없어요",
        "없지",
        "없습니다",
        "싫어",
        "싫어요",
        "전혀",
        "별로",
    }
)
# Phrases matched on the text with spaces removed (negation spelled out).
_KO_NO_PHRASES = (
    "안그래",
    "그렇지않",
    "그렇지는않",
    "안그렇",
    "맞지않",
    "안맞",
    "아닌것같",
    "아닌거같",
    "별로안",
    "전혀안",
    "그런적없",
)
_KO_YES_PHRASES = ("그런것같", "그런거같", "그렇다고", "그런편", "맞는것같", "맞는거같")
_KO_UNSURE = ("모르겠", "글쎄", "잘모르", "몰라", "헷갈")

_EN_YES = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "of course",
    "i do",
    "i am",
    "i have",
    "i did",
    "i think so",
    "i guess so",
    "that's right",
    "thats right",
    "right",
    "correct",
    "definitely",
    "absolutely",
    "certainly",
    "uh huh",
    "often",
    "true",
)
_EN_NO = (
    "no",
    "nope",
    "nah",
    "not really",
    "not at all",
    "never",
    "i don't",
    "i dont",
    "i do not",
    "i'm not",
    "im not",
    "i am not",
    "i haven't",
    "i havent",
    "i didn't",
    "i didnt",
    "i have not",
    "not true",
    "hardly",
)
_EN_UNSURE = ("i don't know", "i dont know", "not sure", "maybe", "dunno", "no idea")


def _en_words(text: str) -> str:
    return " " + " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split()) + " "


def _en_has(words: str, phrase: str) -> bool:
    return f" {phrase} " in words


def _ko_words(text: str) -> list[str]:
    return [w for w in (normalize(x) for x in text.split()) if w]


def _ko_word_in(word: str, vocabulary: frozenset[str]) -> bool:
    if word in vocabulary:
        return True
    for base in vocabulary:  # "네네", "응응": one answer word said twice or more
        repeats, rest = divmod(len(word), len(base))
        if repeats > 1 and rest == 0 and word == base * repeats:
            return True
    return False


ANSWER_MAX_SYLLABLES = 14
"""An answer to the robot ("네", "괜찮아요", "아직 안 먹었어") is short: speech longer than this
(or than ANSWER_MAX_S) is a sentence of its own, most often a television or radio in the room,
and never answers a question, confirms a reminder or cancels a safety check."""
ANSWER_MAX_S = 5.0


def answer_like(text: str, duration_s: float) -> bool:
    """Could this utterance be an answer to the robot (short enough)?"""
    return duration_s <= ANSWER_MAX_S and syllables(text) <= ANSWER_MAX_SYLLABLES


_HANGUL = re.compile(r"[가-힣]")
_LATIN_SYLLABLE = re.compile(r"[aeiouy]+")


def syllables(text: str) -> int:
    """Spoken length: Hangul syllables, plus vowel groups of Latin words (≈ English syllables),
    plus digits."""
    low = text.lower()
    return (
        len(_HANGUL.findall(low))
        + len(_LATIN_SYLLABLE.findall(low))
        + sum(ch.isdigit() for ch in low)
    )


def parse_yes_no(text: str, language: str = "ko") -> bool | None:
    """True for a yes, False for a no, None when unclear (say nothing, both, or "I don't know")."""
    if language == "en":
        return _parse_yes_no_en(text)
    return _parse_yes_no_ko(text)


def resolve_yes_no(text: str, answer_text: str = "", language: str = "ko") -> bool | None:
    """The yes/no of an answer: the free transcript first, then the constrained reading
    (Utterance.answer_text) when the free one is unclear ("네" is often lost in free decoding)."""
    free = parse_yes_no(text, language)
    if free is not None or not answer_text:
        return free
    return parse_yes_no(answer_text, language)


def _parse_yes_no_ko(text: str) -> bool | None:
    squashed = normalize(text)
    if not squashed or any(u in squashed for u in _KO_UNSURE):
        return None
    # Negation phrases first: they contain yes-words ("그렇지 않아요" holds "그렇지").
    no = any(p in squashed for p in _KO_NO_PHRASES)
    rest = squashed
    for p in _KO_NO_PHRASES:
        rest = rest.replace(p, "")
    yes = any(p in rest for p in _KO_YES_PHRASES)
    words = _ko_words(text)
    # Vosk writes some answers in pieces ("맞 아요"): a piece joined to the next is a word too.
    joined = [a + b for a, b in pairwise(words)]
    if any(_ko_word_in(w, _KO_YES_WORDS) for w in joined):
        yes = True
    if any(_ko_word_in(w, _KO_NO_WORDS) for w in joined):
        no = True
    for i, word in enumerate(words):
        if i + 1 < len(words) and words[i + 1].startswith("않"):
            no = True  # "맞지 않아요", "있지 않아"
        elif _ko_word_in(word, _KO_NO_WORDS):
            no = True
        elif _ko_word_in(word, _KO_YES_WORDS):
            if i > 0 and words[i - 1] in ("안", "못"):
                no = True
            else:
                yes = True
    return None if yes == no else yes


def _parse_yes_no_en(text: str) -> bool | None:
    words = _en_words(text)
    if not words.strip() or any(_en_has(words, u) for u in _EN_UNSURE):
        return None
    no = any(_en_has(words, p) for p in _EN_NO)
    stripped = words
    for p in _EN_NO:  # "i am not" contains "i am": take the negations out before looking for yes
        stripped = stripped.replace(f" {p} ", " ")
    yes = any(_en_has(stripped, p) for p in _EN_YES)
    if yes == no:
        return None
    return yes


_KO_ORDINALS = (  # ("이번" = "this time", "사번": left out, too common or too odd)
    ("첫번째", "일번", "1번", "하나"),
    ("두번째", "2번", "둘"),
    ("세번째", "삼번", "3번", "셋"),
    ("네번째", "4번", "넷"),
    ("다섯번째", "오번", "5번", "다섯"),
)
_EN_ORDINALS = (
    ("first", "one", "number one", "1"),
    ("second", "two", "number two", "2"),
    ("third", "three", "number three", "3"),
    ("fourth", "four", "number four", "4"),
    ("fifth", "five", "number five", "5"),
)
SCALE_MIN_SIMILARITY = 0.8
"""A Korean option must fit this closely (jamo similarity) to count."""


def parse_scale(text: str, language: str, options: Sequence[str]) -> int | None:
    """The index of the option the senior chose, or None when none or several fit.

    Each option is looked for in the answer (Korean fuzzily at the jamo level on whole
    syllables, English word by word, "not often" never counting as "often"); an option
    contained in a longer one that was also said ("ever" in "hardly ever") gives way to it.
    When no whole option was said, the options' first words are tried ("자주 그래요" picks
    "자주 있다"), then an ordinal ("두 번째", "the second") picks by position.
    """
    if not options:
        raise ValueError("parse_scale needs at least one option")
    said = [i for i, option in enumerate(options) if _option_said(text, option, language)]
    if not said:
        # The option's first word alone ("자주 그래요" for "자주 있다"), if it tells them apart.
        heads = [option.split()[0] if option.split() else "" for option in options]
        if len(set(heads)) == len(heads) and all(heads):
            said = [i for i, head in enumerate(heads) if _option_said(text, head, language)]
    if not said:
        return _ordinal(text, language, len(options))
    norms = {i: normalize(options[i]) for i in said}
    kept = [i for i in said if not any(j != i and norms[i] in norms[j] for j in said)]
    return kept[0] if len(kept) == 1 else None


def _option_said(text: str, option: str, language: str) -> bool:
    if language == "en":
        words = _en_words(text)
        target = " ".join(_en_words(option).split())
        return _en_has(words, target) and not _en_has(words, f"not {target}")
    norm_text, norm_option = normalize(text), normalize(option)
    if not norm_text or not norm_option:
        return False
    jamo_option = to_jamo(norm_option)
    found = best_substring(jamo_option, to_jamo(norm_text), syllable_boundaries(norm_text))
    return found is not None and found.similarity(len(jamo_option)) >= SCALE_MIN_SIMILARITY


def _ordinal(text: str, language: str, count: int) -> int | None:
    """An option chosen by position: ordinals first ("the second one"), then numbers."""
    if language == "en":
        words = _en_words(text)
        tiers: list[list[tuple[str, ...]]] = [
            [n[:1] for n in _EN_ORDINALS],
            [n[1:] for n in _EN_ORDINALS],
        ]
        for tier in tiers:
            found = [
                i for i, names in enumerate(tier[:count]) if any(_en_has(words, n) for n in names)
            ]
            if found:
                return found[0] if len(found) == 1 else None
        return None
    squashed = normalize(text)
    ko_words = _ko_words(text)
    found = [i for i, names in enumerate(_KO_ORDINALS[:count]) if names[0] in squashed]
    if not found:
        found = [
            i
            for i, names in enumerate(_KO_ORDINALS[:count])
            if any((n in squashed) if n.endswith("번") else (n in ko_words) for n in names[1:])
        ]
    return found[0] if len(found) == 1 else None
