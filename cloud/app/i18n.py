"""The app's words in Korean and English, from gettext catalogues, and which language a request
gets.

The catalogues are `locale/{ko,en}/LC_MESSAGES/dolbom.po` (msgid: a stable key such as
`kind_fall`; msgstr: the words, with `%(name)s` placeholders), compiled to the `.mo` files beside
them and read with Babel. `pybabel extract` builds `locale/dolbom.pot` from the Python code and
the Jinja2 templates (`babel.cfg`); docs/app.md has the extract/update/compile workflow, and
tests/app/test_catalogues.py fails when a word is untranslated or a `.mo` is stale.
"""

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.support import Translations

Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")
LANG_COOKIE = "dolbom_lang"
DOMAIN = "dolbom"
LOCALE_DIR = Path(__file__).parent / "locale"


@cache
def translations(lang: Lang) -> Translations:
    """The compiled catalogue of `lang` (read once; a missing `.mo` is an error, not English)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as f:
        return Translations(f, domain=DOMAIN)


def message(lang: Lang, key: str, **values: object) -> str:
    """The message `key` in `lang` with its `%(name)s` values (the key itself if unknown, so a
    gap shows, never a crash)."""
    return translations(lang).gettext(key) % values


def local_datetime(ts: datetime, zone: ZoneInfo, lang: Lang, pattern: str = "MM-dd HH:mm") -> str:
    """A time in `zone` as Babel formats it for `lang` (a CLDR pattern; the default '12-05 14:03'
    reads the same in both languages)."""
    return format_datetime(ts, pattern, tzinfo=zone, locale=lang)


def number(value: float, lang: Lang) -> str:
    """A number with the locale's grouping, e.g. '1,048,576'."""
    return format_decimal(value, locale=lang)


def pick_language(cookie: str | None, accept_language: str | None) -> Lang:
    """The switch's cookie, else the best of Korean/English in Accept-Language, else Korean."""
    if cookie in LANGS:
        return "en" if cookie == "en" else "ko"
    best: tuple[float, int, Lang] | None = None
    for index, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if not 0.0 < q <= 1.0:
            continue
        lang: Lang = "en" if primary == "en" else "ko"
        if best is None or (q, -index) > (best[0], -best[1]):
            best = (q, index, lang)
    return best[2] if best is not None else "ko"
