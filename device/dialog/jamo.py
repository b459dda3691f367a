"""Hangul to jamo and fuzzy substring search, so word-piece spacing and near-misses still match."""

import unicodedata
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
    """Spell Hangul syllables as jamo (compound vowels and clusters split); other characters stay."""
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


def best_substring(pattern: str, text: str) -> SubstringMatch:
    """Smallest edit distance between `pattern` and any substring of `text` (Sellers' algorithm)."""
    m = len(pattern)
    # prev[j]: edits to turn pattern[:i] into a substring ending at text[:j]; start[j]: its start.
    prev = [0] * (len(text) + 1)
    prev_start = list(range(len(text) + 1))
    for i in range(1, m + 1):
        cur = [i] + [0] * len(text)
        cur_start = [0] * (len(text) + 1)
        for j in range(1, len(text) + 1):
            cost = 0 if pattern[i - 1] == text[j - 1] else 1
            options = (
                (prev[j - 1] + cost, prev_start[j - 1]),
                (prev[j] + 1, prev_start[j]),
                (cur[j - 1] + 1, cur_start[j - 1]),
            )
            cur[j], cur_start[j] = min(options, key=lambda o: o[0])
        prev, prev_start = cur, cur_start
    best_end = min(range(len(text) + 1), key=lambda j: prev[j])
    return SubstringMatch(distance=prev[best_end], start=prev_start[best_end], end=best_end)
