"""The text emotion model: ONNX export, the committed model, the lexicon baseline, metrics."""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest

from device.perception import emotion_lexicon as lexicon
from device.perception.emotion import EmotionModel
from device.perception.emotion_features import DIM, featurize, featurize_batch
from device.perception.emotion_text import LABELS
from device.perception.loader import load
from models.emotion import recipe
from models.emotion.data import Example
from models.emotion.train import TextModel, classification_metrics, fit, to_onnx
from models.errors import ArtifactError
from models.registry import NullProgress, get

ARTIFACTS = Path(__file__).resolve().parents[2] / "models" / "artifacts"
SIDECAR = ARTIFACTS / "emotion-1.0.0.json"


def _random_model(head: str, seed: int = 0) -> TextModel:
    rng = np.random.default_rng(seed)
    return TextModel(
        coef=rng.normal(0, 2, (len(LABELS), DIM)).astype(np.float32),
        intercept=rng.normal(0, 1, len(LABELS)).astype(np.float32),
        valence_head=head,
        class_valence=np.asarray([0.6, 0.0, -0.6, -0.5, -0.6, -0.6], np.float32),
        ridge_coef=rng.normal(0, 0.5, DIM).astype(np.float32),
        ridge_intercept=-0.1,
        c=1.0,
    )


@pytest.mark.parametrize("head", ["class_mean", "ridge"])
def test_the_onnx_graph_computes_what_the_trained_weights_do(head: str) -> None:
    model = _random_model(head)
    x = featurize_batch(["아이고 허리야", "I'm so lonely", "오늘 날씨 좋다", ""])
    session = ort.InferenceSession(to_onnx(model), providers=["CPUExecutionProvider"])
    scores, valence = session.run(["scores", "valence"], {"features": x})
    assert np.allclose(scores, model.scores(x), atol=1e-5)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(valence[:, 0], model.valence(x), atol=1e-5)
    assert float(np.abs(valence).max()) <= 1.0


def test_a_small_fit_learns_separable_classes() -> None:
    words = {
        "happy": ["좋다", "기쁘다", "happy", "lovely"],
        "neutral": ["밥", "시계", "lunch", "clock"],
        "sad_lonely": ["외로워", "쓸쓸해", "lonely", "alone"],
        "anxious": ["걱정", "불안", "worried", "nervous"],
        "angry": ["짜증", "화나", "angry", "annoyed"],
        "pain": ["아파", "쑤셔", "hurts", "sore"],
    }
    examples = [
        Example(f"{w} {suffix}", label, -0.5 if label not in ("happy", "neutral") else 0.5, "ko")
        for label, ws in words.items()
        for w in ws
        for suffix in ("오늘", "today", "정말")
    ]
    model = fit(examples, seed=1, c=10.0, valence_head="class_mean", on_step=lambda _: None)
    x = featurize_batch([ex.text for ex in examples])
    predicted = [LABELS[i] for i in model.scores(x).argmax(axis=1)]
    assert predicted == [ex.label for ex in examples]


def test_metrics_per_class_and_macro_f1() -> None:
    truth = ["happy", "happy", "pain", "neutral"]
    predicted = ["happy", "pain", "pain", "neutral"]
    m = classification_metrics(truth, predicted, [0.5, 0.5, -0.5, 0.0], [0.5, -0.5, -0.5, 0.2])
    assert m["accuracy"] == 0.75
    assert m["per_class"]["happy"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert m["per_class"]["pain"]["precision"] == 0.5
    assert m["macro_f1"] == pytest.approx((0.6667 + 0.6667 + 1.0) / 3, abs=1e-4)
    assert m["valence_mae"] == pytest.approx((0 + 1.0 + 0 + 0.2) / 4)


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        ("아이고 허리가 쑤셔서 못 살겠다", "ko", "pain"),
        ("혼자 있으니까 너무 외로워", "ko", "sad_lonely"),
        ("이번 달 관리비가 걱정이야", "ko", "anxious"),
        ("윗집 때문에 짜증 나 죽겠어", "ko", "angry"),
        ("손주가 와서 너무 행복하다", "ko", "happy"),
        ("오늘 점심은 국수 먹었어", "ko", "neutral"),
        ("my knees ache", "en", "pain"),
        ("i feel so lonely", "en", "sad_lonely"),
        ("what if they cut my pension, i'm worried", "en", "anxious"),
        ("that clerk was so rude, i'm furious", "en", "angry"),
        ("what a lovely day", "en", "happy"),
        ("put the kettle on", "en", "neutral"),
    ],
)
def test_the_lexicon_baseline_finds_plain_cues(text: str, lang: str, label: str) -> None:
    assert lexicon.predict(text, lang).label == label


def test_the_lexicon_matches_english_cues_on_word_boundaries_only() -> None:
    assert lexicon.hits("she is madam of the house", "en")["angry"] == 0
    assert lexicon.hits("i am mad", "en")["angry"] == 1


def test_the_committed_model_gives_its_committed_scores_on_its_committed_vector() -> None:
    sidecar = json.loads(SIDECAR.read_text(encoding="utf-8"))
    model = load(SIDECAR)  # checks sha256, input spec and runs the self-test
    x = np.asarray(sidecar["self_test"]["input"], dtype=np.float32)
    assert np.allclose(model.scores(x), sidecar["self_test"]["expected"], atol=1e-4)
    assert np.allclose(featurize(sidecar["self_test"]["text"]), x[0], atol=1e-6)


def test_the_committed_model_is_small_and_its_scores_are_a_distribution() -> None:
    assert SIDECAR.with_suffix(".onnx").stat().st_size <= 1_000_000
    model = EmotionModel.load(SIDECAR)
    for p in model.predict_batch(["아이고 허리야", "what time is it", "너무 외로워"]):
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert p.label == max(p.scores, key=lambda k: p.scores[k])
        assert -1.0 <= p.valence <= 1.0


def test_the_committed_model_tells_pain_from_joy_and_their_valence() -> None:
    model = EmotionModel.load(SIDECAR)
    pain, joy = model.predict_batch(["아이고 허리가 끊어질 것 같아", "손주들이 다 와서 너무 좋다"])
    assert pain.label == "pain"
    assert joy.label == "happy"
    assert pain.valence < 0 < joy.valence


TRAINING = {
    "seed": 5,
    "n_authored": 10,
    "n_train_rows": 40,
    "validation": {"all": {"macro_f1": 0.5}},
    "lexicon_validation": {"all": {"macro_f1": 0.4}},
    "data_sha256": "0" * 64,
}
"""A training summary as `train` writes it, for export tests that skip the training."""


def test_the_recipe_is_registered_and_exports_what_the_robot_loads(tmp_path: Path) -> None:
    assert isinstance(get("emotion"), recipe.EmotionRecipe)
    work, out = tmp_path / "work", tmp_path / "out"
    model = _random_model("class_mean", seed=3)
    recipe.save_model(model, work / recipe.MODEL_FILE)
    assert np.array_equal(recipe.load_model(work / recipe.MODEL_FILE).coef, model.coef)
    (work / recipe.TRAINING_FILE).write_text(json.dumps(TRAINING), encoding="utf-8")
    paths = recipe.RECIPE.export(work, out, "0.0.1")
    loaded = EmotionModel.load(paths[0])  # sha256, spec, self-test, feature spec
    assert loaded.ref.version == "0.0.1"
    text = "오늘은 기분이 좋네"
    expected = model.scores(featurize(text).reshape(1, DIM))[0]
    got = loaded.predict(text).scores
    assert np.allclose([got[label] for label in LABELS], expected, atol=1e-3)
    assert "Must not be used for" in recipe.RECIPE.card(out)
    assert (out / "manifest.json").is_file()


def test_evaluate_without_a_trained_model_says_what_to_run(tmp_path: Path) -> None:
    from models.errors import ArtifactError

    with pytest.raises(ArtifactError, match="dolbom models train emotion"):
        recipe.RECIPE.evaluate(tmp_path, NullProgress())


def test_export_refuses_held_out_metrics_of_an_earlier_model(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    recipe.save_model(_random_model("class_mean", seed=3), work / recipe.MODEL_FILE)
    (work / recipe.TRAINING_FILE).write_text(json.dumps(TRAINING), encoding="utf-8")
    recipe.RECIPE.evaluate(work, NullProgress())
    recipe.RECIPE.export(work, out, "0.0.1")  # evaluated model: exports
    recipe.save_model(_random_model("class_mean", seed=4), work / recipe.MODEL_FILE)  # retrained
    with pytest.raises(ArtifactError, match="dolbom models evaluate emotion"):
        recipe.RECIPE.export(work, out, "0.0.2")
