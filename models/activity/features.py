"""Window features as an ONNX graph, so the shipped model takes raw IMU windows.

The same graph computes the training features (run through onnxruntime) and sits in front of
the classifier in the exported model: the robot feeds `(batch, T, 6)` float32 samples in
IMU_COLUMNS units and never needs this code. Features per window:

- mean and standard deviation of each of the six axes (12)
- acceleration magnitude: mean, std, min, max; gyro magnitude: mean, std, max (7)
- jerk of the acceleration magnitude: mean and max absolute difference (2)
- gravity direction: the mean acceleration normalised (3)
- spectral energy of acceleration and gyro magnitude in four bands (8, log)
- before / after: mean acceleration of the first quarter and of the last half, std of the
  acceleration magnitude in the last half, the cosine between the first and last gravity
  directions, and where in the window the acceleration peak is (9)
"""

from typing import Any, Final

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET: Final = 17
BANDS_HZ: Final = ((0.5, 1.25), (1.25, 2.5), (2.5, 4.0), (4.0, 8.0))
FEATURE_NAMES: Final = (
    *(f"mean_{c}" for c in ("ax", "ay", "az", "gx", "gy", "gz")),
    *(f"std_{c}" for c in ("ax", "ay", "az", "gx", "gy", "gz")),
    "amag_mean",
    "amag_std",
    "amag_min",
    "amag_max",
    "gmag_mean",
    "gmag_std",
    "gmag_max",
    "jerk_mean",
    "jerk_max",
    "grav_x",
    "grav_y",
    "grav_z",
    *(f"aband_{i}" for i in range(len(BANDS_HZ))),
    *(f"gband_{i}" for i in range(len(BANDS_HZ))),
    "first_ax",
    "first_ay",
    "first_az",
    "last_ax",
    "last_ay",
    "last_az",
    "last_amag_std",
    "turn_cos",
    "peak_pos",
)
N_FEATURES: Final = len(FEATURE_NAMES)


def _band_matrices(window: int, rate_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DFT cosine/sine matrices (window, bins) and a bin → band summing matrix (bins, bands)."""
    freqs = np.fft.rfftfreq(window, 1.0 / rate_hz)
    keep = np.flatnonzero((freqs >= BANDS_HZ[0][0]) & (freqs < BANDS_HZ[-1][1]))
    t = np.arange(window)[:, None]
    k = keep[None, :]
    hann = np.hanning(window)[:, None]
    cos = (np.cos(2 * np.pi * k * t / window) * hann / window).astype(np.float32)
    sin = (np.sin(2 * np.pi * k * t / window) * hann / window).astype(np.float32)
    band = np.zeros((len(keep), len(BANDS_HZ)), dtype=np.float32)
    for j, (lo, hi) in enumerate(BANDS_HZ):
        band[:, j] = ((freqs[keep] >= lo) & (freqs[keep] < hi)).astype(np.float32)
    return cos, sin, band


class _G:
    """A tiny helper for writing a graph node by node."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"f_{hint}_{self._n}"

    def const(
        self, value: np.ndarray | np.floating[Any] | list[int] | float, hint: str = "c"
    ) -> str:
        name = self.name(hint)
        arr = np.asarray(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str = "", **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def mean(self, x: str, axis: int) -> str:
        return self.op("ReduceMean", x, axes=[axis], keepdims=0)

    def std(self, x: str, axis: int) -> str:
        m = self.op("ReduceMean", x, axes=[axis], keepdims=0)
        m2 = self.op("ReduceMean", self.op("Mul", x, x), axes=[axis], keepdims=0)
        var = self.op("Sub", m2, self.op("Mul", m, m))
        return self.op("Sqrt", self.op("Relu", var))

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self.op(
            "Slice", x, self.const([start]), self.const([end]), self.const([axis]), hint="slice"
        )

    def norm3(self, v: str) -> str:
        """(N, 3) → unit rows."""
        n2 = self.op("ReduceSum", self.op("Mul", v, v), self.const([1]), keepdims=1)
        n = self.op("Sqrt", self.op("Max", n2, self.const(np.float32(1e-6))))
        return self.op("Div", v, n)


def feature_graph(window: int, rate_hz: float = 50.0, input_name: str = "imu") -> onnx.ModelProto:
    """The feature model: input `(batch, window, 6)` float32 → output `features` (batch, F)."""
    if window < 8 or window % 4:
        raise ValueError(f"window must be a multiple of 4 and at least 8 samples, not {window}")
    g = _G()
    x = input_name
    acc = g.slice(x, 0, 3, 2)
    gyr = g.slice(x, 3, 6, 2)
    two = g.const([2])
    amag = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", acc, acc), two, keepdims=0))  # (N, T)
    gmag = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", gyr, gyr), two, keepdims=0))
    feats: list[str] = [g.mean(x, 1), g.std(x, 1)]
    feats += [
        g.op("Unsqueeze", g.mean(amag, 1), g.const([1])),
        g.op("Unsqueeze", g.std(amag, 1), g.const([1])),
        g.op("ReduceMin", amag, axes=[1], keepdims=1),
        g.op("ReduceMax", amag, axes=[1], keepdims=1),
        g.op("Unsqueeze", g.mean(gmag, 1), g.const([1])),
        g.op("Unsqueeze", g.std(gmag, 1), g.const([1])),
        g.op("ReduceMax", gmag, axes=[1], keepdims=1),
    ]
    diff = g.op("Abs", g.op("Sub", g.slice(amag, 1, window, 1), g.slice(amag, 0, window - 1, 1)))
    feats += [
        g.op("ReduceMean", diff, axes=[1], keepdims=1),
        g.op("ReduceMax", diff, axes=[1], keepdims=1),
    ]
    feats.append(g.norm3(g.mean(acc, 1)))
    cos, sin, band = _band_matrices(window, rate_hz)
    cos_c, sin_c, band_c = g.const(cos, "cos"), g.const(sin, "sin"), g.const(band, "band")
    for mag in (amag, gmag):
        centred = g.op("Sub", mag, g.op("ReduceMean", mag, axes=[1], keepdims=1))
        re = g.op("MatMul", centred, cos_c)
        im = g.op("MatMul", centred, sin_c)
        power = g.op("Add", g.op("Mul", re, re), g.op("Mul", im, im))
        energy = g.op("MatMul", power, band_c)
        feats.append(g.op("Log", g.op("Add", energy, g.const(np.float32(1e-6)))))
    quarter, half = window // 4, window // 2
    first = g.mean(g.slice(acc, 0, quarter, 1), 1)
    last = g.mean(g.slice(acc, half, window, 1), 1)
    feats += [first, last]
    feats.append(g.op("Unsqueeze", g.std(g.slice(amag, half, window, 1), 1), g.const([1])))
    turn = g.op("ReduceSum", g.op("Mul", g.norm3(first), g.norm3(last)), g.const([1]), keepdims=1)
    feats.append(turn)
    peak = g.op("Cast", g.op("ArgMax", amag, axis=1, keepdims=1), to=TensorProto.FLOAT)
    feats.append(g.op("Div", peak, g.const(np.float32(window))))
    out = g.op("Concat", *feats, axis=1)
    g.nodes.append(helper.make_node("Identity", [out], ["features"]))
    graph = helper.make_graph(
        g.nodes,
        "imu_features",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, window, 6])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, N_FEATURES])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


class FeatureExtractor:
    """Runs the feature graph over many windows (training and evaluation)."""

    def __init__(self, window: int, rate_hz: float = 50.0, threads: int = 2) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        self.window = window
        self.model = feature_graph(window, rate_hz)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            self.model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def __call__(self, windows: np.ndarray, batch: int = 4096) -> np.ndarray:
        """(n, window, 6) float32 → (n, F) float32, in batches to bound memory."""
        if windows.ndim != 3 or windows.shape[1:] != (self.window, 6):
            raise ValueError(f"windows must be (n, {self.window}, 6), not {windows.shape}")
        out = np.empty((len(windows), N_FEATURES), dtype=np.float32)
        for i in range(0, len(windows), batch):
            chunk = np.ascontiguousarray(windows[i : i + batch], dtype=np.float32)
            out[i : i + batch] = self._session.run(["features"], {"imu": chunk})[0]
        return out


def sliding_windows(samples: np.ndarray, window: int, hop: int) -> np.ndarray:
    """A strided view of every `window` samples starting each `hop` (no copy)."""
    if len(samples) < window:
        return np.empty((0, window, samples.shape[1]), dtype=samples.dtype)
    view = np.lib.stride_tricks.sliding_window_view(samples, window, axis=0)  # (n, 6, window)
    return view[::hop].transpose(0, 2, 1)
