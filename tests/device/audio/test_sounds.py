"""The wordless-distress classifier on the robot: loading, self-test, input checks, windows.

Signals are generated here (no shared data): a loud harmonic sweep stands in for a scream,
low room hiss and silence for an empty room. The shipped artifact is the one under test.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from device.audio.sound_features import DIM, featurize, self_test_signal
from device.audio.sounds import SoundClassifier, SoundEvent, SoundInputError
from device.perception.loader import SHIPPED_DIR, ModelLoadError, find_sidecar

RATE = 16000


@pytest.fixture(scope="module")
def classifier() -> SoundClassifier:
    return SoundClassifier.load()


def _scream(seconds: float = 2.0) -> np.ndarray:
    """A loud, rising, strongly harmonic tone with a little breathiness."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 700.0 + 250.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(np.sin(k * phase) / k**0.7 for k in range(1, 8))
    env = np.minimum(1.0, np.minimum(t / 0.15, (t[-1] - t) / 0.15))
    rng = np.random.default_rng(1)
    x = 0.25 * env * tone + 0.01 * rng.normal(size=n)
    out: np.ndarray = np.clip(x, -1, 1).astype(np.float32)
    return out


def _hiss(seconds: float = 2.0, level: float = 0.002) -> np.ndarray:
    rng = np.random.default_rng(2)
    return (level * rng.normal(size=int(seconds * RATE))).astype(np.float32)


def _copy_artifact(tmp_path: Path) -> Path:
    sidecar = find_sidecar(SHIPPED_DIR, "sound")
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    shutil.copy(sidecar, tmp_path / sidecar.name)
    shutil.copy(SHIPPED_DIR / info["file"], tmp_path / info["file"])
    return tmp_path / sidecar.name


def test_shipped_model_loads_and_passes_its_self_test(classifier: SoundClassifier) -> None:
    assert classifier.self_test()
    assert {"screaming", "moaning", "crying", "panting", "speech"} <= set(classifier.labels)
    assert 0.0 < classifier.threshold < 1.0


def test_self_test_signal_reproduces_the_committed_features() -> None:
    sidecar = json.loads(find_sidecar(SHIPPED_DIR, "sound").read_text(encoding="utf-8"))
    committed = np.asarray(sidecar["self_test"]["input"][0])
    computed = featurize(self_test_signal())
    assert computed.shape == (DIM,)
    np.testing.assert_allclose(computed, committed, atol=1e-2, rtol=1e-3)


def test_event_holds_a_probability_for_every_class(classifier: SoundClassifier) -> None:
    event = classifier.classify(_scream())
    assert isinstance(event, SoundEvent)
    assert set(event.scores) == set(classifier.labels)
    assert sum(event.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert event.label == max(event.scores, key=lambda k: event.scores[k])
    assert 0.0 <= event.distress <= 1.0
    assert event.is_distress == (event.distress >= classifier.threshold)


def test_quiet_room_hiss_is_not_distress(classifier: SoundClassifier) -> None:
    event = classifier.classify(_hiss())
    assert not event.is_distress


def test_digital_silence_is_not_distress(classifier: SoundClassifier) -> None:
    event = classifier.classify(np.zeros(RATE, dtype=np.float32))
    assert not event.is_distress


def test_loud_harmonic_sweep_scores_above_room_hiss(classifier: SoundClassifier) -> None:
    assert classifier.classify(_scream()).distress > classifier.classify(_hiss()).distress


def test_int16_and_float32_give_the_same_verdict(classifier: SoundClassifier) -> None:
    x = _scream()
    as_int16 = np.round(x * 32767).astype(np.int16)
    a, b = classifier.classify(x), classifier.classify(as_int16)
    assert a.label == b.label
    assert a.distress == pytest.approx(b.distress, abs=1e-2)


def test_long_segment_answers_with_its_most_distressed_window(
    classifier: SoundClassifier,
) -> None:
    quiet = _hiss(12.0)
    loud = quiet.copy()
    loud[RATE * 5 : RATE * 7] += _scream(2.0)
    assert classifier.classify(loud).distress >= classifier.classify(quiet).distress
    burst = classifier.classify(np.concatenate([_hiss(1.5), _scream(2.0), _hiss(1.5)]))
    assert classifier.classify(loud).distress == pytest.approx(burst.distress, abs=0.25)


@pytest.mark.parametrize(
    ("pcm", "why"),
    [
        (np.zeros(0, dtype=np.float32), "at least 0.3 s"),
        (np.zeros(1000, dtype=np.float32), "at least 0.3 s"),
        (np.full(RATE, np.nan, dtype=np.float32), "NaN"),
        (np.zeros(RATE, dtype=np.int32), "float32"),
        (np.zeros((RATE, 2), dtype=np.float32), "mono"),
        (np.full(RATE, 100.0, dtype=np.float32), "[-1, 1]"),
    ],
)
def test_unusable_audio_is_refused_with_a_reason(
    classifier: SoundClassifier, pcm: np.ndarray, why: str
) -> None:
    with pytest.raises(SoundInputError, match=why.replace("[", r"\[").replace("]", r"\]")):
        classifier.classify(pcm)


def test_a_list_instead_of_an_array_is_refused(classifier: SoundClassifier) -> None:
    with pytest.raises(SoundInputError, match="numpy array"):
        classifier.classify([0.0] * RATE)  # type: ignore[arg-type]


def test_another_sample_rate_is_refused(classifier: SoundClassifier) -> None:
    with pytest.raises(SoundInputError, match="16000 Hz"):
        classifier.classify(_hiss(), sample_rate_hz=44100)


def test_loads_from_a_folder_or_the_onnx_path(tmp_path: Path) -> None:
    sidecar = _copy_artifact(tmp_path)
    assert SoundClassifier.load(tmp_path).self_test()
    assert SoundClassifier.load(sidecar.with_suffix(".onnx")).threshold > 0


def test_a_tampered_model_file_is_refused(tmp_path: Path) -> None:
    sidecar = _copy_artifact(tmp_path)
    onnx = sidecar.with_suffix(".onnx")
    data = bytearray(onnx.read_bytes())
    data[-1] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match its sidecar"):
        SoundClassifier.load(sidecar)


def test_a_model_of_another_feature_spec_is_refused(tmp_path: Path) -> None:
    sidecar = _copy_artifact(tmp_path)
    raw = json.loads(sidecar.read_text(encoding="utf-8"))
    raw["decision"]["featurizer"]["version"] = 99
    sidecar.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="feature spec"):
        SoundClassifier.load(sidecar)


def test_a_featurizer_that_drifted_fails_the_self_test(tmp_path: Path) -> None:
    sidecar = _copy_artifact(tmp_path)
    raw = json.loads(sidecar.read_text(encoding="utf-8"))
    raw["self_test"]["input"][0][0] += 5.0
    # the committed features no longer match what this robot computes from the test sound
    sidecar.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="self-test"):
        SoundClassifier.load(sidecar)


def test_a_sidecar_without_a_threshold_is_refused(tmp_path: Path) -> None:
    sidecar = _copy_artifact(tmp_path)
    raw = json.loads(sidecar.read_text(encoding="utf-8"))
    del raw["decision"]["threshold"]
    sidecar.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="threshold"):
        SoundClassifier.load(sidecar)
