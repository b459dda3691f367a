"""A small log-mel CNN for wordless distress, against sound 2.0.0 on the same folds (run log).

Not shipped code: it measures whether a convolutional net that sees the time course of a
40-band log-mel spectrogram directly — alone, or its probabilities averaged with 2.0.0's
logistic regression — hears moaning and panting better than the 216 summary features of
spec v2. Same rows and augmented copies as `models.sound.data.build_table` (seed 7), the
same `models.sound.train.cross_validate` (speaker-held-out folds; calibration and threshold
of each fold from the other folds, never the fold's own), and 2.0.0's recipe re-fitted on
every fold beside it, so the folds are paired.

    python -m models.sound.cnn [--fold-seed 7] [--epochs 16] [--out FILE] [--onnx FILE]

Protocol fixed before any result was seen: the net, its input and its training below were
set once and not changed after looking; `--fold-seed 7` is the card's 2 x 5 folds and
`--fold-seed 1007` the fresh repetition (docs/sound.md). `--onnx` fits the net on everyone
and measures the exported graph's size and onnxruntime's time on one thread.

torch is a training-only dependency (the `models` extra; never the robot's): run it with a
Python that has torch and this repository on its path, one thread (`torch.set_num_threads(1)`).
"""

import argparse
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from device.audio.sound_features import FRAME, HOP, SAMPLE_RATE_HZ, check_pcm, mel_filterbank
from models.sound import data as sound_data
from models.sound import train as sound_train
from models.sound.data import LABELS, FeatureTable
from models.sound.variants import _brief, _table_with, paired

N_MELS: Final = 40
NFFT: Final = 512
MAX_FRAMES: Final = 500  # 10 s: the robot's longest single window
CROP: Final = 150  # frames (3 s) per training example
FLOOR_DB: Final = -80.0  # below the clip's loudest mel cell
EPOCHS: Final = 16
BATCH: Final = 64
FILTERS: Final = (8, 16, 24, 32)
MODES: Final = ("logreg", "cnn", "mean")


_BANK: Final = mel_filterbank(N_MELS, NFFT).astype(np.float32)  # the robot's, 40 over 512
_WINDOW: Final = np.hanning(FRAME).astype(np.float32)


def log_mel(pcm: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """(frames, N_MELS) log-mel in units of 20 dB, 0 at the clip's loudest cell, floor -4.

    Frames of 25 ms every 20 ms (spec v2's). Relative to the loudest cell, so the gain of
    the microphone and the distance do not matter; only the first MAX_FRAMES are kept."""
    x = check_pcm(pcm, sample_rate_hz)
    x = x - x.mean()
    n = min(1 + (x.size - FRAME) // HOP, MAX_FRAMES)
    frames = x[np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]] * _WINDOW
    spec = np.fft.rfft(frames, n=NFFT, axis=1)
    power = (spec.real**2 + spec.imag**2) @ _BANK.T
    db = 10.0 * np.log10(power + 1e-12)
    db = np.clip(db - db.max(), FLOOR_DB, 0.0)
    out: np.ndarray = (db / 20.0).astype(np.float32)
    return out


def patch_row(pcm: np.ndarray) -> np.ndarray:
    """One table row: the frame count, then MAX_FRAMES x N_MELS cells (padded at the floor)."""
    m = log_mel(pcm)
    full = np.full((MAX_FRAMES, N_MELS), FLOOR_DB / 20.0, dtype=np.float32)
    full[: len(m)] = m
    return np.concatenate([[np.float32(len(m))], full.reshape(-1)])


@dataclass(frozen=True)
class Patches:
    """Log-mel patches of every table row (rows as `build_table` makes them)."""

    mel: np.ndarray  # (rows, MAX_FRAMES, N_MELS) float32
    frames: np.ndarray  # (rows,) int


def build_patches(clips: list[sound_data.Clip], seed: int) -> Patches:
    """The log-mel of every row, cached in $DOLBOM_CACHE like the summary features."""
    t = sound_data.build_table(clips, seed, featurizer=patch_row, cache_tag="logmel40-1")
    return Patches(
        mel=t.x[:, 1:].reshape(len(t.x), MAX_FRAMES, N_MELS), frames=t.x[:, 0].astype(int)
    )


def make_net(n_classes: int = len(LABELS)) -> Any:
    """Four 3x3 conv blocks (batch norm, ReLU, 2x2 pooling on the first three), frequency
    mean, then mean and max over time, dropout and one linear layer (~12 k weights)."""
    import torch
    from torch import nn

    a, b, c, d = FILTERS

    def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        ]
        return [*layers, nn.MaxPool2d(2)] if pool else layers

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                *block(1, a, True), *block(a, b, True), *block(b, c, True), *block(c, d, False)
            )
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(2 * d, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """x: (batch, time, mels) → class logits."""
            h = self.body(x.transpose(1, 2).unsqueeze(1)).mean(dim=2)  # (batch, d, time/8)
            z = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
            out: torch.Tensor = self.head(self.drop(z))
            return out

    return Net()


def _crop(p: Patches, row: int, rng: np.random.Generator) -> np.ndarray:
    """A random CROP-frame window of a row; a shorter clip sits at a random place."""
    n = max(int(p.frames[row]), 1)
    out = np.full((CROP, N_MELS), FLOOR_DB / 20.0, dtype=np.float32)
    if n >= CROP:
        s = int(rng.integers(0, n - CROP + 1))
        out[:] = p.mel[row, s : s + CROP]
    else:
        s = int(rng.integers(0, CROP - n + 1))
        out[s : s + n] = p.mel[row, :n]
    # light masking: one band of up to 4 mels and one span of up to 0.3 s
    f0, fw = int(rng.integers(0, N_MELS)), int(rng.integers(0, 5))
    out[:, f0 : f0 + fw] = FLOOR_DB / 20.0
    t0, tw = int(rng.integers(0, CROP)), int(rng.integers(0, 16))
    out[t0 : t0 + tw] = FLOOR_DB / 20.0
    return out


def train_net(p: Patches, rows: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> Any:
    """Fit the net on `rows` with class-balanced cross-entropy (AdamW, cosine schedule)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 12])
    net = make_net()
    counts = np.bincount(y, minlength=len(LABELS)).astype(np.float64)
    weight = len(y) / (len(LABELS) * np.maximum(counts, 1.0))
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight, dtype=torch.float32))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-3)
    steps = epochs * -(-len(rows) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(rows))
        for b in range(0, len(order), BATCH):
            sel = order[b : b + BATCH]
            if len(sel) < 2:  # batch norm needs two
                continue
            xb = np.stack([_crop(p, int(rows[k]), rng) for k in sel])
            loss = loss_fn(net(torch.from_numpy(xb)), torch.from_numpy(y[sel]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return net


def net_probabilities(net: Any, p: Patches, rows: np.ndarray) -> np.ndarray:
    """Class probabilities of whole rows (up to 10 s; shorter than CROP padded at the floor)."""
    import torch

    out = np.zeros((len(rows), len(LABELS)))
    with torch.no_grad():
        for i, r in enumerate(rows):
            n = max(int(p.frames[r]), CROP)
            x = torch.from_numpy(np.ascontiguousarray(p.mel[r : r + 1, :n]))
            out[i] = torch.softmax(net(x), dim=1).numpy()[0]
    return out


class Both:
    """2.0.0's recipe and the net fitted on the same rows; `mode` says which answers."""

    def __init__(self, logreg: Any, net: Any, p: Patches) -> None:
        self.logreg, self.net, self.p = logreg, net, p
        self.mode = "mean"

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """x: the 216 features of spec v2, then the row id in the last column."""
        lr = np.asarray(self.logreg.predict_proba(x[:, :-1]))
        if self.mode == "logreg":
            return lr
        cnn = net_probabilities(self.net, self.p, x[:, -1].astype(int))
        out: np.ndarray = cnn if self.mode == "cnn" else 0.5 * (lr + cnn)
        return out


class Fitter:
    """`cross_validate`'s fitter: both models once per set of rows, read in each mode."""

    def __init__(self, p: Patches, epochs: int) -> None:
        self.p, self.epochs = p, epochs
        self.mode = "mean"
        self.memo: dict[str, Both] = {}
        self.cpu_s = 0.0

    def __call__(self, table: FeatureTable, rows: np.ndarray, seed: int) -> Both:
        key = hashlib.sha256(rows.tobytes() + str(seed).encode()).hexdigest()
        if key not in self.memo:
            t0 = time.process_time()
            y = table.label[rows]
            lr = sound_train.fit("logreg", _table_with(table, table.x[:, :-1]), rows, seed)
            net = train_net(self.p, table.x[rows, -1].astype(int), y, seed, self.epochs)
            self.memo[key] = Both(lr, net, self.p)
            self.cpu_s += time.process_time() - t0
            print(
                f"  fold fitted: {len(rows)} rows, {time.process_time() - t0:.0f} s CPU", flush=True
            )
        both = self.memo[key]
        both.mode = self.mode
        return both


def export_onnx(net: Any, path: Path, repeats: int = 200) -> dict[str, Any]:
    """Write the net as ONNX (time axis dynamic); its size and onnxruntime's time per window."""
    import onnxruntime as ort  # type: ignore[import-untyped]
    import torch

    dummy = torch.zeros(1, CROP, N_MELS)
    with warnings.catch_warnings():  # the TorchScript exporter: no onnxscript needed
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            (dummy,),
            str(path),
            input_names=["logmel"],
            output_names=["logits"],
            dynamic_axes={"logmel": {0: "n", 1: "frames"}, "logits": {0: "n"}},
            dynamo=False,
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    result: dict[str, Any] = {"bytes": path.stat().st_size}
    rng = np.random.default_rng(0)
    for seconds in (1, 4, 10):
        frames = max(CROP, seconds * SAMPLE_RATE_HZ // HOP)
        x = rng.uniform(-4, 0, size=(1, frames, N_MELS)).astype(np.float32)
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        got = np.asarray(sess.run(None, {"logmel": x})[0])
        for _ in range(10):
            sess.run(None, {"logmel": x})
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            sess.run(None, {"logmel": x})
            times.append(time.process_time() - t0)
        pcm = rng.normal(0, 0.1, seconds * SAMPLE_RATE_HZ).astype(np.float32)
        feat = []
        for _ in range(max(1, repeats // 4)):
            t0 = time.process_time()
            log_mel(pcm)
            feat.append(time.process_time() - t0)
        result[f"{seconds}s"] = {
            "ort_cpu_ms_p50": round(1e3 * float(np.median(times)), 3),
            "logmel_cpu_ms_p50": round(1e3 * float(np.median(feat)), 3),
            "max_abs_diff_vs_torch": float(np.abs(ref - got).max()),
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Score 2.0.0's recipe, the net and their mean on one repetition of speaker folds."""
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--fold-seed", type=int, default=7, help="7: the card's folds; 1007: fresh")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--out", type=Path, default=None, help="write the results here (JSON)")
    ap.add_argument("--onnx", type=Path, default=None, help="fit on everyone, export, time it")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.process_time()
    clips = sound_data.list_clips()
    table = sound_data.build_table(clips, 7)  # 2.0.0's rows, spec v2's 216 features
    patches = build_patches(clips, 7)
    rows = np.arange(len(table.label), dtype=np.float32)[:, None]
    t = _table_with(table, np.concatenate([table.x, rows], axis=1))
    print(f"features and patches: {time.process_time() - t0:.0f} s CPU", flush=True)
    fitter = Fitter(patches, args.epochs)
    results: dict[str, Any] = {
        "fold_seed": args.fold_seed,
        "data_seed": 7,
        "epochs": args.epochs,
        "filters": list(FILTERS),
        "n_mels": N_MELS,
        "crop_frames": CROP,
    }
    if args.onnx is not None:
        both = fitter(t, np.arange(len(t.label)), 7)
        n_weights = sum(int(w.numel()) for w in both.net.parameters())
        results["onnx"] = {"weights": n_weights, **export_onnx(both.net, args.onnx)}
        print(results["onnx"], flush=True)
    else:
        rows_out: list[dict[str, Any]] = []
        for mode in MODES:
            fitter.mode = mode
            before = fitter.cpu_s
            v = sound_train.cross_validate("logreg", t, args.fold_seed, fitter=fitter)
            name = {"logreg": "2.0.0 (v2, logreg C 0.05)", "cnn": "log-mel CNN"}.get(
                mode, "mean of 2.0.0 and the CNN"
            )
            rows_out.append(_brief(name, v, fitter.cpu_s - before))
            if mode != "logreg":
                rows_out[-1]["paired"] = paired(rows_out[0], rows_out[-1])
        results["candidates"] = rows_out
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
