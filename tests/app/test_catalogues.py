"""The app's gettext catalogues: every word translated in both languages, the `.pot` follows the
code and templates, the `.mo` files follow the `.po` files (nobody forgot to compile)."""

import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from cloud.app.i18n import DOMAIN, LANGS, LOCALE_DIR, Lang, message, number

ROOT = Path(__file__).parents[2]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalogue(lang: Lang) -> Catalog:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def _ids(catalogue: Catalog) -> set[str]:
    return {str(m.id) for m in catalogue if m.id}


@pytest.mark.parametrize("lang", LANGS)
def test_every_msgid_has_a_translation(lang: Lang) -> None:
    catalogue = _catalogue(lang)
    assert len(_ids(catalogue)) > 400
    empty = sorted(str(m.id) for m in catalogue if m.id and not str(m.string).strip())
    fuzzy = sorted(str(m.id) for m in catalogue if m.id and m.fuzzy)
    assert (empty, fuzzy) == ([], [])
    assert not catalogue.obsolete


def test_both_languages_have_the_same_msgids_and_placeholders() -> None:
    ko, en = _catalogue("ko"), _catalogue("en")
    assert _ids(ko) == _ids(en)
    for m in ko:
        if m.id:
            other = en[m.id]
            assert other is not None
            ko_names = set(_PLACEHOLDER.findall(str(m.string)))
            en_names = set(_PLACEHOLDER.findall(str(other.string)))
            assert ko_names == en_names, m.id


@pytest.mark.parametrize("lang", LANGS)
def test_the_compiled_mo_is_up_to_date_with_the_po(lang: Lang) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalogue(lang))
    committed = (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").read_bytes()
    assert committed == compiled.getvalue(), (
        f"{lang}: run `make i18n` (pybabel compile) after editing the .po file"
    )


def test_the_catalogues_hold_exactly_what_the_code_and_templates_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "fresh.pot"
    # the same command as `make i18n` (docs/app.md), written to a scratch file
    argv = ["pybabel", "-q", "extract", "-F", "cloud/app/babel.cfg", "-k", "message:2"]
    CommandLineInterface().run([*argv, "-o", str(out), "."])  # type: ignore[no-untyped-call]
    with out.open("rb") as f:
        fresh = _ids(read_po(f))
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as f:
        committed = _ids(read_po(f))
    assert fresh == committed, "run `make i18n`: the .pot is not what the code uses"
    assert fresh == _ids(_catalogue("ko"))


def test_messages_fill_their_values_and_an_unknown_key_shows_itself() -> None:
    assert message("en", "minutes_ago", n=5) == "5 min ago"
    assert message("ko", "minutes_ago", n=5) == "5분 전"
    assert message("en", "tr_adherence", n=7) == "Reminders confirmed (%, last 7 days)"
    assert message("ko", "no_such_key") == "no_such_key"
    assert number(1_048_576, "en") == "1,048,576"
