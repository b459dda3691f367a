"""The emotion featurizer: one pure module, identical at training and on the robot."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device.perception import emotion_features as features
from device.perception import emotion_lexicon as lexicon
from device.perception.emotion import EmotionModel
from device.perception.emotion_features import (
    DIM,
    HASH_DIM,
    featurize,
    featurize_batch,
    sparse_features,
)
from device.perception.emotion_text import LABELS, normalize
from models.emotion.train import sparse_matrix

ARTIFACTS = Path(__file__).resolve().parents[2] / "models" / "artifacts"


def test_the_robot_side_imports_no_training_library() -> None:
    code = (
        "import sys; import device.perception.emotion, device.perception.mood;"
        " bad = [m for m in ('sklearn', 'skl2onnx', 'onnx') if m in sys.modules];"
        " print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_features_have_the_declared_length_and_unit_norm_hashed_block() -> None:
    x = featurize("아이고 허리야 오늘따라 더 아프네")
    assert x.shape == (DIM,)
    assert x.dtype == np.float32
    assert abs(float(np.linalg.norm(x[:HASH_DIM])) - 1.0) < 1e-5


def test_empty_or_punctuation_only_text_is_all_zeros() -> None:
    assert not featurize("").any()
    assert not featurize(" ?! ... ").any()


def test_korean_spacing_does_not_change_the_character_and_jamo_ngrams() -> None:
    spaced = features._namespaces(normalize("도와주 세요 허리가 아파요"))
    joined = features._namespaces(normalize("도와주세요 허리가아파요"))
    assert spaced["c"] == joined["c"]
    assert spaced["j"] == joined["j"]
    assert spaced["w"] != joined["w"]


def test_case_and_punctuation_do_not_change_english_features() -> None:
    assert np.array_equal(featurize("My knees HURT, today!"), featurize("my knees hurt today"))


def test_the_lexicon_block_counts_cues_of_the_texts_own_language() -> None:
    x = featurize("무릎이 아프고 허리도 쑤셔")
    pain = HASH_DIM + LABELS.index("pain")
    assert x[pain] == np.float32(np.log1p(lexicon.hits("무릎이 아프고 허리도 쑤셔", "ko")["pain"]))
    assert x[pain] > np.log1p(1) - 1e-6
    assert featurize("my back is sore")[pain] > 0


def test_training_matrix_rows_equal_the_robots_vectors() -> None:
    texts = ["혼자 있으니 적적해", "I'm worried about the rent", "오늘 날씨 좋다", ""]
    dense = sparse_matrix(texts).toarray()
    assert np.array_equal(dense, featurize_batch(texts))


def test_features_are_the_same_in_another_process() -> None:
    text = "손주가 온대서 너무 좋아 what a lovely day"
    code = (
        "import json; from device.perception.emotion_features import sparse_features;"
        f" print(json.dumps(sorted(sparse_features({text!r}).items())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    theirs = [(int(i), v) for i, v in json.loads(out.stdout)]
    assert theirs == sorted(sparse_features(text).items())


def test_the_shipped_models_committed_vector_is_what_this_featurizer_computes() -> None:
    sidecar = json.loads((ARTIFACTS / "emotion-1.0.0.json").read_text(encoding="utf-8"))
    test = sidecar["self_test"]
    committed = np.asarray(test["input"], dtype=np.float32)
    assert np.allclose(featurize(test["text"]).reshape(1, DIM), committed, atol=1e-6)
    assert sidecar["decision"]["featurizer"] == json.loads(json.dumps(features.SPEC))


def test_the_robot_refuses_a_model_trained_with_another_feature_spec(tmp_path: Path) -> None:
    from device.perception.loader import ModelLoadError, load

    raw = json.loads((ARTIFACTS / "emotion-1.0.0.json").read_text(encoding="utf-8"))
    raw["decision"]["featurizer"] = {**raw["decision"]["featurizer"], "version": 0}
    (tmp_path / "emotion-1.0.0.json").write_text(json.dumps(raw), encoding="utf-8")
    (tmp_path / "emotion-1.0.0.onnx").write_bytes((ARTIFACTS / "emotion-1.0.0.onnx").read_bytes())
    onnx_model = load(tmp_path / "emotion-1.0.0.json")
    with pytest.raises(ModelLoadError, match="feature spec"):
        EmotionModel(onnx_model)
