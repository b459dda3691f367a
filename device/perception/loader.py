"""Load an on-device model from `NAME-VERSION.onnx` + its sidecar JSON, checked before use.

The sidecar format is the contract written by `models/artifact.py`; this module reads it on
its own so the robot depends on the file format, never on training code. Loading checks the
file's sha256, the sidecar's input spec against the ONNX graph and against what the caller
needs, pins onnxruntime to the CPU with a set number of threads, and can run the committed
self-test vector. Any mismatch is a `ModelLoadError` naming what was wrong: the robot keeps
running without that model and reports a `device_fault`.
"""

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from device.errors import DeviceError
from protocol.envelope import ModelRef

log = logging.getLogger(__name__)

SIDECAR_FORMAT = 1
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "models" / "artifacts"
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(string)": "string",
}


class ModelLoadError(DeviceError):
    """A model can't be used: missing file, bad sidecar, sha256, input spec or self-test."""


@dataclass(frozen=True)
class InputSpec:
    """The model's input tensor as the sidecar describes it."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    units: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    sample_rate_hz: float | None = None


@dataclass(frozen=True)
class Expect:
    """What the caller will feed: a mismatch with the sidecar is refused at load time."""

    dtype: str
    shape: tuple[int | None, ...] | None = None  # None entries: any size
    columns: tuple[str, ...] | None = None
    sample_rate_hz: float | None = None
    labels: tuple[str, ...] | None = None  # labels the caller relies on (subset)
    fixed: tuple[int, ...] = ()  # input dimensions the sidecar must fix (a window length)


@dataclass(frozen=True)
class ModelInfo:
    """The sidecar fields the robot uses."""

    name: str
    version: str
    file: str
    sha256: str
    size_bytes: int
    input: InputSpec
    labels: tuple[str, ...]
    outputs: dict[str, str]
    decision: dict[str, Any] = field(default_factory=dict)
    self_test: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> ModelRef:
        """`{name, version}` for the events this model's numbers go into."""
        return ModelRef(name=self.name, version=self.version)


def _bad(path: Path, why: str) -> ModelLoadError:
    return ModelLoadError(f"model sidecar {path}: {why}")


def parse_sidecar(raw: Any, path: Path) -> ModelInfo:
    """Check the sidecar's shape and read the fields the robot uses."""
    if not isinstance(raw, dict):
        raise _bad(path, "not a JSON object")
    if raw.get("format") != SIDECAR_FORMAT:
        raise _bad(
            path, f"unsupported format {raw.get('format')!r} (this robot reads {SIDECAR_FORMAT})"
        )
    try:
        spec = raw["input"]
        info = ModelInfo(
            name=str(raw["name"]),
            version=str(raw["version"]),
            file=str(raw["file"]),
            sha256=str(raw["sha256"]),
            size_bytes=int(raw["size_bytes"]),
            input=InputSpec(
                name=str(spec["name"]),
                shape=tuple(None if d is None else int(d) for d in spec["shape"]),
                dtype=str(spec["dtype"]),
                units=tuple(str(u) for u in spec.get("units", ())),
                columns=tuple(str(c) for c in spec.get("columns", ())),
                sample_rate_hz=None
                if spec.get("sample_rate_hz") is None
                else float(spec["sample_rate_hz"]),
            ),
            labels=tuple(str(x) for x in raw["labels"]),
            outputs={str(k): str(v) for k, v in dict(raw.get("outputs", {})).items()},
            decision=dict(raw.get("decision") or {}),
            self_test=dict(raw.get("self_test") or {}),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise _bad(path, f"missing or malformed field: {e}") from None
    if not _NAME.fullmatch(info.name) or not _SEMVER.fullmatch(info.version):
        raise _bad(path, f"bad name or version {info.name!r} {info.version!r}")
    if info.file != f"{info.name}-{info.version}.onnx" or "/" in info.file:
        raise _bad(path, f"file must be {info.name}-{info.version}.onnx, not {info.file!r}")
    if not re.fullmatch(r"[0-9a-f]{64}", info.sha256):
        raise _bad(path, "sha256 must be 64 lowercase hex digits")
    if "scores" not in info.outputs:
        raise _bad(path, "outputs must name the 'scores' output")
    _check_decision(info.decision, path)
    return info


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_decision(decision: dict[str, Any], path: Path) -> None:
    """The windowing and alarm fields the motion stage reads, when present, must be usable."""
    for key in ("hop", "window"):
        if key in decision and not _count(decision[key]):
            raise _bad(path, f"decision.{key} must be a whole number above 0")
    threshold = decision.get("threshold", 0.5)
    if "threshold" in decision and not (_number(threshold) and 0.0 <= threshold <= 1.0):
        raise _bad(path, "decision.threshold must be a number from 0 to 1")
    refractory = decision.get("refractory_s", 0.0)
    if "refractory_s" in decision and not (_number(refractory) and refractory >= 0):
        raise _bad(path, "decision.refractory_s must be a number of seconds, 0 or more")
    bucket = decision.get("impact_bucket", [0, 1])
    if not (
        isinstance(bucket, list)
        and len(bucket) == 2
        and all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bucket)
        and bucket[0] <= bucket[1]
    ):
        raise _bad(path, "decision.impact_bucket must be two whole numbers [first, last]")


def read_sidecar(path: Path) -> ModelInfo:
    """Read and parse a sidecar file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"model sidecar {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"not readable JSON: {e}") from None
    return parse_sidecar(raw, path)


def _version_key(version: str) -> tuple[int, int, int, int, str]:
    m = _SEMVER.fullmatch(version)
    assert m is not None  # parse_sidecar checked it
    pre = version.partition("-")[2]
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, pre)


def find_sidecar(models_dir: Path, name: str) -> Path:
    """The sidecar of the newest version of `name` in a folder (the manifest is not needed)."""
    found: list[tuple[tuple[int, int, int, int, str], Path]] = []
    for path in models_dir.glob(f"{name}-*.json"):
        try:
            info = read_sidecar(path)
        except ModelLoadError as e:
            log.warning("skipping %s", e)
            continue
        if info.name == name:
            found.append((_version_key(info.version), path))
    if not found:
        raise ModelLoadError(f"no {name} model in {models_dir}")
    return max(found)[1]


@dataclass
class OnnxModel:
    """A checked model with its CPU session; `run` feeds one batch."""

    info: ModelInfo
    session: ort.InferenceSession = field(repr=False)
    path: Path

    @property
    def ref(self) -> ModelRef:
        """`{name, version}` for events."""
        return self.info.ref

    def run(self, x: np.ndarray | list[str]) -> dict[str, np.ndarray]:
        """Every output of the graph for one input batch, by the sidecar's output roles."""
        if self.info.input.dtype == "string":
            feed: Any = np.asarray(x, dtype=object)
        else:
            feed = np.ascontiguousarray(x, dtype=np.dtype(self.info.input.dtype))
        names = [o.name for o in self.session.get_outputs()]
        values = self.session.run(None, {self.info.input.name: feed})
        by_name = dict(zip(names, values, strict=True))
        return {role: np.asarray(by_name[out]) for role, out in self.info.outputs.items()}

    def scores(self, x: np.ndarray | list[str]) -> np.ndarray:
        """The `scores` output, shape (batch, len(labels))."""
        return self.run(x)["scores"]

    def self_test(self) -> None:
        """Run the committed test vector; ModelLoadError when the output is not the expected one."""
        test = self.info.self_test
        if not test:
            raise ModelLoadError(
                f"{self.info.name} {self.info.version}: the sidecar has no self_test"
            )
        try:
            role = str(test.get("output", "scores"))
            atol = float(test.get("atol", 1e-4))
            expected = np.asarray(test["expected"], dtype=np.float64)
            got = np.asarray(self.run(test["input"])[role], dtype=np.float64)
        except ModelLoadError:
            raise
        except Exception as e:
            raise ModelLoadError(
                f"{self.info.name} {self.info.version}: self-test failed to run: {e}"
            ) from None
        if got.shape != expected.shape or not np.allclose(got, expected, atol=atol, rtol=0.0):
            worst = (
                float(np.max(np.abs(got - expected)))
                if got.shape == expected.shape
                else float("inf")
            )
            raise ModelLoadError(
                f"{self.info.name} {self.info.version}: self-test output differs from the expected"
                f" one (max difference {worst:.3g}, tolerance {atol})"
            )


def session_options(threads: int) -> ort.SessionOptions:
    """A quiet, sequential CPU session with `threads` intra- and inter-op threads."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = max(1, threads)
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def _check_expect(info: ModelInfo, expect: Expect, where: str) -> None:
    spec = info.input
    if spec.dtype != expect.dtype:
        raise ModelLoadError(
            f"{where}: input dtype is {spec.dtype}, this robot feeds {expect.dtype}"
        )
    if expect.shape is not None:
        ok = len(spec.shape) == len(expect.shape) and all(
            want is None or have == want
            for have, want in zip(spec.shape, expect.shape, strict=True)
        )
        if not ok:
            raise ModelLoadError(
                f"{where}: input shape {list(spec.shape)} does not fit {list(expect.shape)}"
            )
    for dim in expect.fixed:
        if dim >= len(spec.shape) or spec.shape[dim] is None:
            raise ModelLoadError(
                f"{where}: the sidecar's input shape {list(spec.shape)} must fix dimension"
                f" {dim} (the window length)"
            )
    if expect.columns is not None and spec.columns != expect.columns:
        raise ModelLoadError(
            f"{where}: input columns {list(spec.columns)} are not {list(expect.columns)}"
        )
    if expect.sample_rate_hz is not None and spec.sample_rate_hz != expect.sample_rate_hz:
        raise ModelLoadError(
            f"{where}: trained for {spec.sample_rate_hz} Hz,"
            f" this robot samples at {expect.sample_rate_hz} Hz"
        )
    if expect.labels is not None:
        missing = sorted(set(expect.labels) - set(info.labels))
        if missing:
            raise ModelLoadError(f"{where}: labels {missing} are missing from the model")


def _check_graph(info: ModelInfo, session: ort.InferenceSession, where: str) -> None:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelLoadError(f"{where}: the graph has {len(inputs)} inputs, expected one")
    graph_in = inputs[0]
    if graph_in.name != info.input.name:
        raise ModelLoadError(
            f"{where}: the graph's input is {graph_in.name!r}, the sidecar says {info.input.name!r}"
        )
    dtype = _ORT_DTYPES.get(graph_in.type, graph_in.type)
    if dtype != info.input.dtype:
        raise ModelLoadError(
            f"{where}: the graph takes {dtype}, the sidecar says {info.input.dtype}"
        )
    graph_shape = [d if isinstance(d, int) else None for d in graph_in.shape]
    if len(graph_shape) != len(info.input.shape) or any(
        g is not None and s is not None and g != s
        for g, s in zip(graph_shape, info.input.shape, strict=True)
    ):
        raise ModelLoadError(
            f"{where}: the graph's input shape {graph_shape} differs from the sidecar's"
            f" {list(info.input.shape)}"
        )
    outputs = {o.name for o in session.get_outputs()}
    missing = sorted(set(info.outputs.values()) - outputs)
    if missing:
        raise ModelLoadError(f"{where}: the graph has no output(s) {missing}")


def load(
    sidecar: Path,
    *,
    threads: int = 1,
    expect: Expect | None = None,
    run_self_test: bool = True,
) -> OnnxModel:
    """Build a checked model from a sidecar path; ModelLoadError says why it can't be used."""
    info = read_sidecar(sidecar)
    where = f"{info.name} {info.version}"
    onnx_path = sidecar.parent / info.file
    try:
        data = onnx_path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"{where}: model file {onnx_path} does not exist") from None
    except OSError as e:
        raise ModelLoadError(f"{where}: cannot read {onnx_path}: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != info.size_bytes or digest != info.sha256:
        raise ModelLoadError(
            f"{where}: {onnx_path.name} does not match its sidecar (sha256 {digest[:12]}…,"
            f" expected {info.sha256[:12]}…; {len(data)} bytes, expected {info.size_bytes})"
        )
    if expect is not None:
        _check_expect(info, expect, where)
    try:
        session = ort.InferenceSession(
            data, sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # onnxruntime raises its own exception types for a bad graph
        raise ModelLoadError(f"{where}: onnxruntime cannot load {onnx_path.name}: {e}") from None
    _check_graph(info, session, where)
    model = OnnxModel(info=info, session=session, path=onnx_path)
    if run_self_test:
        model.self_test()
    log.info(
        "loaded model %s %s (%d bytes, %d threads)", info.name, info.version, len(data), threads
    )
    return model


def load_named(
    models_dir: Path, name: str, *, threads: int = 1, expect: Expect | None = None
) -> OnnxModel:
    """The newest version of `name` in `models_dir`, loaded and self-tested."""
    return load(find_sidecar(models_dir, name), threads=threads, expect=expect)
