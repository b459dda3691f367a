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
    always_act = EvidenceModel((0.0, 0.0, 0.0, 0.0), 5.0, 0.9, 0.4, 14, 1.01, 1.01, "t")
    assert decide_band(heard, IntentMatch(Intent.NONE, 0, ""), 1.0, always_act).intent is (
        Intent.HELP
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
