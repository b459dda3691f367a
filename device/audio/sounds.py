"""Wordless distress: is this sound a scream, a moan, crying or panting, or everyday life?

The robot's gate hands a segment of 16 kHz mono audio to `SoundClassifier.classify`; the
answer is the most likely class and a calibrated probability of distress with the model's
own threshold (from its sidecar, chosen on speaker-held-out validation). Features come from
`device.audio.sound_features` (numpy only); the model is the shipped `sound-VERSION.onnx`,
checked by sha256 and by its self-test vector like every on-device model. A segment longer
than `MAX_WINDOW_S` is cut into overlapping windows and the most distressed one answers.
"""

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from device.audio.sound_features import (
    DIM,
    SAMPLE_RATE_HZ,
    SPEC,
    check_pcm,
    featurize,
    self_test_signal,
)
from device.errors import DeviceError
from device.perception.loader import (
    SHIPPED_DIR,
    Expect,
    ModelLoadError,
    OnnxModel,
    find_sidecar,
    load,
)
from protocol.envelope import ModelRef

log = logging.getLogger(__name__)

MODEL_NAME = "sound"
MIN_SEGMENT_S = 0.3
MAX_WINDOW_S = 10.0
WINDOW_S = 5.0  # windows of a longer segment
WINDOW_HOP_S = 2.5
EXPECT = Expect(dtype="float32", shape=(None, DIM), sample_rate_hz=float(SAMPLE_RATE_HZ))


class SoundInputError(DeviceError, ValueError):
    """The audio handed to the sound classifier can't be used (empty, NaN, stereo, dtype)."""


@dataclass(frozen=True)
class SoundEvent:
    """One segment's verdict: the likeliest class and how likely it is wordless distress."""

    label: str  # the most likely class, e.g. "screaming", "coughing", "speech"
    distress: float  # calibrated probability that this is wordless distress, 0..1
    is_distress: bool  # distress >= the model's threshold (from the sidecar)
    scores: Mapping[str, float]


def _logit(p: float) -> float:
    q = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(q / (1.0 - q))


def _spec_name(spec: Any) -> str:
    if isinstance(spec, dict):
        return f"{spec.get('name')} v{spec.get('version')}"
    return repr(spec)


class SoundClassifier:
    """A loaded, checked sound model; `classify` costs a few ms per second of audio."""

    def __init__(self, model: OnnxModel) -> None:
        info = model.info
        where = f"{info.name} {info.version}"
        decision = info.decision
        if decision.get("featurizer") != SPEC:
            raise ModelLoadError(
                f"{where}: trained with feature spec {_spec_name(decision.get('featurizer'))},"
                f" this robot computes {SPEC['name']} v{SPEC['version']}"
            )
        distress = decision.get("distress_classes")
        if not isinstance(distress, list) or not distress or not set(distress) <= set(info.labels):
            raise ModelLoadError(f"{where}: decision.distress_classes must name model labels")
        calibration = decision.get("calibration")
        if not (
            isinstance(calibration, dict)
            and all(
                isinstance(calibration.get(k), int | float) and math.isfinite(calibration[k])
                for k in ("a", "b")
            )
        ):
            raise ModelLoadError(f"{where}: decision.calibration must hold numbers a and b")
        if "threshold" not in decision:
            raise ModelLoadError(f"{where}: the sidecar has no decision.threshold")
        self._model = model
        self.labels: tuple[str, ...] = info.labels
        self.threshold = float(decision["threshold"])
        self._a = float(calibration["a"])
        self._b = float(calibration["b"])
        self._distress_idx = np.asarray([info.labels.index(c) for c in distress])

    @classmethod
    def load(cls, path: Path | None = None, *, threads: int = 1) -> "SoundClassifier":
        """The sound model from a sidecar (or a folder: its newest), checked and self-tested.

        Default: the shipped artifact in models/artifacts. ModelLoadError says what is wrong.
        """
        if path is None:
            sidecar = find_sidecar(SHIPPED_DIR, MODEL_NAME)
        elif path.is_dir():
            sidecar = find_sidecar(path, MODEL_NAME)
        else:
            sidecar = path.with_suffix(".json") if path.suffix == ".onnx" else path
        model = load(sidecar, threads=threads, expect=EXPECT, run_self_test=False)
        classifier = cls(model)
        if not classifier.self_test():
            raise ModelLoadError(
                f"{model.info.name} {model.info.version}: self-test failed (see the log)"
            )
        return classifier

    @property
    def ref(self) -> ModelRef:
        """`{name, version}` for the events this model's verdicts go into."""
        return self._model.ref

    def self_test(self) -> bool:
        """The committed vector gives the committed scores, and this robot's featurizer
        computes the committed vector from the committed test sound."""
        try:
            self._model.self_test()
        except ModelLoadError as e:
            log.warning("sound model self-test: %s", e)
            return False
        test = self._model.info.self_test
        try:
            committed = np.asarray(test["input"], dtype=np.float64).reshape(-1)
            atol = float(test.get("feature_atol", 1e-2))
        except (KeyError, TypeError, ValueError) as e:
            log.warning("sound model self-test: malformed self_test: %s", e)
            return False
        computed = featurize(self_test_signal()).astype(np.float64)
        if computed.shape != committed.shape or not np.allclose(
            computed, committed, atol=atol, rtol=1e-3
        ):
            worst = (
                float(np.max(np.abs(computed - committed)))
                if computed.shape == committed.shape
                else float("inf")
            )
            log.warning(
                "sound model self-test: this featurizer differs from the trained one"
                " (max difference %.3g)",
                worst,
            )
            return False
        return True

    def _windows(self, x: np.ndarray) -> list[np.ndarray]:
        n = x.size
        if n <= int(MAX_WINDOW_S * SAMPLE_RATE_HZ):
            return [x]
        size = int(WINDOW_S * SAMPLE_RATE_HZ)
        hop = int(WINDOW_HOP_S * SAMPLE_RATE_HZ)
        starts = list(range(0, n - size + 1, hop))
        if starts[-1] + size < n:
            starts.append(n - size)
        return [x[s : s + size] for s in starts]

    def classify(self, pcm: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> SoundEvent:
        """One segment (0.3 s or more; float32 in [-1, 1] or int16) → its SoundEvent.

        SoundInputError names what is wrong with unusable audio."""
        if isinstance(pcm, np.ndarray) and pcm.ndim == 1:
            seconds = pcm.size / max(sample_rate_hz, 1)
            if seconds < MIN_SEGMENT_S:
                raise SoundInputError(
                    f"the sound segment is {seconds:.2f} s long; at least {MIN_SEGMENT_S} s needed"
                )
        try:
            x = check_pcm(pcm, sample_rate_hz)
            windows = self._windows(x)
            features = np.stack([featurize(w) for w in windows])
        except ValueError as e:
            raise SoundInputError(str(e)) from None
        probs = np.asarray(self._model.scores(features), dtype=np.float64)
        raw = probs[:, self._distress_idx].sum(axis=1)
        distress = [1.0 / (1.0 + math.exp(-(self._a * _logit(float(r)) + self._b))) for r in raw]
        best = int(np.argmax(distress))
        row = probs[best]
        scores = MappingProxyType(
            {name: round(float(p), 6) for name, p in zip(self.labels, row, strict=True)}
        )
        return SoundEvent(
            label=self.labels[int(np.argmax(row))],
            distress=float(distress[best]),
            is_distress=distress[best] >= self.threshold,
            scores=scores,
        )
