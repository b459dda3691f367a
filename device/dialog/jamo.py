"""Hangul to jamo and fuzzy substring search, so word-piece spacing and near-misses still match."""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# One jamo spelling for the whole robot: the emotion featurizer and intent matching must
# spell Korean the same way (compound vowels and clusters split, so "줘" and "주어" differ by
# one symbol — what a near-miss of the recogniser looks like), so the spelling lives beside
# the featurizer (device.perception.emotion_text) and is re-exported here.
from device.perception.emotion_text import to_jamo

__all__ = ["SubstringMatch", "best_substring", "normalize", "syllable_boundaries", "to_jamo"]


def normalize(text: str) -> str:
    """NFC, lower case, letters and digits only: spacing and punctuation never change a match."""
    text = unicodedata.normalize("NFC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


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
