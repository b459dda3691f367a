"""Content packs: a small TOML format (one category, one language per file) and its loader.

A pack looks like this (see device/content/packs/*.toml for the shipped ones)::

    [pack]
    language = "ko"          # "ko" or "en"
    category = "story"       # story | quiz | song | exercise | game
    title = "옛날이야기"
    source = "전래동화 (public domain)"

    [[items]]
    id = "heungbu"           # lower-case letters, digits, "_" and "-"; unique per category
    title = "흥부와 놀부"
    lines = ["옛날 옛적에 ...", "..."]

Per category: a story, song or exercise has `title` and `lines` (an exercise may set
`pause_s`, the seconds between its steps); a quiz has `question`, `answer` and `accept`
(words that count as right) and may have `hint`; a memory game has `title` and 3 to 6
`words`. Every problem is reported with the file, the item and the field.
"""

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from device.errors import DeviceError

PACKS_DIR = Path(__file__).parent / "packs"
"""The packs shipped with the robot."""

LANGUAGES = ("ko", "en")
MAX_LINE_CHARS = 400
MAX_LINES = 40
_ID = re.compile(r"^[a-z0-9_-]{1,48}$")


class ContentError(DeviceError):
    """A content pack is missing, not TOML, or does not follow the format."""


class Category(StrEnum):
    """What kind of content an item is."""

    STORY = "story"
    QUIZ = "quiz"
    SONG = "song"
    EXERCISE = "exercise"
    GAME = "game"


@dataclass(frozen=True)
class ContentItem:
    """One story, quiz, song, exercise or memory game in one language."""

    id: str
    category: Category
    language: str
    title: str
    lines: tuple[str, ...] = ()
    question: str = ""
    answer: str = ""
    accept: tuple[str, ...] = ()
    hint: str = ""
    words: tuple[str, ...] = ()
    pause_s: float = 1.5
    source: str = ""

    @property
    def key(self) -> str:
        """Unique within a language: "story:heungbu"."""
        return f"{self.category}:{self.id}"


_REQUIRED: dict[Category, tuple[str, ...]] = {
    Category.STORY: ("title", "lines"),
    Category.SONG: ("title", "lines"),
    Category.EXERCISE: ("title", "lines"),
    Category.QUIZ: ("question", "answer", "accept"),
    Category.GAME: ("title", "words"),
}
_ALLOWED = {"id", "title", "lines", "question", "answer", "accept", "hint", "words", "pause_s"}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{where} must be a non-empty string")
    if len(value) > MAX_LINE_CHARS:
        raise ContentError(f"{where} is longer than {MAX_LINE_CHARS} characters")
    return value.strip()


def _texts(value: Any, where: str, low: int = 1, high: int = MAX_LINES) -> tuple[str, ...]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise ContentError(f"{where} must be a list of {low} to {high} strings")
    return tuple(_text(v, f"{where}[{i}]") for i, v in enumerate(value))


def _item(raw: Any, category: Category, language: str, source: str, where: str) -> ContentItem:
    if not isinstance(raw, dict):
        raise ContentError(f"{where} must be a table")
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise ContentError(f"{where}: unknown field(s) {', '.join(unknown)}")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise ContentError(f"{where}: id must be 1-48 of a-z, 0-9, '_' or '-', not {item_id!r}")
    where = f"{where} ({item_id})"
    missing = [f for f in _REQUIRED[category] if f not in raw]
    if missing:
        raise ContentError(f"{where}: a {category} needs {', '.join(missing)}")
    pause = raw.get("pause_s", 1.5)
    if isinstance(pause, bool) or not isinstance(pause, int | float) or not 0 <= pause <= 30:
        raise ContentError(f"{where}.pause_s must be a number of seconds from 0 to 30")
    title = raw.get("title", raw.get("question", ""))
    return ContentItem(
        id=item_id,
        category=category,
        language=language,
        title=_text(title, f"{where}.title"),
        lines=_texts(raw["lines"], f"{where}.lines", 2) if "lines" in raw else (),
        question=_text(raw["question"], f"{where}.question") if "question" in raw else "",
        answer=_text(raw["answer"], f"{where}.answer") if "answer" in raw else "",
        accept=_texts(raw["accept"], f"{where}.accept") if "accept" in raw else (),
        hint=_text(raw["hint"], f"{where}.hint") if "hint" in raw else "",
        words=_texts(raw["words"], f"{where}.words", 3, 6) if "words" in raw else (),
        pause_s=float(pause),
        source=source,
    )


def load_pack(path: Path) -> list[ContentItem]:
    """Read and check one pack file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(f"content pack {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ContentError(f"content pack {path} cannot be read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ContentError(f"{path}: not valid TOML: {e}") from None
    head = raw.get("pack")
    if not isinstance(head, dict):
        raise ContentError(f"{path}: a [pack] table with language and category is required")
    language = head.get("language")
    if language not in LANGUAGES:
        raise ContentError(f"{path}: [pack] language must be 'ko' or 'en', not {language!r}")
    try:
        category = Category(str(head.get("category")))
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise ContentError(
            f"{path}: [pack] category must be one of {known}, not {head.get('category')!r}"
        ) from None
    source = str(head.get("source", ""))
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        raise ContentError(f"{path}: the pack has no [[items]]")
    out = [
        _item(r, category, str(language), source, f"{path.name} item {i + 1}")
        for i, r in enumerate(items)
    ]
    seen: set[str] = set()
    for item in out:
        if item.id in seen:
            raise ContentError(f"{path.name}: item id {item.id!r} appears twice")
        seen.add(item.id)
    return out


class ContentLibrary:
    """Every item of the loaded packs, by language and category."""

    def __init__(self, items: Iterable[ContentItem]) -> None:
        self._by_key: dict[tuple[str, str], ContentItem] = {}
        for item in items:
            if (item.language, item.key) in self._by_key:
                raise ContentError(f"{item.language} item {item.key} is defined in two packs")
            self._by_key[(item.language, item.key)] = item

    def items(self, language: str, category: Category | None = None) -> list[ContentItem]:
        """The items of one language (and category), in pack order."""
        return [
            item
            for (lang, _), item in self._by_key.items()
            if lang == language and (category is None or item.category is category)
        ]

    def get(self, language: str, key: str) -> ContentItem | None:
        """One item by its key ("story:heungbu"), or None."""
        return self._by_key.get((language, key))

    def __len__(self) -> int:
        return len(self._by_key)


def load_library(extra_dirs: Sequence[Path] = (), *, shipped: bool = True) -> ContentLibrary:
    """The shipped packs plus every *.toml in `extra_dirs`."""
    paths: list[Path] = sorted(PACKS_DIR.glob("*.toml")) if shipped else []
    for folder in extra_dirs:
        if not folder.is_dir():
            raise ContentError(f"content folder {folder} does not exist")
        paths.extend(sorted(folder.glob("*.toml")))
    items: list[ContentItem] = []
    for path in paths:
        items.extend(load_pack(path))
    return ContentLibrary(items)
