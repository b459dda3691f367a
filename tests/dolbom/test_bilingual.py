"""The CLI's error lines: `오류: 한국어 / error: English`, whatever the error's own language."""

import pytest
import typer

from dolbom.bilingual import error_line, error_of, fail


def test_a_line_puts_the_korean_first_and_labels_both_halves() -> None:
    assert (
        error_line("설정이 없습니다", "no settings") == "오류: 설정이 없습니다 / error: no settings"
    )


def test_a_bilingual_error_is_split_into_its_own_halves() -> None:
    e = ValueError("id가 'x'인 연구가 없습니다 / no study with id 'x'")
    assert error_of(e, "무시됨") == "오류: id가 'x'인 연구가 없습니다 / error: no study with id 'x'"


def test_a_field_path_stays_in_front_of_both_halves() -> None:
    line = error_of("password: 12자 이상이어야 합니다 / at least 12 characters", "무시됨")
    assert (
        line == "오류: password: 12자 이상이어야 합니다 / error: password: at least 12 characters"
    )


def test_an_english_only_error_gets_the_callers_korean_in_front() -> None:
    line = error_of(OSError("disk full"), "저장하지 못했습니다")
    assert line == "오류: 저장하지 못했습니다 / error: disk full"


def test_another_label_names_both_halves() -> None:
    line = error_of("cannot reach k=7", "k-익명성을 맞출 수 없습니다", label=("거절", "refused"))
    assert line == "거절: k-익명성을 맞출 수 없습니다 / refused: cannot reach k=7"


def test_fail_prints_on_stderr_and_returns_the_exit(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = fail("--lang은 ko 또는 en이어야 합니다", "--lang must be ko or en", 2)
    assert isinstance(exit_, typer.Exit)
    assert exit_.exit_code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err == "오류: --lang은 ko 또는 en이어야 합니다 / error: --lang must be ko or en\n"
    )
