"""The phrase files a linguist edits (device/dialog/phrases/*.toml) are complete and consistent."""

from pathlib import Path

import pytest

from device.audio.asr import DEFAULT_GRAMMAR_PHRASES
from device.dialog.intents import (
    EVERYDAY_PHRASES,
    NOT_FROM_PHRASES,
    PHRASES,
    SAFETY_INTENTS,
    Intent,
    match_intent,
)
from device.dialog.phrases import (
    LANGUAGES,
    PHRASE_DIR,
    PhraseError,
    load_phrase_book,
    load_phrase_books,
)

SAFETY = frozenset(i.value for i in SAFETY_INTENTS)
EVERYDAY = frozenset(i.value for i in Intent) - SAFETY - {i.value for i in NOT_FROM_PHRASES}
EVERYDAY -= {Intent.NONE.value}
BOOKS = load_phrase_books(safety_intents=SAFETY, everyday_intents=EVERYDAY)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_intent_has_phrases_in_each_language(language: str) -> None:
    book = BOOKS[language]
    assert set(book.safety) == SAFETY
    assert set(book.everyday) == EVERYDAY
    assert all(book.safety.values())
    assert all(book.everyday.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_phrase_means_two_intents_in_one_language(language: str) -> None:
    book = BOOKS[language]
    owners: dict[str, set[str]] = {}
    for table in (book.safety, book.everyday):
        for intent, phrases in table.items():
            for phrase in phrases:
                owners.setdefault(phrase, set()).add(intent)
    assert {p: o for p, o in owners.items() if len(o) > 1} == {}


def test_the_calls_for_help_are_in_the_files() -> None:
    ko, en = BOOKS["ko"].safety, BOOKS["en"].safety
    assert {"살려 주세요", "도와주세요", "구해 주세요"} <= set(ko["help"])
    assert {"넘어졌어요", "쓰러졌어요"} <= set(ko["fell"])
    assert {"아파요", "괜찮아요"} <= set(ko["pain"]) | set(ko["fine"])
    assert {"help me", "help"} <= set(en["help"])
    assert "i fell" in en["fell"]


def test_every_safety_grammar_phrase_is_a_safety_phrase() -> None:
    """The recogniser's grammar (spelled in the model's pieces) hears only what the files say."""
    written = {p.replace(" ", "") for phrases in BOOKS["ko"].safety.values() for p in phrases}
    assert {p.replace(" ", "") for p in DEFAULT_GRAMMAR_PHRASES} <= written


def test_the_matcher_uses_the_files_korean_first() -> None:
    assert PHRASES[Intent.HELP] == BOOKS["ko"].safety["help"] + BOOKS["en"].safety["help"]
    assert EVERYDAY_PHRASES["en"][Intent.WANT_SONG] == BOOKS["en"].everyday["want_song"]
    assert match_intent("사람 살려").intent is Intent.HELP


GOOD = """
[safety]
help = ["살려 주세요"]
pain = ["아파요"]
fell = ["넘어졌어요"]
fine = ["괜찮아요"]

[everyday]
yes = ["네"]
"""


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ko.toml"
    path.write_text(text, encoding="utf-8")
    load_phrase_book(path, safety_intents=SAFETY, everyday_intents=EVERYDAY)


def test_a_minimal_file_loads(tmp_path: Path) -> None:
    _load(tmp_path, GOOD)


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (GOOD + 'gretting = ["안녕"]\n', "[everyday] gretting", "unknown intent"),
        (GOOD.replace('["네"]', '["네", "네"]'), "[everyday] yes = '네'", "listed twice"),
        (GOOD + 'no = ["괜찮아요"]\n', "[everyday] no = '괜찮아요'", "also listed under 'fine'"),
        (GOOD.replace('fine = ["괜찮아요"]\n', ""), "[safety]", "no phrases for ['fine']"),
        (GOOD.replace('["네"]', '[" 네"]'), "[everyday] yes = ' 네'", "stray whitespace"),
        (GOOD.replace('["네"]', "[1]"), "everyday.yes.0", "Input should be a valid string"),
        (GOOD.replace('["네"]', "[]"), "everyday.yes", "at least 1 item"),
        (GOOD + "[extra]\nx = 1\n", "extra", "Extra inputs are not permitted"),
        (GOOD + "yes = [\n", "-", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    with pytest.raises(PhraseError) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'ko.toml'}: {key}: ")
    assert reason in message
    korean, _, _english = message.partition(" / ")
    assert any("가" <= ch <= "힣" for ch in korean.split(": ", 2)[-1])  # and in Korean


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PhraseError, match="cannot read it"):
        load_phrase_book(tmp_path / "xx.toml", safety_intents=SAFETY, everyday_intents=EVERYDAY)


def test_the_files_ship_in_the_package() -> None:
    assert {p.name for p in PHRASE_DIR.glob("*.toml")} == {f"{lang}.toml" for lang in LANGUAGES}
    assert (PHRASE_DIR / "__init__.py").exists()  # a package: pyproject's "*.toml" data applies
