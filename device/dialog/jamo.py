"""Hangul to jamo and fuzzy substring search, so word-piece spacing and near-misses still match."""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_SYLLABLE_FIRST = 0xAC00
_SYLLABLE_LAST = 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
# Compound vowels and consonant clusters split into their parts: "줘" and "주어" then differ
# by one symbol, not by a whole letter, which is what a near-miss of the recogniser looks like.
_SPLIT = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
    "ㄳ": "ㄱㅅ",
    "ㄵ": "ㄴㅈ",
    "ㄶ": "ㄴㅎ",
    "ㄺ": "ㄹㄱ",
    "ㄻ": "ㄹㅁ",
    "ㄼ": "ㄹㅂ",
    "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ",
    "ㄿ": "ㄹㅍ",
    "ㅀ": "ㄹㅎ",
    "ㅄ": "ㅂㅅ",
}


def normalize(text: str) -> str:
    """NFC, lower case, letters and digits only: spacing and punctuation never change a match."""
    text = unicodedata.normalize("NFC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


def to_jamo(text: str) -> str:
    """Spell Hangul syllables as jamo, compound vowels and clusters split; other characters stay."""
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if _SYLLABLE_FIRST <= code <= _SYLLABLE_LAST:
            index = code - _SYLLABLE_FIRST
            parts = (_INITIALS[index // 588], _MEDIALS[index // 28 % 21], _FINALS[index % 28])
            out.extend(_SPLIT.get(p, p) for p in parts)
        else:
            out.append(_SPLIT.get(ch, ch))
    return "".join(out)


@dataclass(frozen=True)
class SubstringMatch:
    """Where a pattern best fits inside a text, and how many edits that fit needs."""

    distance: int
    start: int
    end: int

    def similarity(self, pattern_length: int) -> float:
        """1.0 for an exact occurrence, falling by 1/len(pattern) per edit (never below 0)."""
        if pattern_length == 0:
            return 0.0
        return max(0.0, 1.0 - self.distance / pattern_length)


def syllable_boundaries(text: str) -> list[int]:
    """Offsets in `to_jamo(text)` where each character of `text` starts, plus the end."""
    bounds = [0]
    for ch in text:
        bounds.append(bounds[-1] + len(to_jamo(ch)))
    return bounds


def best_substring(
    pattern: str, text: str, boundaries: Sequence[int] | None = None
) -> SubstringMatch | None:
    """Fewest edits turning `pattern` into a substring of `text` (Sellers' algorithm).

    With `boundaries` the substring must start and end at one of those offsets, so a jamo
    pattern matches whole syllables only ("도와줘" is not found inside "도와줬어요").
    """
    n = len(text)
    allowed = set(range(n + 1)) if boundaries is None else set(boundaries)
    big = len(pattern) + n + 1
    # prev[j]: edits turning pattern[:i] into a substring ending at text[j]; starts[j]: its start.
    prev = [0 if j in allowed else big for j in range(n + 1)]
    starts = list(range(n + 1))
    for i in range(1, len(pattern) + 1):
        cur = [prev[0] + 1] + [0] * n
        cur_starts = [starts[0]] + [0] * n
        for j in range(1, n + 1):
            sub = prev[j - 1] + (pattern[i - 1] != text[j - 1])
            dele = prev[j] + 1
            ins = cur[j - 1] + 1
            if sub <= dele and sub <= ins:
                cur[j], cur_starts[j] = sub, starts[j - 1]
            elif dele <= ins:
                cur[j], cur_starts[j] = dele, starts[j]
            else:
                cur[j], cur_starts[j] = ins, cur_starts[j - 1]
        prev, starts = cur, cur_starts
    ends = [j for j in sorted(allowed) if prev[j] < big]
    if not ends:
        return None
    end = min(ends, key=lambda j: prev[j])
    return SubstringMatch(distance=prev[end], start=starts[end], end=end)
