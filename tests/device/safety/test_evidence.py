"""The safety evidence: act, ask or nothing, from both recognisers, explainably."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from device.audio.asr import Word
from device.audio.sounds import SoundEvent
from device.dialog.intents import Intent, IntentMatch, match_intent
from device.safety.evidence import (
    EvidenceModel,
    EvidenceModelError,
    SafetyDecision,
    gather,
    grammar_phrase,
    load_model,
    sound_decision,
)
from device.safety.evidence import decide as decide_band


@dataclass(frozen=True)
class Heard:
    text: str
    grammar_words: tuple[Word, ...] = ()


def words(*pairs: tuple[str, float]) -> tuple[Word, ...]:
    return tuple(Word(w, c, 0.0, 0.0) for w, c in pairs)


def decide(heard: Heard, duration_s: float = 1.0) -> SafetyDecision:
    return decide_band(heard, match_intent(heard.text), duration_s)


def test_the_committed_model_loads_and_is_in_range() -> None:
    model = load_model()
    assert 0 < model.check_threshold <= model.act_threshold <= 1
    assert model.call_max_syllables > 5


def test_a_whole_phrase_with_garbage_around_it_counts_and_shares_what_was_heard() -> None:
    intent, conf, share, text = grammar_phrase(
        words(("·", 0.2), ("살려", 1.0), ("주세요", 0.9), ("살려", 1.0), ("주세요", 1.0))
    )
    assert intent is Intent.HELP
    assert text == "살려 주세요"
    assert conf == pytest.approx(1.0)
    assert share == pytest.approx(3.9 / 4.1)
    # words of two phrases side by side are not a phrase; a lone "주세요" is no call
    assert grammar_phrase(words(("주세요", 1.0), ("네", 1.0)))[0] is Intent.NONE
    assert grammar_phrase(()) == (Intent.NONE, 0.0, 0.0, "")


def test_a_clear_short_call_acts_at_once() -> None:
    d = decide(Heard("살려 주세요", words(("살려", 1.0), ("주세요", 1.0))))
    assert d.intent is Intent.HELP
    assert any(r.startswith("act") for r in d.reasons)


def test_the_same_words_in_long_fluent_speech_only_ask() -> None:
    tv = "가까운 병원이나 응급실을 이용해 주세요 그리고 도와주세요 라고 말씀하시면 됩니다"
    d = decide(Heard(tv), duration_s=6.0)
    assert d.intent is Intent.CHECK
    assert any("longer than a call" in r for r in d.reasons)


def test_a_grammar_hit_the_free_transcript_does_not_confirm_is_not_an_emergency() -> None:
    heard = Heard("부녀자", words(("살려줘", 1.0)))
    d = decide(heard)
    assert d.intent not in (Intent.HELP, Intent.PAIN, Intent.FELL)


def test_everyday_intents_pass_through_untouched() -> None:
    d = decide(Heard("약 먹었어요"))
    assert d.intent is Intent.DONE
    assert decide(Heard("괜찮아요")).intent is Intent.FINE


def test_negated_pain_is_nothing() -> None:
    assert decide(Heard("안 아파요")).intent is not Intent.PAIN


def test_the_bands_follow_the_model_thresholds() -> None:
    heard = Heard("사람 살려", words(("사람", 1.0), ("살려", 1.0)))
    ev = gather(heard.text, heard.grammar_words)
    always_ask = EvidenceModel((0.0, 0.0, 0.0, 0.0), 0.0, 0.9, 0.4, 14, 1.01, 1.01, "t")
    assert decide_band(heard, IntentMatch(Intent.NONE, 0, ""), 1.0, always_ask).intent is (
        Intent.CHECK
    )
    always_act = EvidenceModel((0.0, 0.0, 0.0, 0.0), 5.0, 0.9, 0.4, 14, 1.01, 0.7, "t")
    assert decide_band(heard, IntentMatch(Intent.NONE, 0, ""), 1.0, always_act).intent is (
        Intent.HELP
    )
    # ...but the model acts only when the free transcript nearly confirms the call
    unconfirmed = EvidenceModel((0.0, 0.0, 0.0, 0.0), 5.0, 0.9, 0.4, 14, 1.01, 1.01, "t")
    assert decide_band(heard, IntentMatch(Intent.NONE, 0, ""), 1.0, unconfirmed).intent is (
        Intent.CHECK
    )
    never = EvidenceModel((0.0, 0.0, 0.0, 0.0), -5.0, 0.9, 0.4, 14, 1.01, 1.01, "t")
    assert decide_band(heard, IntentMatch(Intent.NONE, 0, ""), 1.0, never).intent is Intent.NONE
    assert ev.grammar_intent is Intent.HELP


def test_a_distress_sound_asks_and_an_everyday_sound_does_not() -> None:
    base = decide(Heard(""))
    scream = SoundEvent("screaming", 0.97, True, {"screaming": 0.97})
    cough = SoundEvent("coughing", 0.02, False, {"coughing": 0.9})
    assert sound_decision(scream, base).intent is Intent.DISTRESS
    kept = sound_decision(cough, base)
    assert kept.intent is base.intent
    assert any("coughing" in r for r in kept.reasons)


@pytest.mark.parametrize(
    "change",
    [
        {"features": ["free_similarity"]},
        {"weights": [1.0]},
        {"act_threshold": 0.1, "check_threshold": 0.5},
        {"bias": "x"},
    ],
)
def test_a_broken_model_file_is_refused_with_the_reason(
    tmp_path: Path, change: dict[str, object]
) -> None:
    raw = json.loads(Path("device/safety/evidence.json").read_text(encoding="utf-8"))
    raw.update(change)
    bad = tmp_path / "evidence.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(EvidenceModelError):
        load_model(bad)
    with pytest.raises(EvidenceModelError):
        load_model(tmp_path / "missing.json")


# -- a no is a no (issue 12): espeak-ng's "아니요" was once heard as PAIN (P 0.99) ---------------

PAIN_GRAMMAR = words(("아파", 1.0), ("요", 1.0))
"""What the safety grammar heard in espeak-ng's "아니요" before it had a path for a no."""
ALARMS = (Intent.HELP, Intent.PAIN, Intent.FELL, Intent.CHECK, Intent.DISTRESS)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("아니에요", Intent.NO),
        ("아니 에 요", Intent.NO),
        ("아니요", Intent.NO),
        ("아니야", Intent.NO),
        ("괜찮아요", Intent.FINE),
        ("아니요 괜찮아요", Intent.FINE),
        ("no", Intent.NO),
        ("I'm fine", Intent.FINE),
        ("no I'm fine", Intent.FINE),
    ],
)
def test_no_and_fine_are_never_overruled_by_the_grammar_or_the_model(
    text: str, said: Intent
) -> None:
    language = "en" if text.isascii() else "ko"
    for grammar in ((), PAIN_GRAMMAR, words(("살려", 1.0), ("주세요", 1.0))):
        d = decide_band(Heard(text, grammar), match_intent(text, language=language), 0.8)
        assert d.intent is said, (text, grammar, d.reasons)
        assert d.reasons[-1].startswith(said.value)


def test_a_two_syllable_phrase_counts_only_when_it_is_the_word_itself() -> None:
    # espeak-ng's "아니에요" / "아니요" / "아뇨" as Vosk wrote them: one jamo from "아야"
    for text in ("아 이예요", "아예 요", "아 예요", "아이유", "아이 였다"):
        ev = gather(text, ())
        assert ev.free_similarity < 0.7, (text, ev)
        assert decide(Heard(text)).intent not in ALARMS, text
    assert gather("아야", ()).free_similarity == 1.0
    assert decide(Heard("아야")).intent is Intent.PAIN
    assert decide(Heard("아파")).intent is Intent.PAIN


def test_a_grammar_hit_the_free_transcript_does_not_confirm_is_asked_never_acted_on() -> None:
    # espeak-ng's "아니요" before the safety grammar had a path for a no: P 0.98 acted as PAIN
    d = decide(Heard("아이 였다", PAIN_GRAMMAR), duration_s=0.6)
    assert d.probability >= load_model().act_threshold
    assert d.intent is Intent.CHECK, d.reasons
    # the same with the free transcript nearly confirming acts, as before
    assert decide(Heard("아파 요", PAIN_GRAMMAR)).intent is Intent.PAIN


def test_an_answered_no_stays_a_no_unless_the_words_are_a_clear_call() -> None:
    heard = Heard("기 요", PAIN_GRAMMAR)
    always_act = EvidenceModel((0.0, 0.0, 0.0, 0.0), 5.0, 0.9, 0.4, 14, 0.9, 0.7, "t")
    match = match_intent(heard.text)
    assert decide_band(heard, match, 0.6, always_act).intent is Intent.CHECK  # without it
    d = decide_band(heard, match, 0.6, always_act, answered_no=0.84)
    assert (d.intent, d.confidence) == (Intent.NO, 0.84)
    assert "answered no" in d.reasons[-1]
    # "아니 아파요", "no, help me": a close free match of a call still acts
    for text, intent in (("아니 아파요", Intent.PAIN), ("살려 주세요", Intent.HELP)):
        call = Heard(text)
        assert decide_band(call, match_intent(text), 0.9, answered_no=1.0).intent is intent
    assert decide(Heard("no no help me")).intent is Intent.HELP


def test_a_no_whose_free_words_nearly_hold_a_call_is_decided_as_before() -> None:
    # "아이고 살려 주세요" written as "아니 고 사례 주세요": the free words hold a call (0.82)
    heard = Heard("아니 고 사례 주세요", words(("살려", 1.0), ("주세요", 1.0)))
    assert match_intent(heard.text).intent is Intent.NO
    assert decide(heard).intent is Intent.HELP
    assert decide_band(heard, match_intent(heard.text), 1.0, answered_no=0.9).intent is Intent.HELP


def test_a_grammar_hit_inside_more_speech_is_not_asked_about() -> None:
    # A talk on television: the grammar finds "사람 살려" with syllables around it, the free
    # transcript other words; the model's P would ask, the evidence says otherwise.
    call = words(("사람", 1.0), ("살려", 1.0))
    talk = words(("솥", 0.4), ("사람", 1.0), ("살려", 1.0), ("뼈", 0.3), ("궁", 0.2))
    always_ask = EvidenceModel((0.0, 0.0, 0.0, 0.0), 0.0, 0.9, 0.4, 14, 1.01, 0.7, "t")
    nothing = IntentMatch(Intent.NONE, 0, "")
    assert gather("여기 사람", talk).grammar_extra == 3
    d = decide_band(Heard("여기 사람", talk), nothing, 1.7, always_ask)
    assert d.intent is Intent.NONE
    assert any(r.startswith("not asked") for r in d.reasons), d.reasons
    # the phrase alone, or with a breath on either side, is still asked about
    for alone in (call, (Word("숳", 0.5, 0, 0), *call, Word("깋", 0.3, 0, 0))):
        assert decide_band(Heard("수 의 주", alone), nothing, 1.0, always_ask).intent is (
            Intent.CHECK
        )
    # ...but not when the grammar itself was unsure of the phrase's words
    unsure = words(("사람", 0.7), ("살려", 0.7))
    assert decide_band(Heard("수 의 주", unsure), nothing, 1.0, always_ask).intent is Intent.NONE
    # the free transcript confirming the call decides as before, whatever surrounds it
    assert decide_band(Heard("사람 살려", talk), nothing, 1.0, always_ask).intent is Intent.CHECK


def test_the_reasons_say_how_far_the_probability_can_be_trusted() -> None:
    model = load_model()
    fitted = json.loads(Path("device/safety/evidence.json").read_text(encoding="utf-8"))
    assert model.held_out_auc == pytest.approx(fitted["fitted"]["held_out_auc"])
    d = decide(Heard("살려 주세요", words(("살려", 1.0), ("주세요", 1.0))))
    assert any(f"held-out AUC {model.held_out_auc:.2f}" in r for r in d.reasons), d.reasons
