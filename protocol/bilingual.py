"""The house form of a user-facing message in both languages, `한국어 / English`: its halves.

The cloud writes such messages (`cloud.errors.both`); the app's pages show the half in the
reader's language and the CLI shows both behind its label, so the one way to split them lives
here, beside the contract both sides share."""

import re

HANGUL = re.compile(r"[\uac00-\ud7a3]")
_PATH = re.compile(r"^[A-Za-z_][\w.]*: ")


def halves(text: str) -> tuple[str, str] | None:
    """The Korean and the English half of `한국어 / English`, split at the first " / " after the
    first Hangul letter (a value quoted before it may hold one); a leading field path
    (`password: 12자 … / at least …`) is kept on both halves. None when the text has no such
    split."""
    korean = HANGUL.search(text)
    if korean is None:
        return None
    split = text.find(" / ", korean.start())
    if split < 0:
        return None
    path = _PATH.match(text)
    return text[:split], (path.group(0) if path else "") + text[split + 3 :]


def in_language(text: str, lang: str) -> str:
    """The half of a bilingual message in `lang` ("ko", else English); the whole text when it
    is not in the bilingual form."""
    split = halves(text)
    if split is None:
        return text
    return split[0] if lang == "ko" else split[1]
