"""A small 1-D CNN over the raw window around each impact candidate (issue 13, run log).

Not shipped code: it measures whether a convolutional net over the raw ±2 s around a
candidate impact — alone, or averaged with the shipped 3.0.0 trees — closes the cross-source
gap that the 31 feature variants of `models/activity/variants.py` did not. Same candidates,
same hard negatives (seed 7), same folds and the same threshold rule as `fall.validate`: the
operating point comes from the training source's own out-of-fold everyday trials (≤ 5 %),
never from the test side.

    python -m models.activity.cnn [--seed 7] [--loso] [--post-s 2] [--filters 16,24,32]
                                  [--epochs 12] [--json FILE] [--onnx FILE]

Results (seeds 7, 11, 23) are in the card's run log: the net transfers worse than the trees,
and averaging it with them is not better in both directions, so nothing here ships.

The window's channels are all invariant to how the watch is turned and to the wrist it is on
(so rotated / mirrored copies would be identical and are not made): |a|, the acceleration
along and across the gravity direction of the window's first second, the cosine of the turn
of the low-passed gravity direction from that one, |gyro| and |gyro along gravity|. Every
accelerometer axis is clipped at ±8 g first (FallAllD's part is ±8 g; a ±16 g watch is read
the same way). Training copies (never scored): each candidate through the robot's resampler
after bursty irregular timestamps and after a 25 Hz watch (`build.TRANSFORMS`), a random
shift of ±0.1 s and a gain of ±15 % on the acceleration channels.
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

from device.perception.imu_features import RATE_HZ, candidates, magnitudes, smooth
from models.activity import fall as F
from models.activity.real import Trial, cache_dir, load_trials
from models.activity.variants import sensitivity_at

PRE: Final = 100  # samples before the impact (2 s)
POST: Final = 100  # samples from the impact on (2 s)
SHIFT: Final = 5  # training windows shifted by up to ±0.1 s
CLIP_G: Final = 8.0
CHANNELS: Final = ("amag_g", "along_g", "across_g", "turn_cos", "gyro_100dps", "gyro_along_100dps")
EPOCHS: Final = 12
COPIES: Final = ("bursty_jitter_resampled", "25_hz_input")
MODES: Final = ("trees", "cnn", "mean", "rank")


def channels(seg: np.ndarray) -> np.ndarray:
    """(len(CHANNELS), n) float32 of a (n, 6) 50 Hz segment; gravity from its first second
    after the margin (SHIFT samples in)."""
    x = seg.astype(np.float64)
    acc = np.clip(x[:, :3], -CLIP_G, CLIP_G)
    gyro = x[:, 3:6]
    ref = acc[SHIFT : SHIFT + round(RATE_HZ)].mean(axis=0)
    g0 = ref / max(float(np.linalg.norm(ref)), 1e-6)
    amag = np.linalg.norm(acc, axis=1)
    along = acc @ g0
    across = np.sqrt(np.maximum(amag**2 - along**2, 0.0))
    lp = np.stack([smooth(acc[:, k], 25) for k in range(3)], axis=1)
    turn = (lp @ g0) / np.maximum(np.linalg.norm(lp, axis=1), 1e-6)
    gmag = np.linalg.norm(gyro, axis=1)
    out = np.stack([amag - 1.0, along - 1.0, across, turn, gmag / 100.0, np.abs(gyro @ g0) / 100.0])
    clipped: np.ndarray = np.clip(out, -20.0, 20.0).astype(np.float32)
    return clipped


def segment(samples: np.ndarray, i: int, post: int = POST) -> np.ndarray:
    """The samples around `i` with the shift margin, edges held (as fall_features)."""
    n = len(samples)
    idx = np.clip(np.arange(i - PRE - SHIFT, i + post + SHIFT), 0, n - 1)
    out: np.ndarray = samples[idx]
    return out


def _transformed(
    samples: np.ndarray, i: int, kind: str, rng: np.random.Generator, post: int
) -> np.ndarray:
    from models.activity.build import TRANSFORMS

    n = len(samples)
    lo, hi = max(0, i - PRE - SHIFT - 50), min(n, i + post + SHIFT + 50)
    y = TRANSFORMS[kind](samples[lo:hi], rng)
    return segment(y, i - lo, post)


@dataclass
class Windows:
    """Channel windows of every candidate (table order) then every hard negative."""

    x: np.ndarray  # (m + h, C, PRE + POST + 2 SHIFT)
    copies: np.ndarray  # (len(COPIES), m + h, C, ...) training copies, same ids


def build_windows(
    trials: Sequence[Trial],
    table: F.Table,
    seed: int = 7,
    hard_persons: int = F.HARD_NEGATIVE_PERSONS,
    post: int = POST,
) -> Windows:
    """Windows (2 s before the impact, `post` samples from it) in the candidate table's
    order, checked against it; cached by content."""
    key = hashlib.sha256(
        repr((PRE, post, SHIFT, CLIP_G, CHANNELS, COPIES, seed, hard_persons)).encode()
    )
    key.update(table.t_s.tobytes())
    for tr in trials:
        key.update(tr.file.encode())
    path = cache_dir() / f"fall-cnn-windows-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        z = np.load(path)
        return Windows(z["x"], z["copies"])
    segs: list[tuple[np.ndarray, int]] = []
    for tr in trials:
        amag, _ = magnitudes(tr.samples)
        segs.extend((tr.samples, int(i)) for i in candidates(amag))
    if len(segs) != len(table.y):
        raise RuntimeError(f"{len(segs)} candidates, the table has {len(table.y)}")
    from models.data.imu_synth import HARD_NEGATIVES, Person, synth_hard_negative

    for p in range(hard_persons):  # the same draws as fall.hard_negative_rows
        rng = np.random.default_rng([seed, p, 2026])
        person = Person.sample(rng)
        for kind in HARD_NEGATIVES:
            x = synth_hard_negative(kind, F.HARD_NEGATIVE_S, person, rng)
            amag, _ = magnitudes(x)
            segs.extend((x, int(i)) for i in candidates(amag))
    hard = 0 if table.hard is None else len(table.hard)
    if len(segs) != len(table.y) + hard:
        raise RuntimeError("hard negatives differ from the table's")
    xs = np.stack([channels(segment(s, i, post)) for s, i in segs])
    cps = []
    for c, kind in enumerate(COPIES):
        cps.append(
            np.stack(
                [
                    channels(_transformed(s, i, kind, np.random.default_rng([k, c, 31]), post))
                    for k, (s, i) in enumerate(segs)
                ]
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=xs, copies=np.stack(cps))
    return Windows(xs, np.stack(cps))


@dataclass(frozen=True)
class NetConfig:
    """The net's filters per convolution and its training epochs."""

    filters: tuple[int, int, int] = (16, 24, 32)
    epochs: int = EPOCHS


def make_net(n_channels: int = len(CHANNELS), cfg: NetConfig = NetConfig()) -> Any:
    """Three strided convolutions, global max and mean pooling, one logit (~9k weights)."""
    import torch
    from torch import nn

    a, b, c = cfg.filters

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv1d(n_channels, a, 7, stride=2, padding=3),
                nn.ReLU(),
                nn.Conv1d(a, b, 5, stride=2, padding=2),
                nn.ReLU(),
                nn.Conv1d(b, c, 5, padding=2),
                nn.ReLU(),
            )
            self.drop = nn.Dropout(0.2)
            self.head = nn.Linear(2 * c, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.body(x)
            z = torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1)
            return torch.sigmoid(self.head(self.drop(z)))[:, 0]

    return Net()


def train_net(
    w: Windows, ids: np.ndarray, y: np.ndarray, seed: int, cfg: NetConfig = NetConfig()
) -> Any:
    """Fit the net on the windows `ids` (and their copies) with balanced classes."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 4242])
    net = make_net(cfg=cfg)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    pos = max(1, int(y.sum()))
    wpos = (len(y) - pos) / pos
    views = [w.x, *w.copies]
    width = w.x.shape[2] - 2 * SHIFT
    for _ in range(cfg.epochs):
        net.train()
        order = rng.permutation(len(ids))
        for b in range(0, len(order), 256):
            sel = order[b : b + 256]
            view = rng.integers(len(views), size=len(sel))
            off = rng.integers(0, 2 * SHIFT + 1, size=len(sel))
            xb = np.stack(
                [views[v][ids[k], :, o : o + width] for k, v, o in zip(sel, view, off, strict=True)]
            )
            gain = rng.uniform(0.85, 1.15, size=(len(sel), 1, 1)).astype(np.float32)
            xb[:, :3] *= gain
            yb = torch.from_numpy(y[sel].astype(np.float32))
            p = net(torch.from_numpy(xb)).clamp(1e-6, 1 - 1e-6)
            wt = torch.where(yb > 0, torch.tensor(wpos, dtype=torch.float32), torch.tensor(1.0))
            loss = (torch.nn.functional.binary_cross_entropy(p, yb, reduction="none") * wt).mean()
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    net.eval()
    return net


def net_scores(net: Any, x: np.ndarray) -> np.ndarray:
    """Fall probabilities of windows (centred: no shift)."""
    import torch

    width = x.shape[2] - 2 * SHIFT
    with torch.no_grad():
        out = [
            net(torch.from_numpy(np.ascontiguousarray(x[b : b + 2048, :, SHIFT : SHIFT + width])))
            for b in range(0, len(x), 2048)
        ]
    return np.concatenate([o.numpy() for o in out]) if out else np.empty(0)


class Both:
    """The trees and the net fitted on the same rows; `mode` says which score is given.

    `rank` averages each model's score read as its share of the training rows' everyday
    candidates it exceeds (in-sample), so the net's scores, crowded near 0 and 1, do not
    outweigh the trees'."""

    def __init__(self, trees: Any, net: Any, w: Windows, everyday: np.ndarray) -> None:
        self.trees, self.net, self.w = trees, net, w
        self.mode = "mean"
        t, c = self._both(everyday) if len(everyday) else (np.empty(0), np.empty(0))
        self.ref_t, self.ref_c = np.sort(t), np.sort(c)

    def _both(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(self.trees.predict_proba(x[:, :-1]))[:, 1]
        c = net_scores(self.net, self.w.x[x[:, -1].astype(int)])
        return t, c

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """x: the table's features then the window id in the last column."""
        t, c = self._both(x)
        if self.mode == "rank":
            qt = np.searchsorted(self.ref_t, t, side="right") / max(1, len(self.ref_t))
            qc = np.searchsorted(self.ref_c, c, side="right") / max(1, len(self.ref_c))
            p = 0.5 * (qt + qc)
        else:
            p = {"trees": t, "cnn": c, "mean": 0.5 * (t + c)}[self.mode]
        return np.stack([1.0 - p, p], axis=1)


class Fitter:
    """`fall.Fitter` that fits both models once per set of rows and hands out `Both`."""

    def __init__(self, w: Windows, mode: str, cfg: NetConfig = NetConfig()) -> None:
        self.w, self.mode, self.cfg = w, mode, cfg
        self.memo: dict[str, Both] = {}

    def __call__(self, table: F.Table, rows: np.ndarray, seed: int) -> Both:
        key = hashlib.sha256(rows.tobytes() + str(seed).encode()).hexdigest()
        if key not in self.memo:
            keep = rows[table.y[rows] >= 0]
            x, y = table.x[keep], table.y[keep].astype(np.int64)
            hard = table.hard if table.hard is not None else np.zeros((0, x.shape[1]))
            xa = np.concatenate([x, hard])
            ya = np.concatenate([y, np.zeros(len(hard), np.int64)])
            trees = F.make_classifier(seed).fit(xa[:, :-1], ya)
            net = train_net(self.w, xa[:, -1].astype(int), ya, seed, self.cfg)
            self.memo[key] = Both(trees, net, self.w, x[y == 0])
        both = self.memo[key]
        both.mode = self.mode
        return both


def with_ids(table: F.Table) -> F.Table:
    """The table with each row's window id appended as a last column."""
    m = len(table.y)
    hard = table.hard if table.hard is not None else np.zeros((0, table.x.shape[1]), np.float32)
    return F.Table(
        np.concatenate([table.x, np.arange(m, dtype=np.float32)[:, None]], axis=1),
        table.trial,
        table.t_s,
        table.y,
        np.concatenate([hard, np.arange(m, m + len(hard), dtype=np.float32)[:, None]], axis=1),
    )


def run(
    trials: Sequence[Trial],
    table: F.Table,
    w: Windows,
    seed: int,
    loso: bool,
    cfg: NetConfig = NetConfig(),
) -> list[dict[str, Any]]:
    """Leave-one-dataset-out both ways (and leave-subjects-out) for each of MODES."""
    fitters = {m: Fitter(w, m, cfg) for m in MODES}
    shared: dict[str, Both] = {}
    for f in fitters.values():
        f.memo = shared  # one fit per rows, a reading of it per mode
    datasets = np.asarray([t.dataset for t in trials])
    out: dict[str, dict[str, Any]] = {m: {"variant": m, "seed": seed} for m in MODES}
    names = sorted(set(datasets.tolist()))
    for train_ds, test_ds in ((a, b) for a in names for b in names if a != b):
        tr = np.flatnonzero(datasets == train_ds)
        te = np.flatnonzero(datasets == test_ds)
        rows = np.flatnonzero(np.isin(table.trial, te))
        for m in MODES:
            inner = F.grouped_oof(trials, table, tr, 5, seed, fitters[m])
            model = fitters[m](table, np.flatnonzero(np.isin(table.trial, tr)), seed)
            s = model.predict_proba(table.x[rows])[:, 1]
            scores = np.nan_to_num(F.trial_scores(len(trials), table, s, rows), nan=0.0)
            thr = F.pick_threshold(trials, inner, tr, F.TARGET_FALSE_RATE)
            r = F.rates(trials, scores, te, thr)
            out[m][f"{train_ds}_to_{test_ds}"] = {
                "threshold": thr,
                "sensitivity": r["sensitivity"],
                "sensitivity_clean": r["sensitivity_clean"],
                "false_fall_trial_rate": r["false_fall_trial_rate"],
                "older_adult_false_fall_rate": r["older_adult_false_fall_rate"],
                "sensitivity_at_5pct_false_on_test_side": round(
                    sensitivity_at(trials, scores, te, F.TARGET_FALSE_RATE), 4
                ),
            }
            print(m, train_ds, "->", test_ds, out[m][f"{train_ds}_to_{test_ds}"], flush=True)
    if loso:
        everyone = np.arange(len(trials))
        for m in MODES:
            oof = F.grouped_oof(trials, table, everyone, 10, seed, fitters[m])
            thr = F.pick_threshold(trials, oof, everyone, F.TARGET_FALSE_RATE)
            r = F.rates(trials, oof, everyone, thr)
            out[m]["leave_subjects_out"] = {
                "threshold": thr,
                "sensitivity": r["sensitivity"],
                "false_fall_trial_rate": r["false_fall_trial_rate"],
            }
            print(m, "LOSO", out[m]["leave_subjects_out"], flush=True)
    return list(out.values())


def export_onnx(net: Any, path: Path, post: int = POST) -> dict[str, Any]:
    """Write the net as ONNX; its size and onnxruntime's time per window on one thread."""
    import onnxruntime as ort  # type: ignore[import-untyped]
    import torch

    dummy = torch.zeros(1, len(CHANNELS), PRE + post)
    with warnings.catch_warnings():  # the TorchScript exporter: no onnxscript needed
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net, (dummy,), str(path), input_names=["x"], output_names=["p"], dynamo=False
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(1, len(CHANNELS), PRE + post)).astype(np.float32)
    ref = net_scores(net, np.pad(x, ((0, 0), (0, 0), (SHIFT, SHIFT))))
    got = np.asarray(sess.run(None, {"x": x})[0])
    for _ in range(20):
        sess.run(None, {"x": x})
    times = []
    for _ in range(500):
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        times.append(time.perf_counter() - t0)
    return {
        "bytes": path.stat().st_size,
        "max_abs_diff_vs_torch": float(np.abs(ref - got.reshape(-1)).max()),
        "ort_ms_p50": round(1e3 * float(np.median(times)), 4),
        "ort_ms_p95": round(1e3 * float(np.percentile(times, 95)), 4),
    }


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the modes on the shared real set; optionally write JSON and an ONNX file."""
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seed", type=int, default=7, help="trees, net and folds (hard negatives: 7)")
    ap.add_argument("--loso", action="store_true", help="add leave-subjects-out (10 folds)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--onnx", type=Path, default=None, help="export a net fitted on everyone")
    ap.add_argument("--post-s", type=float, default=POST / RATE_HZ, help="window after the impact")
    ap.add_argument("--filters", default="16,24,32", help="filters of the three convolutions")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    a, b, c = (int(v) for v in args.filters.split(","))
    cfg = NetConfig((a, b, c), args.epochs)
    torch.set_num_threads(1)
    trials = load_trials()
    table = F.candidate_table(trials, 7)
    post = round(args.post_s * RATE_HZ)
    w = build_windows(trials, table, 7, post=post)
    t = with_ids(table)
    results: list[dict[str, Any]] = []
    if args.onnx is not None:
        fit = Fitter(w, "cnn", cfg)(t, np.arange(len(t.y)), args.seed)
        results.append({"onnx": export_onnx(fit.net, args.onnx, post)})
        print(results[-1], flush=True)
    else:
        results = run(trials, t, w, args.seed, args.loso, cfg)
        for r in results:
            r["window_s"] = [-PRE / RATE_HZ, post / RATE_HZ]
            r["filters"], r["epochs"] = list(cfg.filters), cfg.epochs
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
