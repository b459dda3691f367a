"""The CLI's error lines in Korean and English, the house form `오류: 한국어 / error: English`.

An error whose own text is already bilingual (the cloud's, `cloud.errors.both`) is shown as it
is; another's English text gets a Korean sentence saying what failed in front of it."""

import typer

from protocol.bilingual import halves


def error_line(ko: str, en: str, *, label: tuple[str, str] = ("오류", "error")) -> str:
    """`오류: 한국어 / error: English` (another label, e.g. ("내보내기 거절", "export refused"))."""
    return f"{label[0]}: {ko} / {label[1]}: {en}"


def error_of(e: BaseException | str, ko: str, *, label: tuple[str, str] = ("오류", "error")) -> str:
    """The line for an exception: its own halves when it is `한국어 / English`, else `ko` and
    its English text."""
    text = str(e)
    split = halves(text)
    if split is not None:
        return error_line(*split, label=label)
    return error_line(ko, text, label=label)


def fail(ko: str, en: str, code: int = 2) -> typer.Exit:
    """Print the bilingual error line on stderr; the Exit to raise."""
    typer.echo(error_line(ko, en), err=True)
    return typer.Exit(code)


def fail_with(e: BaseException | str, ko: str, code: int = 2) -> typer.Exit:
    """Print an exception's error line (see `error_of`) on stderr; the Exit to raise."""
    typer.echo(error_of(e, ko), err=True)
    return typer.Exit(code)
