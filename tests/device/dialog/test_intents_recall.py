"""Recall of every intent on the committed text utterances, and no everyday emergency.

The utterances (tests/fixtures/dialog/utterances_{ko,en}.toml) were written by hand in a
senior's spoken register with recogniser-style variants. They were written beside the
phrase lists, so recall on them is an upper bound and a regression guard, not a measure on
real transcripts; benchmarks/dialog.py prints the same table. The floors: every intent
keeps at least 80 % (one miss in five: the lists are short, one slip must not hide behind an
average) and each language at least 95 % overall (measured: see the benchmark's JSON). The
confusion rule has no floor: no utterance of an everyday intent may start the safety loop.
"""

import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from device.dialog.intents import (
    EMERGENCY_INTENTS,
    NOT_FROM_PHRASES,
    SAFETY_INTENTS,
    Intent,
    match_intent,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dialog"
LANGUAGES = ("ko", "en")
MIN_INTENT_RECALL = 0.8
MIN_LANGUAGE_RECALL = 0.95
MIN_UTTERANCES_PER_INTENT = 4


def load(language: str) -> dict[Intent, list[str]]:
    raw = tomllib.loads((FIXTURES / f"utterances_{language}.toml").read_text("utf-8"))
    return {Intent(k): list(v) for k, v in raw["utterances"].items()}


def recall(language: str) -> dict[Intent, tuple[int, int]]:
    hits: dict[Intent, tuple[int, int]] = {}
    for intent, texts in load(language).items():
        if intent is Intent.NONE:
            continue
        ok = sum(match_intent(t, language=language).intent is intent for t in texts)
        hits[intent] = (ok, len(texts))
    return hits


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_intent_has_several_utterances(language: str) -> None:
    table = load(language)
    missing = set(Intent) - set(table) - NOT_FROM_PHRASES
    assert not missing
    assert all(len(v) >= MIN_UTTERANCES_PER_INTENT for v in table.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_recall_per_intent_is_at_least_the_floor(language: str) -> None:
    per_intent = recall(language)
    low = {i.value: f"{ok}/{n}" for i, (ok, n) in per_intent.items() if ok / n < MIN_INTENT_RECALL}
    assert not low, f"intents below {MIN_INTENT_RECALL:.0%} recall: {low}"
    ok = sum(v[0] for v in per_intent.values())
    n = sum(v[1] for v in per_intent.values())
    assert ok / n >= MIN_LANGUAGE_RECALL, f"{language}: {ok}/{n}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_everyday_utterance_starts_the_safety_loop(language: str) -> None:
    confused: dict[str, list[str]] = defaultdict(list)
    for intent, texts in load(language).items():
        if intent in SAFETY_INTENTS:
            continue
        for text in texts:
            heard = match_intent(text, language=language).intent
            if heard in EMERGENCY_INTENTS:
                confused[intent.value].append(f"{text!r} → {heard.value}")
    assert not confused


@pytest.mark.parametrize("language", LANGUAGES)
def test_ordinary_sentences_are_no_safety_intent(language: str) -> None:
    for text in load(language)[Intent.NONE]:
        assert match_intent(text, language=language).intent not in SAFETY_INTENTS, text
