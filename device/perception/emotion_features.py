"""Text features for the emotion model: hashed word, character and jamo n-grams, plus the
lexicon's cue counts.

This one module is the featurizer on the robot (device.perception.emotion) and at training
time (models.emotion imports it, with device.perception.emotion_text and emotion_lexicon):
standard library and numpy only, no scikit-learn, so the two sides can never drift apart.
`SPEC` goes into the model's sidecar; the robot refuses a model whose feature spec differs
from the code it runs.

Why these features: an ASR transcript has no punctuation, unreliable Korean spacing
("도와주 세요") and near-miss syllables. Character n-grams are computed with the spaces
removed (spacing cannot change them), and Korean is also spelled as jamo so a recogniser's
near-miss ("있어"/"이써", "돼"/"되") still shares most of its n-grams with the right word.
Words and word pairs keep what English carries in whole words ("not happy"). A few hundred
authored sentences per class cannot teach every way of saying "it hurts", so the last
`len(LABELS)` entries are the hand-written lexicon's cue counts per class (log1p): prior
knowledge the classifier learns to weigh against the n-grams.
"""

import itertools
import math
import zlib

import numpy as np

from device.perception import emotion_lexicon as lexicon
from device.perception.emotion_text import LABELS, is_hangul, normalize, to_jamo

HASH_DIM = 8192
"""Hashed n-gram slots (a power of two: the hash's low bits index it)."""
DIM = HASH_DIM + len(LABELS)
"""Length of the feature vector: the hashed n-grams, then one lexicon count per class."""

SPEC: dict[str, object] = {
    "name": "dolbom-emotion-hashed-ngrams-lexicon",
    "version": 1,
    "dim": DIM,
    "hash_dim": HASH_DIM,
    "hash": "crc32 of 'namespace:gram' (UTF-8); low 13 bits index, bit 31 sign",
    "namespaces": {
        "w": "words (whitespace split)",
        "b": "word bigrams",
        "c": "characters, spaces removed, n = 1..3",
        "j": "Hangul as jamo (compounds split), spaces removed, n = 2..4",
    },
    "weighting": "log1p of |signed count|, each namespace L2-normalised, then the whole block",
    "lexicon": f"log1p(cue hits) per class in order {list(LABELS)}, entries {HASH_DIM}..",
}
"""What the robot checks against the sidecar before it trusts a model."""

_CHAR_N = (1, 2, 3)
_JAMO_N = (2, 3, 4)


def _grams(seq: str, sizes: tuple[int, ...]) -> list[str]:
    return [seq[i : i + n] for n in sizes for i in range(len(seq) - n + 1)]


def _namespaces(norm: str) -> dict[str, list[str]]:
    words = norm.split()
    joined = norm.replace(" ", "")
    hangul = "".join(ch for ch in joined if is_hangul(ch))
    return {
        "w": words,
        "b": [f"{a} {b}" for a, b in itertools.pairwise(words)],
        "c": _grams(joined, _CHAR_N),
        "j": _grams(to_jamo(hangul), _JAMO_N) if hangul else [],
    }


def _hashed(norm: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for space, grams in _namespaces(norm).items():
        counts: dict[int, float] = {}
        for gram in grams:
            h = zlib.crc32(f"{space}:{gram}".encode())
            index = h & (HASH_DIM - 1)
            counts[index] = counts.get(index, 0.0) + (1.0 if h >> 31 else -1.0)
        weighted = {i: math.copysign(math.log1p(abs(v)), v) for i, v in counts.items() if v != 0.0}
        norm2 = math.sqrt(sum(v * v for v in weighted.values()))
        if norm2 == 0.0:
            continue
        for i, v in weighted.items():
            out[i] = out.get(i, 0.0) + v / norm2
    total = math.sqrt(sum(v * v for v in out.values()))
    if total == 0.0:
        return {}
    return {i: v / total for i, v in out.items() if v != 0.0}


def language_of(norm: str) -> str:
    """ "ko" when the text has any Hangul, else "en": picks the lexicon (the robot's recogniser
    writes Korean in Hangul and English in Latin letters)."""
    return "ko" if any(is_hangul(ch) for ch in norm) else "en"


def sparse_features(text: str) -> dict[int, float]:
    """The nonzero entries of `featurize(text)` as {index: value}."""
    norm = normalize(text)
    out = _hashed(norm)
    hits = lexicon.hits(norm, language_of(norm))
    for k, label in enumerate(LABELS):
        if hits[label]:
            out[HASH_DIM + k] = math.log1p(hits[label])
    return out


def featurize(text: str) -> np.ndarray:
    """One utterance → a float32 vector of length DIM (all zeros for empty text)."""
    vec = np.zeros(DIM, dtype=np.float32)
    for i, v in sparse_features(text).items():
        vec[i] = v
    return vec


def featurize_batch(texts: list[str]) -> np.ndarray:
    """Several utterances → an (n, DIM) float32 matrix."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for i, v in sparse_features(text).items():
            out[row, i] = v
    return out
