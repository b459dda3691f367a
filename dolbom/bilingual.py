"""The CLI's error lines in Korean and English, the house form `오류: 한국어 / error: English`.

An error whose own text is already bilingual (the cloud's, `cloud.errors.both`) is shown as it
is; another's English text gets a Korean sentence saying what failed in front of it."""

import re

import typer

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_PATH = re.compile(r"^[A-Za-z_][\w.]*: ")


def error_line(ko: str, en: str, *, label: tuple[str, str] = ("오류", "error")) -> str:
    """`오류: 한국어 / error: English` (another label, e.g. ("내보내기 거절", "export refused"))."""
    return f"{label[0]}: {ko} / {label[1]}: {en}"


def error_of(e: BaseException | str, ko: str, *, label: tuple[str, str] = ("오류", "error")) -> str:
    """The line for an exception: its own halves when it is `한국어 / English`, else `ko` and
    its English text."""
    text = str(e)
    korean = _HANGUL.search(text)
    if korean is not None:
        split = text.find(" / ", korean.start())
        if split >= 0:
            path = _PATH.match(text)  # `password: 12자 … / at least …`: the path on both halves
            where = path.group(0) if path else ""
            return error_line(text[:split], where + text[split + 3 :], label=label)
    return error_line(ko, text, label=label)


def fail(ko: str, en: str, code: int = 2) -> typer.Exit:
    """Print the bilingual error line on stderr; the Exit to raise."""
    typer.echo(error_line(ko, en), err=True)
    return typer.Exit(code)


def fail_with(e: BaseException | str, ko: str, code: int = 2) -> typer.Exit:
    """Print an exception's error line (see `error_of`) on stderr; the Exit to raise."""
    typer.echo(error_of(e, ko), err=True)
    return typer.Exit(code)
