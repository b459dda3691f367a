"""The emotion data set: authored utterances, a validation split carved from them, ASR-style
augmentations, and the reader for the integrator's held-out test files.

The authored files (`models/data/emotion/authored_{ko,en}.tsv`, `label<TAB>valence<TAB>text`)
are the training data. The held-out test split (`test_{ko,en}.jsonl`) was written separately
and is read only by `evaluate`, never by training or tuning.
"""

import hashlib
import json
import random
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from device.perception.emotion_text import LABELS, is_hangul
from models.errors import DataError

LANGUAGES = ("ko", "en")
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "emotion"
VALIDATION_SHARE = 0.15


class EmotionDataError(DataError):
    """A data file is missing or a line in it is malformed; the message names file and line."""


@dataclass(frozen=True)
class Example:
    """One labelled utterance."""

    text: str
    label: str
    valence: float
    lang: str


def _check(text: str, label: str, valence: float, lang: str, where: str) -> Example:
    if label not in LABELS:
        raise EmotionDataError(f"{where}: unknown label {label!r} (expected one of {LABELS})")
    if not -1.0 <= valence <= 1.0:
        raise EmotionDataError(f"{where}: valence {valence} is outside [-1, 1]")
    if lang not in LANGUAGES:
        raise EmotionDataError(f"{where}: unknown lang {lang!r} (expected ko or en)")
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise EmotionDataError(f"{where}: empty text")
    return Example(text=text, label=label, valence=valence, lang=lang)


def read_authored(lang: str, data_dir: Path = DATA_DIR) -> list[Example]:
    """The authored utterances of one language, checked line by line."""
    path = data_dir / f"authored_{lang}.tsv"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EmotionDataError(f"{path} does not exist") from None
    out: list[Example] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        parts = line.split("\t")
        if len(parts) != 3:
            raise EmotionDataError(f"{where}: expected label<TAB>valence<TAB>text")
        label, valence_text, text = parts
        try:
            valence = float(valence_text)
        except ValueError:
            raise EmotionDataError(f"{where}: valence {valence_text!r} is not a number") from None
        example = _check(text, label, valence, lang, where)
        if example.text in seen:
            raise EmotionDataError(f"{where}: duplicate text {example.text!r}")
        seen.add(example.text)
        out.append(example)
    return out


def read_jsonl(path: Path) -> list[Example]:
    """Labelled JSON lines `{"text", "label", "valence", "lang"}` (the held-out test files)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EmotionDataError(f"{path} does not exist") from None
    out: list[Example] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise EmotionDataError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise EmotionDataError(f"{where}: expected a JSON object")
        try:
            text, label, valence, lang = row["text"], row["label"], row["valence"], row["lang"]
        except KeyError as e:
            raise EmotionDataError(f"{where}: missing field {e.args[0]!r}") from None
        if not isinstance(text, str) or not isinstance(label, str) or not isinstance(lang, str):
            raise EmotionDataError(f"{where}: text, label and lang must be strings")
        if isinstance(valence, bool) or not isinstance(valence, int | float):
            raise EmotionDataError(f"{where}: valence must be a number")
        out.append(_check(text, label, float(valence), lang, where))
    return out


def _bucket(text: str, seed: int) -> float:
    """A stable number in [0, 1) for a text: the split never depends on file order."""
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_train_validation(
    examples: Iterable[Example], seed: int, share: float = VALIDATION_SHARE
) -> tuple[list[Example], list[Example]]:
    """Hold out `share` of each (language, class) for tuning, by a seeded hash of the text."""
    groups: dict[tuple[str, str], list[Example]] = {}
    for ex in examples:
        groups.setdefault((ex.lang, ex.label), []).append(ex)
    train: list[Example] = []
    validation: list[Example] = []
    for key in sorted(groups):
        ranked = sorted(groups[key], key=lambda ex: _bucket(ex.text, seed))
        n_val = max(1, round(len(ranked) * share))
        validation.extend(ranked[:n_val])
        train.extend(ranked[n_val:])
    return train, validation


def fingerprint(examples: Iterable[Example]) -> str:
    """sha256 over the sorted examples: which data a model was trained on."""
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: (e.lang, e.label, e.text)):
        h.update(f"{ex.lang}\t{ex.label}\t{ex.valence:.3f}\t{ex.text}\n".encode())
    return h.hexdigest()


# -- augmentations: what a recogniser does to what was said ---------------------------------

_SYLLABLE_FIRST = 0xAC00
# Particles a recogniser (or a hurried speaker) drops, longest first.
_PARTICLES = (
    "에서",
    "한테",
    "하고",
    "이랑",
    "까지",
    "부터",
    "이",
    "가",
    "을",
    "를",
    "은",
    "는",
    "에",
    "도",
    "랑",
)
# Medial vowel confusions (index into the 21 medials): ㅐ/ㅔ, ㅒ/ㅖ, ㅙ/ㅚ/ㅞ.
_MEDIAL_SWAPS = {1: [5], 5: [1], 3: [7], 7: [3], 10: [11, 15], 11: [10, 15], 15: [10, 11]}
# Initial consonant confusions (index into the 19 initials): plain/tense/aspirated.
_INITIAL_SWAPS = {
    0: [1, 15],
    1: [0],
    3: [4, 16],
    4: [3],
    7: [8, 17],
    8: [7],
    9: [10],
    10: [9],
    12: [13, 14],
    13: [12],
    14: [12],
}
# Final consonants that sound alike at a syllable's end (index into the 28 finals).
_FINAL_SWAPS = {19: [7, 20], 20: [19], 7: [19], 22: [7], 23: [7], 25: [7], 27: [7], 1: [24]}

_EN_HOMOPHONES = {
    "to": ["too", "two"],
    "too": ["to"],
    "there": ["their"],
    "their": ["there"],
    "know": ["no"],
    "no": ["know"],
    "hear": ["here"],
    "here": ["hear"],
    "your": ["youre"],
    "right": ["write"],
    "week": ["weak"],
    "weak": ["week"],
    "for": ["four"],
    "by": ["buy", "bye"],
    "son": ["sun"],
    "whole": ["hole"],
    "pain": ["pane"],
    "knees": ["niece"],
    "back": ["bag"],
    "been": ["bin"],
    "and": ["an", "in"],
    "it's": ["its"],
    "i'm": ["im", "i am"],
    "can't": ["cant", "can not"],
    "don't": ["dont", "do not"],
    "won't": ["wont", "will not"],
    "i've": ["i have", "ive"],
    "didn't": ["didnt", "did not"],
}
_EN_DROPPABLE = {"the", "a", "an", "to", "is", "it", "i", "and", "of", "so", "my", "that"}


def _compose(initial: int, medial: int, final: int) -> str:
    return chr(_SYLLABLE_FIRST + initial * 588 + medial * 28 + final)


def _decompose(ch: str) -> tuple[int, int, int]:
    index = ord(ch) - _SYLLABLE_FIRST
    return index // 588, index // 28 % 21, index % 28


def _ko_spacing_removed(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) < 2:
        return text
    keep = [rng.random() < 0.3 for _ in words[1:]]
    out = words[0]
    for word, space in zip(words[1:], keep, strict=True):
        out += (" " if space else "") + word
    return out


def _ko_spacing_added(text: str, rng: random.Random) -> str:
    out: list[str] = []
    for i, ch in enumerate(text):
        out.append(ch)
        nxt = text[i + 1] if i + 1 < len(text) else " "
        if is_hangul(ch) and is_hangul(nxt) and rng.random() < 0.15:
            out.append(" ")
    return "".join(out)


def _ko_particles_dropped(text: str, rng: random.Random) -> str:
    words = text.split()
    out: list[str] = []
    for word in words:
        for particle in _PARTICLES:
            if word.endswith(particle) and len(word) > len(particle) + 1 and rng.random() < 0.6:
                word = word[: -len(particle)]
                break
        out.append(word)
    return " ".join(out)


def _ko_near_homophones(text: str, rng: random.Random) -> str:
    chars = list(text)
    positions = [i for i, ch in enumerate(chars) if is_hangul(ch)]
    if not positions:
        return text
    for i in rng.sample(positions, k=max(1, len(positions) // 6)):
        initial, medial, final = _decompose(chars[i])
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if final and nxt and is_hangul(nxt) and _decompose(nxt)[0] == 11 and rng.random() < 0.5:
            # Liaison, written as heard: 먹어 → 머거 (only single finals that map to an initial).
            as_initial = {1: 0, 4: 2, 7: 3, 8: 5, 16: 6, 17: 7, 19: 9, 20: 10, 22: 12, 23: 14}
            if final in as_initial:
                _ni, nm, nf = _decompose(nxt)
                chars[i] = _compose(initial, medial, 0)
                chars[i + 1] = _compose(as_initial[final], nm, nf)
                continue
        choice = rng.random()
        if choice < 0.4 and medial in _MEDIAL_SWAPS:
            medial = rng.choice(_MEDIAL_SWAPS[medial])
        elif choice < 0.7 and initial in _INITIAL_SWAPS:
            initial = rng.choice(_INITIAL_SWAPS[initial])
        elif final in _FINAL_SWAPS:
            final = rng.choice(_FINAL_SWAPS[final])
        chars[i] = _compose(initial, medial, final)
    return "".join(chars)


def _ko_syllable_dropped(text: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(text) if is_hangul(ch)]
    if len(positions) < 6:
        return text
    i = rng.choice(positions)
    return text[:i] + text[i + 1 :]


def _en_asr_form(text: str) -> str:
    return " ".join(
        "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text.lower()).split()
    )


def _en_homophones(text: str, rng: random.Random) -> str:
    words = _en_asr_form(text).split()
    out = [
        rng.choice(_EN_HOMOPHONES[w]) if w in _EN_HOMOPHONES and rng.random() < 0.5 else w
        for w in words
    ]
    return " ".join(out)


def _en_words_dropped(text: str, rng: random.Random) -> str:
    words = _en_asr_form(text).split()
    out = [w for w in words if not (w in _EN_DROPPABLE and rng.random() < 0.4)]
    return " ".join(out) if out else " ".join(words)


def _en_fillers(text: str, rng: random.Random) -> str:
    words = _en_asr_form(text).split()
    at = rng.randrange(len(words) + 1)
    return " ".join([*words[:at], rng.choice(["um", "uh", "well", "you know"]), *words[at:]])


def augment(example: Example, rng: random.Random, copies: int) -> list[Example]:
    """`copies` ASR-like variants of one utterance (the original is not among them)."""
    ops: list[Callable[[str, random.Random], str]]
    if example.lang == "ko":
        ops = [
            _ko_spacing_removed,
            _ko_spacing_added,
            _ko_particles_dropped,
            _ko_near_homophones,
            _ko_syllable_dropped,
        ]
    else:
        ops = [
            lambda t, _r: _en_asr_form(t),
            _en_homophones,
            _en_words_dropped,
            _en_fillers,
        ]
    out: list[Example] = []
    for _ in range(copies):
        text = example.text
        for op in rng.sample(ops, k=rng.randint(1, 2)):
            text = op(text, rng)
        if example.lang == "ko":
            text = text.replace(".", "").replace("?", "").replace("!", "")
        out.append(
            Example(text=text, label=example.label, valence=example.valence, lang=example.lang)
        )
    return out


def augmented(examples: Iterable[Example], seed: int, copies: int = 3) -> list[Example]:
    """Each example followed by its ASR-like variants; seeded, so the same every run."""
    rng = random.Random(seed)
    out: list[Example] = []
    for ex in examples:
        seen = {ex.text}
        out.append(ex)
        for variant in augment(ex, rng, copies):
            if variant.text not in seen:
                seen.add(variant.text)
                out.append(variant)
    return out
