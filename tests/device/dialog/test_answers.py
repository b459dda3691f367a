"""Yes/no and scale answers: clear answers parsed, negation handled, unclear ones None."""

import pytest

from device.dialog.answers import parse_scale, parse_yes_no, resolve_yes_no


@pytest.mark.parametrize(
    "text",
    [
        "네",
        "예",
        "응",
        "네네",
        "그래요",
        "맞아요",
        "맞 아요",
        "그럼요",
        "응 그래",
        "그런 것 같아요",
    ],
)
def test_korean_yes(text: str) -> None:
    assert parse_yes_no(text, "ko") is True


@pytest.mark.parametrize(
    "text",
    [
        "아니요",
        "아뇨",
        "아니",
        "아니야",
        "안 그래요",
        "그렇지 않아요",
        "맞지 않아",
        "아닌 것 같아요",
    ],
)
def test_korean_no_including_negated_yes(text: str) -> None:
    assert parse_yes_no(text, "ko") is False


@pytest.mark.parametrize("text", ["", "글쎄요", "잘 모르겠어요", "네 아니요", "오늘 날씨가 좋네요"])
def test_korean_unclear_is_none(text: str) -> None:
    assert parse_yes_no(text, "ko") is None


@pytest.mark.parametrize("text", ["yes", "Yeah I do", "of course", "I think so", "that's right"])
def test_english_yes(text: str) -> None:
    assert parse_yes_no(text, "en") is True


@pytest.mark.parametrize("text", ["no", "nope", "not really", "I'm not", "I don't think so"])
def test_english_no_including_negated_yes(text: str) -> None:
    assert parse_yes_no(text, "en") is False


@pytest.mark.parametrize("text", ["", "I don't know", "maybe", "yes no", "the weather is nice"])
def test_english_unclear_is_none(text: str) -> None:
    assert parse_yes_no(text, "en") is None


def test_free_transcript_decides_first_then_the_constrained_reading() -> None:
    assert resolve_yes_no("내", "네", "ko") is True  # free lost the short "네"
    assert resolve_yes_no("아니요", "네", "ko") is False  # a clear free answer wins
    assert resolve_yes_no("음", "", "ko") is None


UCLA_KO = ["거의 없다", "가끔 있다", "자주 있다"]
UCLA_EN = ["hardly ever", "some of the time", "often"]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("가끔 있어요", 1),
        ("거의 없어", 0),
        ("자주 그래", 2),  # the option's first word alone
        ("두 번째요", 1),  # by position
        ("거 의 없다", 0),  # recogniser spacing
    ],
)
def test_korean_scale(text: str, index: int) -> None:
    assert parse_scale(text, "ko", UCLA_KO) == index


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("often", 2),
        ("some of the time", 1),
        ("hardly ever really", 0),
        ("the second one", 1),
        ("not often", None),  # never read as "often"
        ("often or some of the time", None),  # two options: ask again
        ("I don't know", None),
    ],
)
def test_english_scale(text: str, index: int | None) -> None:
    assert parse_scale(text, "en", UCLA_EN) == index


def test_an_option_inside_a_longer_option_gives_way() -> None:
    assert parse_scale("hardly ever", "en", ["hardly ever", "ever", "often"]) == 0


def test_scale_without_options_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="option"):
        parse_scale("네", "ko", [])
