"""The halves of a `한국어 / English` message, as the app's pages and the CLI show them."""

from protocol.bilingual import halves, in_language


def test_a_bilingual_message_splits_into_its_korean_and_english_halves() -> None:
    text = "id가 'x'인 연구가 없습니다 / no study with id 'x'"
    assert halves(text) == ("id가 'x'인 연구가 없습니다", "no study with id 'x'")
    assert in_language(text, "ko") == "id가 'x'인 연구가 없습니다"
    assert in_language(text, "en") == "no study with id 'x'"


def test_a_field_path_stays_in_front_of_both_halves() -> None:
    text = "body.password: 12자 이상이어야 합니다 / at least 12 characters"
    ko, en = "body.password: 12자 이상이어야 합니다", "body.password: at least 12 characters"
    assert halves(text) == (ko, en)


def test_a_slash_in_a_value_before_the_korean_is_not_the_split() -> None:
    text = "'a / b': 알 수 없는 값입니다 / unknown value"
    assert halves(text) == ("'a / b': 알 수 없는 값입니다", "unknown value")


def test_text_that_is_not_bilingual_is_shown_whole() -> None:
    for text in ("disk full", "a / b", "한국어만 있습니다", ""):
        assert halves(text) is None
        assert in_language(text, "ko") == text
        assert in_language(text, "en") == text
