"""Reading the API's bilingual `detail` in tests: its English half, to assert facts by equality."""

import re

from cloud.errors import is_bilingual

_PATH = re.compile(r"^([A-Za-z_][\w.]*): ")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def english(detail: str) -> str:
    """The English of each `; `-separated `[path: ]한국어 / English` part, its path kept;
    fails the test when a part is not bilingual."""
    parts: list[str] = []
    for piece in detail.split("; "):  # an English half may hold "; " itself: join it back
        if parts and not _HANGUL.search(piece):
            parts[-1] += "; " + piece
        else:
            parts.append(piece)
    out = []
    for part in parts:
        assert is_bilingual(part), f"not bilingual: {part!r}"
        match = _PATH.match(part)
        path = match.group(0) if match else ""
        rest = part[len(path) :]
        first_korean = _HANGUL.search(rest)
        assert first_korean is not None, f"no Korean before the English: {part!r}"
        _, sep, en = rest[first_korean.start() :].partition(" / ")
        assert sep, f"no ' / ' between Korean and English: {part!r}"
        out.append(path + en)
    return "; ".join(out)
