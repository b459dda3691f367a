"""Intent matching: spacing-insensitive, fuzzy at the jamo level, never HELP on grammar alone."""

import pytest

from device.dialog.intents import Intent, match_intent
from device.dialog.jamo import best_substring, normalize, syllable_boundaries, to_jamo


@pytest.mark.parametrize(
    "text",
    [
        "살려 주세요",
        "살려주세요",
        "살려 주 세요",
        "살 려 주 세 요",
        "살려주세요!",
        "도와주 세요",
        "구 해주세요",
        "사람 살려",
    ],
)
def test_calls_for_help_match_whatever_the_spacing(text: str) -> None:
    match = match_intent(text)
    assert match.intent is Intent.HELP
    assert match.confidence == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("help me", Intent.HELP),
        ("Help!", Intent.HELP),
        ("somebody help", Intent.HELP),
        ("I fell", Intent.FELL),
        ("I fell down in the kitchen", Intent.FELL),
        ("it hurts", Intent.PAIN),
        ("I'm fine", Intent.FINE),
        ("i am fine thank you", Intent.FINE),
    ],
)
def test_english_phrases_match(text: str, intent: Intent) -> None:
    assert match_intent(text).intent is intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("아파요", Intent.PAIN),
        ("너무 아파", Intent.PAIN),
        ("아야", Intent.PAIN),
        ("넘어졌 어요", Intent.FELL),
        ("쓰러졌어요", Intent.FELL),
        ("괜찮 아요", Intent.FINE),
        ("네 괜찮아요", Intent.FINE),
    ],
)
def test_korean_safety_phrases_match(text: str, intent: Intent) -> None:
    assert match_intent(text).intent is intent


@pytest.mark.parametrize(
    "text",
    [
        "오늘 날씨가 좋네요",
        "점심은 뭐 먹을까",
        "텔레비전 좀 켜 줘",
        "아들이 어제 도와줬어요",  # "helped me": 도와줘 is inside 도와줬 only mid-syllable
        "사람을 살려주는 일을 합니다",  # "saving people is my job": 살려주는 ≠ 살려줘
        "아파트에 살아요",  # apartment, not pain
        "공부를 열심히 해야 알아야 합니다",
        "helpful people",
        "",
    ],
)
def test_ordinary_sentences_are_no_intent(text: str) -> None:
    assert match_intent(text).intent is Intent.NONE


@pytest.mark.parametrize(
    "text", ["안 아파요", "안 괜찮아요", "괜찮지 않아요", "I'm not fine", "안 넘어졌어요"]
)
def test_negated_phrases_do_not_match(text: str) -> None:
    assert match_intent(text).intent is Intent.NONE


def test_one_jamo_slip_in_a_long_phrase_still_matches() -> None:
    match = match_intent("살려 주셰요")  # ㅔ heard as ㅖ
    assert match.intent is Intent.HELP
    assert 0.9 <= match.confidence < 1.0


def test_a_near_miss_of_a_short_phrase_is_not_enough_alone() -> None:
    assert match_intent("살려줄").intent is Intent.NONE  # one jamo from 살려줘 (8 jamo)


def test_grammar_alone_never_raises_help() -> None:
    for confidence in (0.5, 0.9, 1.0):
        match = match_intent("오늘 날씨가 좋네요", "살려 주세요", confidence)
        assert match.intent is Intent.NONE
    assert match_intent("", "도와주 세요 살려 주세요", 1.0).intent is Intent.NONE


def test_grammar_corroborates_a_looser_free_match() -> None:
    free = "시 수수 와 주셔요 후 수사 주세요 스"  # Vosk on a help call under drone noise
    assert match_intent(free).intent is Intent.NONE
    assert match_intent(free, "도와주 세요 주세요", 0.9).intent is Intent.HELP


def test_low_grammar_confidence_does_not_corroborate() -> None:
    free = "시 수수 와 주셔요 후 수사 주세요 스"
    assert match_intent(free, "도와주 세요 주세요", 0.3).intent is Intent.NONE


def test_grammar_of_another_intent_does_not_corroborate_help() -> None:
    free = "시 수수 와 주셔요 후 수사 주세요 스"
    assert match_intent(free, "괜찮 아요", 1.0).intent is Intent.NONE


def test_help_wins_over_fine_in_one_utterance() -> None:
    assert match_intent("괜찮아요 아니 살려 주세요").intent is Intent.HELP


def test_normalize_drops_spaces_punctuation_and_case() -> None:
    assert normalize(" 살려, 주세요! HELP ") == "살려주세요help"


def test_to_jamo_splits_compound_vowels_and_clusters() -> None:
    assert to_jamo("줘") == "ㅈㅜㅓ"
    assert to_jamo("괜찮") == "ㄱㅗㅐㄴㅊㅏㄴㅎ"
    assert to_jamo("a1") == "a1"


def test_best_substring_only_matches_whole_syllables_when_asked() -> None:
    text = normalize("도와줬어요")
    pattern = to_jamo("도와줘")
    free = best_substring(pattern, to_jamo(text))
    assert free is not None
    assert free.distance == 0
    whole = best_substring(pattern, to_jamo(text), syllable_boundaries(text))
    assert whole is not None
    assert whole.distance == 1


@pytest.mark.parametrize(
    "text",
    [
        "I don't need help",
        "no I don't need any help",
        "no help needed",
        "help is not needed",
        "I do not need your help",
        "안 도와줘도 돼요",
        "안 도와주셔도 돼요",
        "도와주지 마세요",
        "도와줄 필요 없어요",
    ],
)
def test_help_turned_down_is_no_call(text: str) -> None:
    assert match_intent(text, language="en").intent not in (Intent.HELP, Intent.PAIN, Intent.FELL)


@pytest.mark.parametrize(
    "text",
    [
        "I can't get up help",
        "no no help me",
        "no, help",
        "I need help",
        "왜 안 도와줘",
        "도와줘 도와줘",
    ],
)
def test_a_call_with_a_negation_elsewhere_is_still_a_call(text: str) -> None:
    assert match_intent(text, language="en").intent is Intent.HELP
