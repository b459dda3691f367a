"""The emotion data set: authored files, the validation split, augmentations, the test reader."""

import random
from collections import Counter
from pathlib import Path

import pytest

from device.perception.emotion_text import LABELS, is_hangul, normalize
from models.emotion import data
from models.emotion.data import EmotionDataError, Example


def _key(text: str) -> str:
    return normalize(text).replace(" ", "")


@pytest.fixture(scope="module")
def authored() -> list[Example]:
    return [ex for lang in data.LANGUAGES for ex in data.read_authored(lang)]


def test_every_language_has_several_hundred_items_and_every_class(
    authored: list[Example],
) -> None:
    for lang in data.LANGUAGES:
        counts = Counter(ex.label for ex in authored if ex.lang == lang)
        assert set(counts) == set(LABELS)
        assert sum(counts.values()) >= 500
        assert min(counts.values()) >= 80


def test_valence_has_the_sign_of_its_class(authored: list[Example]) -> None:
    for ex in authored:
        if ex.label == "happy":
            assert ex.valence > 0, ex
        elif ex.label == "neutral":
            assert abs(ex.valence) <= 0.2, ex
        else:
            assert ex.valence < 0, ex


def test_korean_lines_are_korean_and_english_lines_are_not(authored: list[Example]) -> None:
    for ex in authored:
        assert any(is_hangul(ch) for ch in ex.text) == (ex.lang == "ko"), ex


def test_the_held_out_test_split_shares_no_sentence_with_the_training_data(
    authored: list[Example],
) -> None:
    test_files = [data.DATA_DIR / f"test_{lang}.jsonl" for lang in data.LANGUAGES]
    held_out = [ex for path in test_files for ex in data.read_jsonl(path)]
    assert held_out
    seen = {_key(ex.text) for ex in authored}
    assert not [ex.text for ex in held_out if _key(ex.text) in seen]


def test_the_validation_split_is_stable_disjoint_and_covers_every_class(
    authored: list[Example],
) -> None:
    train_a, val_a = data.split_train_validation(authored, seed=7)
    _, val_b = data.split_train_validation(list(reversed(authored)), seed=7)
    assert {ex.text for ex in val_a} == {ex.text for ex in val_b}
    assert not {ex.text for ex in train_a} & {ex.text for ex in val_a}
    assert len(train_a) + len(val_a) == len(authored)
    assert {(ex.lang, ex.label) for ex in val_a} == {(ex.lang, ex.label) for ex in authored}
    _, val_other_seed = data.split_train_validation(authored, seed=8)
    assert {ex.text for ex in val_other_seed} != {ex.text for ex in val_a}


def test_augmentations_keep_the_label_and_follow_the_seed(authored: list[Example]) -> None:
    sample = authored[:40] + authored[-40:]
    a = data.augmented(sample, seed=3)
    b = data.augmented(sample, seed=3)
    assert a == b
    assert len(a) > len(sample)
    originals = {ex.text: ex for ex in sample}
    current: Example | None = None
    for ex in a:
        if ex.text in originals:
            current = originals[ex.text]
        assert current is not None
        assert (ex.label, ex.valence, ex.lang) == (current.label, current.valence, current.lang)


def test_korean_augmentations_change_spacing_and_particles() -> None:
    ex = Example("아들이 전화를 안 받아서 서운해", "sad_lonely", -0.6, "ko")
    rng = random.Random(0)
    dropped = {data._ko_particles_dropped(ex.text, random.Random(i)) for i in range(10)}
    assert "아들 전화 안 받아서 서운해" in dropped
    variants = {v.text for v in data.augment(ex, rng, copies=20)}
    assert any(v.replace(" ", "") == ex.text.replace(" ", "") and v != ex.text for v in variants)
    assert any(v.replace(" ", "") != ex.text.replace(" ", "") for v in variants)


def test_english_augmentations_look_like_a_transcript() -> None:
    ex = Example("I'm so worried, I can't sleep!", "anxious", -0.5, "en")
    for variant in data.augment(ex, random.Random(4), copies=10):
        assert variant.text == variant.text.lower()
        assert not set(",!") & set(variant.text)


def test_a_malformed_authored_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "authored_ko.tsv").write_text(
        "# header\nhappy\t0.5\t좋다\njoyful\t0.5\t신난다\n", encoding="utf-8"
    )
    with pytest.raises(EmotionDataError, match=r"authored_ko.tsv:3: unknown label 'joyful'"):
        data.read_authored("ko", tmp_path)


def test_a_duplicate_authored_line_is_refused(tmp_path: Path) -> None:
    (tmp_path / "authored_en.tsv").write_text(
        "happy\t0.5\tnice day\nneutral\t0.0\tnice day\n", encoding="utf-8"
    )
    with pytest.raises(EmotionDataError, match="duplicate"):
        data.read_authored("en", tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ('{"text": "hi", "label": "happy", "lang": "en"}', "missing field 'valence'"),
        ('{"text": "hi", "label": "happy", "valence": 2, "lang": "en"}', "outside"),
        ('{"text": "hi", "label": "happy", "valence": "x", "lang": "en"}', "must be a number"),
        ('["hi"]', "JSON object"),
    ],
)
def test_a_bad_test_split_line_names_its_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "test_en.jsonl"
    good = '{"text": "fine", "label": "neutral", "valence": 0, "lang": "en"}'
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(EmotionDataError, match=rf"test_en.jsonl:2: .*{message}"):
        data.read_jsonl(path)
