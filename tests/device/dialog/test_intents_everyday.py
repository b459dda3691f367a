"""Everyday intents: Korean ASR quirks tolerated, short words only where they mean an answer,
negation, English, and the safety intents always first."""

import pytest

from device.dialog.intents import EMERGENCY_INTENTS, Intent, match_everyday, match_intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("약 먹었어요", Intent.DONE),
        ("약 먹었 어요", Intent.DONE),  # Vosk's word pieces
        ("약먹었어요", Intent.DONE),  # spacing run together
        ("약을 먹었어요", Intent.DONE),  # particle kept
        ("안녕 하세 요", Intent.GREETING),
        ("옛날 얘기 해줘", Intent.WANT_STORY),  # 이야기 → 얘기, 해 줘 → 해줘
        ("이야기 들려주세요", Intent.WANT_STORY),
        ("운동 하자", Intent.WANT_EXERCISE),
        ("퀴즈를 내 줘", Intent.WANT_QUIZ),
    ],
)
def test_korean_everyday_intents_survive_spacing_and_particles(text: str, intent: Intent) -> None:
    assert match_intent(text).intent is intent


def test_a_one_jamo_slip_in_a_longer_everyday_phrase_still_matches() -> None:
    match = match_intent("감사함니다")  # 감사합니다 as it sounds: ㅂ heard as ㅁ
    assert match.intent is Intent.THANKS
    assert 0.8 <= match.confidence < 1.0


@pytest.mark.parametrize("text", ["좋 네 요", "오후 시 가 죠 네 용", "그래서 말이야", "예쁘네"])
def test_short_answer_words_inside_other_words_are_no_answer(text: str) -> None:
    assert match_intent(text).intent not in (Intent.YES, Intent.GOOD)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("네", Intent.YES),
        ("네네", Intent.YES),
        ("응 그래", Intent.YES),
        ("아니요", Intent.NO),
        ("네 먹었어요", Intent.DONE),  # the more specific, longer phrase wins
        ("아니 아직 안 먹었어", Intent.NOT_YET),
    ],
)
def test_answers_to_a_reminder(text: str, intent: Intent) -> None:
    assert match_intent(text).intent is intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("안 먹었어", Intent.NOT_YET),  # negated DONE
        ("기분이 안 좋아", Intent.SAD),
        ("안 좋아", Intent.SAD),  # negated GOOD
        ("안 그래", Intent.NO),  # negated YES
    ],
)
def test_korean_negation_turns_an_intent_into_its_opposite(text: str, intent: Intent) -> None:
    assert match_intent(text).intent is intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Yes", Intent.YES),
        ("yes please", Intent.YES),
        ("No thank you", Intent.NO),
        ("I took my pills", Intent.DONE),
        ("I did not", Intent.NOT_YET),
        ("I didn't take it yet", Intent.NOT_YET),
        ("not good", Intent.SAD),
        ("I'm not lonely", Intent.NO),
        ("Pardon?", Intent.REPEAT),
        ("good morning", Intent.GREETING),  # not GOOD: the longer phrase wins
        ("tell me a story", Intent.WANT_STORY),
        ("let's play a game", Intent.WANT_GAME),
    ],
)
def test_english_everyday_intents(text: str, intent: Intent) -> None:
    assert match_intent(text, language="en").intent is intent


def test_english_one_word_answer_counts_only_near_the_start_of_a_long_sentence() -> None:
    assert match_intent("yes I think I would like that", language="en").intent is Intent.YES
    long = "the doctor said my blood pressure was good this week"
    assert match_intent(long, language="en").intent is Intent.NONE


@pytest.mark.parametrize(
    ("text", "language", "intent"),
    [
        ("네 괜찮아요", "ko", Intent.FINE),
        ("노래 그만 살려 주세요", "ko", Intent.HELP),
        ("아파요 고마워", "ko", Intent.PAIN),
        ("yes I fell", "en", Intent.FELL),
        ("stop help me", "en", Intent.HELP),
    ],
)
def test_safety_intents_win_over_everyday_ones(text: str, language: str, intent: Intent) -> None:
    assert match_intent(text, language=language).intent is intent


def test_english_safety_phrases_are_heard_whatever_the_language_setting() -> None:
    assert match_intent("help me", language="ko").intent is Intent.HELP
    assert match_intent("help me", language="en").intent is Intent.HELP


def test_falling_asleep_is_not_a_fall() -> None:
    assert match_intent("I fell asleep in my chair", language="en").intent is Intent.NONE
    assert match_intent("I fell asleep and then I fell", language="en").intent is Intent.FELL


def test_the_grammar_never_makes_an_everyday_utterance_an_emergency() -> None:
    match = match_intent("노래 불러 줘", "살려 주세요", 1.0)
    assert match.intent is Intent.WANT_SONG
    assert match.intent not in EMERGENCY_INTENTS


def test_everyday_matching_alone_never_returns_a_safety_intent() -> None:
    assert match_everyday("살려 주세요").intent is Intent.NONE
    assert match_everyday("help me", "en").intent is Intent.NONE


def test_existing_positional_call_still_works() -> None:
    assert match_intent("살려 주세요", "", 0.0).intent is Intent.HELP
