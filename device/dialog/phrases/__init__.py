"""The phrase lists a linguist edits: `ko.toml` and `en.toml` beside this file.

Each file has a `[safety]` and an `[everyday]` table: one list of phrases per intent, in the
order they are tried. They are read once, validated with pydantic (unknown keys, empty or
duplicated phrases, a phrase under two intents, a missing safety intent are refused) and a
problem names the file, the key and the reason in Korean and English.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from device.errors import DeviceError

PHRASE_DIR = Path(__file__).parent
LANGUAGES = ("ko", "en")

Phrase = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=60)]
Phrases = Annotated[list[Phrase], Field(min_length=1, max_length=200)]


class PhraseError(DeviceError):
    """A phrase file that can't be used: names the file, the key and why (ko / en)."""


class _PhraseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    safety: dict[str, Phrases]
    everyday: dict[str, Phrases]


@dataclass(frozen=True)
class PhraseBook:
    """One language's phrases: intent name → phrases, in the file's order."""

    language: str
    safety: Mapping[str, tuple[str, ...]]
    everyday: Mapping[str, tuple[str, ...]]


def _problem(path: Path, key: str, ko: str, en: str) -> PhraseError:
    return PhraseError(f"{path}: {key}: {ko} / {en}")


def _check_phrases(path: Path, table: str, intent: str, phrases: list[str]) -> None:
    seen: set[str] = set()
    for phrase in phrases:
        key = f"[{table}] {intent} = {phrase!r}"
        if phrase != phrase.strip() or "  " in phrase:
            raise _problem(path, key, "앞뒤 공백이나 겹친 공백이 있습니다", "stray whitespace")
        if phrase in seen:
            raise _problem(path, key, "같은 표현이 두 번 있습니다", "listed twice")
        seen.add(phrase)


def load_phrase_book(
    path: Path, *, safety_intents: frozenset[str], everyday_intents: frozenset[str]
) -> PhraseBook:
    """Read and check one language's file against the intents the robot knows."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise _problem(path, "-", "파일을 읽을 수 없습니다", f"cannot read it ({e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise _problem(path, "-", "TOML 형식이 아닙니다", f"not valid TOML ({e})") from None
    try:
        book = _PhraseFile.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "-"
        raise _problem(path, key, "형식이 맞지 않습니다", first["msg"]) from None
    owner: dict[str, str] = {}
    for table, known, got in (
        ("safety", safety_intents, book.safety),
        ("everyday", everyday_intents, book.everyday),
    ):
        for intent, phrases in got.items():
            if intent not in known:
                raise _problem(
                    path, f"[{table}] {intent}", "알 수 없는 의도입니다", "unknown intent"
                )
            _check_phrases(path, table, intent, phrases)
            for phrase in phrases:
                other = owner.setdefault(phrase, intent)
                if other != intent:
                    raise _problem(
                        path,
                        f"[{table}] {intent} = {phrase!r}",
                        f"'{other}' 의도에도 있습니다",
                        f"also listed under '{other}'",
                    )
    missing = sorted(safety_intents - set(book.safety))
    if missing:
        raise _problem(path, "[safety]", f"{missing} 표현이 없습니다", f"no phrases for {missing}")
    language = path.stem
    return PhraseBook(
        language=language,
        safety={k: tuple(v) for k, v in book.safety.items()},
        everyday={k: tuple(v) for k, v in book.everyday.items()},
    )


def load_phrase_books(
    *,
    safety_intents: frozenset[str],
    everyday_intents: frozenset[str],
    folder: Path = PHRASE_DIR,
) -> dict[str, PhraseBook]:
    """Every language's phrase book, by language code."""
    return {
        lang: load_phrase_book(
            folder / f"{lang}.toml",
            safety_intents=safety_intents,
            everyday_intents=everyday_intents,
        )
        for lang in LANGUAGES
    }
