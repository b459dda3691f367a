"""The `activity` recipe: the activity classifier and the fall detector, trained together."""

import json
from pathlib import Path
from typing import Any, Final

import numpy as np

from models.activity import train as trainer
from models.activity.baseline import FALL_RULE
from models.activity.data import ACTIVITY_WINDOW, FALL_WINDOW, IMPACT_BUCKET, LABELS, Sizes, person
from models.artifact import (
    CARDS_DIR,
    InputSpec,
    Sidecar,
    atomic_write,
    latest,
    write_artifact,
    write_manifest,
)
from models.data.imu_synth import RATE_HZ, synth_activity, synth_fall_clip
from models.errors import ArtifactError
from models.registry import Progress

VERSION: Final = "1.0.0"
IMU_COLUMNS: Final = ("ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
IMU_UNITS: Final = ("g", "g", "g", "dps", "dps", "dps")
SELF_TEST_ATOL: Final = 1e-4


def input_spec(window: int) -> InputSpec:
    """Raw wrist-band windows: (batch, window, 6) float32 at 50 Hz in IMU_COLUMNS order."""
    return InputSpec(
        name="imu",
        shape=(None, window, 6),
        dtype="float32",
        units=IMU_UNITS,
        columns=IMU_COLUMNS,
        sample_rate_hz=RATE_HZ,
    )


def _scores(onnx_bytes: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort  # type: ignore[import-untyped]

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    out: np.ndarray = sess.run(["scores"], {"imu": x.astype(np.float32)})[0]
    return out


def self_test_vector(onnx_bytes: bytes, windows: np.ndarray) -> dict[str, Any]:
    """Committed input (rounded so JSON holds it exactly) and the scores this model gives."""
    x = np.round(windows.astype(np.float64), 4).astype(np.float32)
    expected = _scores(onnx_bytes, x)
    return {
        "input": np.round(x.astype(np.float64), 4).tolist(),
        "output": "scores",
        "expected": np.round(expected.astype(np.float64), 6).tolist(),
        "atol": SELF_TEST_ATOL,
    }


def _test_windows(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One walking activity window and one fall window with its impact in the impact bucket."""
    p, rng = person(seed, 10_000)
    walk = synth_activity("walking", 4.0, p, rng)[:ACTIVITY_WINDOW]
    clip = synth_fall_clip("forward", p, rng)
    start = clip.impact_index - (IMPACT_BUCKET[0] + IMPACT_BUCKET[1]) // 2
    fall = clip.samples[start : start + FALL_WINDOW]
    return walk[None], fall[None]


class ActivityRecipe:
    """Activity (lying, sitting, standing, walking, transition, fall) and the fall detector."""

    name = "activity"
    summary = "activity classes and falls from the wrist band's IMU (2 s and 4 s windows)"
    artifacts = ("activity", "fall")

    def __init__(self, sizes: Sizes | None = None) -> None:
        self.sizes = sizes or Sizes()

    def train(self, seed: int, progress: Progress, work_dir: Path) -> dict[str, Any]:
        """Fit both models; the fall threshold is tuned on the validation persons."""
        trained = trainer.train(seed, progress, self.sizes)
        trainer.save(trained, work_dir)
        (work_dir / "metrics.json").unlink(missing_ok=True)
        return {
            "seed": seed,
            "fall_threshold": trained.threshold,
            "validation": trained.val,
            "activity_bytes": len(trained.activity_onnx),
            "fall_bytes": len(trained.fall_onnx),
        }

    def evaluate(self, work_dir: Path, progress: Progress) -> dict[str, Any]:
        """Both models and their baselines on the test persons, plus the BasicMotions check."""
        try:
            trained = trainer.load(work_dir)
        except FileNotFoundError:
            raise ArtifactError(
                f"nothing trained in {work_dir}; run `dolbom models train activity` first"
            ) from None
        metrics = trainer.evaluate(trained, progress, self.sizes)
        metrics["basic_motions"] = trainer.basic_motions(trained.seed)
        atomic_write(work_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
        return metrics

    def export(self, work_dir: Path, out_dir: Path, version: str | None = None) -> list[Path]:
        """Write activity-VERSION and fall-VERSION (.onnx + sidecar), then the manifest."""
        try:
            trained = trainer.load(work_dir)
            metrics = json.loads((work_dir / "metrics.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtifactError(
                f"no evaluated run in {work_dir}; run `dolbom models train activity` and"
                " `dolbom models evaluate activity` first"
            ) from None
        version = version or VERSION
        walk, fall = _test_windows(trained.seed)
        training_data = trained.fingerprint
        common = {"split": metrics["split"], "basic_motions": metrics["basic_motions"]}
        written = [
            write_artifact(
                out_dir,
                trained.activity_onnx,
                name="activity",
                version=version,
                description="Activity of the senior from 2 s of wrist-band IMU (50 % overlap).",
                input_spec=input_spec(ACTIVITY_WINDOW),
                labels=LABELS,
                training_data=training_data,
                metrics=metrics["activity"] | common,
                baseline_metrics=metrics["activity_baseline"]
                | {"rule": "models/activity/baseline.py"},
                decision={"window": ACTIVITY_WINDOW, "hop": ACTIVITY_WINDOW // 2},
                self_test=self_test_vector(trained.activity_onnx, walk),
            ),
            write_artifact(
                out_dir,
                trained.fall_onnx,
                name="fall",
                version=version,
                description=(
                    "Fall detector on 4 s of wrist-band IMU: fires when a fall's impact lies in"
                    " the window's second second and what follows looks like a fall."
                ),
                input_spec=input_spec(FALL_WINDOW),
                labels=trainer.FALL_LABELS,
                training_data=training_data,
                metrics=metrics["fall"] | {"validation": metrics["fall_validation"]} | common,
                baseline_metrics=metrics["fall_baseline"],
                decision={
                    "threshold": trained.threshold,
                    "hop": 50,
                    "impact_bucket": list(IMPACT_BUCKET),
                    "refractory_s": trainer.REFRACTORY_S,
                    "tuned_for": (
                        f"sensitivity ≥ {trainer.TARGET_SENSITIVITY} on validation persons"
                    ),
                },
                self_test=self_test_vector(trained.fall_onnx, fall),
            ),
        ]
        write_manifest(out_dir)
        return [out_dir / f"{s.name}-{s.version}.json" for s in written]

    def card(self, out_dir: Path) -> str:
        """Write models/cards/activity.md and fall.md from the exported sidecars."""
        act, fall = latest(out_dir, "activity"), latest(out_dir, "fall")
        texts = {"activity": activity_card(act), "fall": fall_card(fall)}
        for name, text in texts.items():
            atomic_write(CARDS_DIR / f"{name}.md", text.encode("utf-8"))
        return "\n\n".join(texts.values())


def _class_table(metrics: dict[str, Any], base: dict[str, Any]) -> str:
    rows = [
        "| class | precision | recall | F1 | baseline F1 | windows |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in metrics["per_class"].items():
        b = base.get("per_class", {}).get(name, {})
        rows.append(
            f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"
            f" {b.get('f1', float('nan')):.3f} | {m['support']} |"
        )
    rows.append(
        f"| **macro** | | | **{metrics['macro_f1']:.3f}** | **{base.get('macro_f1', 0):.3f}** |"
        f" {metrics['windows']} |"
    )
    return "\n".join(rows)


_DATA = """## Data, provenance and licence

- **Synthetic senior wrist IMU** (`models/data/imu_synth.py`, this repository's licence):
  physics-based simulation of a wrist band at 50 Hz — forearm orientation tracks per posture,
  arm swing and step bounce when walking, posture transitions (some of them a heavy drop into
  a chair), knocks of the wrist on furniture, and falls of five kinds (forward, backward,
  sideways, from bed, a slow slump against a wall) with a few seconds before, the impact and
  10-20 s of lying still. Every simulated person differs: cadence, arm swing, step bounce,
  tremor (30 % have a 4-6.5 Hz rest tremor), fidgeting, transition speed, left or right wrist,
  the band's mounting rotation (15 % upside down), looseness, sensor noise and bias.
- **Split by simulated person, never by window**: {train} training persons, {val} validation
  persons (they tune the fall threshold), {test} test persons (never seen in training or
  tuning). Test persons contribute activity clips, {falls} falls of each kind and one
  {hours:g}-hour fall-free day each.
- **BasicMotions** (real data; UEA & UCR archive, shipped inside sktime): 80 series from a
  smart watch (4 students; standing, walking, running, badminton; 10 s at 10 Hz). Used only
  as a sanity check of the feature pipeline: the same features and the same kind of forest,
  trained on its train split, reach macro-F1 **{bm_f1:.3f}** on its test split ({bm_n}
  series; an easy set). Licence: none is stated in the data files; sktime redistributes
  them (BSD-3-Clause) and the archive asks for a citation of Bagnall et al. (2018). It is
  used for evaluation only and is not part of any shipped model.
- Training-data fingerprint: `{fp}` (sha256 over the training feature matrices, targets and
  source list; seed {seed}).
"""

_LIMITS = """## Known limits

- **No real senior has been measured.** Every figure above is on simulated persons; real
  falls, real bands and real homes will be worse. Treat the numbers as a regression test of
  the pipeline, not as clinical performance. Validate on recorded data before any pilot.
- Loosely worn bands, bands on the upper arm or ankle, walkers and wheelchairs, and very slow
  shuffling gaits are thinly or not represented.
- A fall that ends with the senior getting up at once, a fall onto a soft surface without an
  impact, and slow slides (the slump) are the hardest cases; the slump is found least often.
- Sitting and lying look alike when the forearm rests palm-down; standing still and sitting
  with the arm hanging from an armrest look alike.

## Must not be used for

- Not a medical device: not for diagnosis, treatment or as the only safety measure. The
  robot always follows a detected fall with the spoken "are you OK?" countdown, and the
  senior keeps the help button and spoken calls for help.
- Not for insurance, credit, employment or care-eligibility decisions, nor for ranking or
  monitoring people beyond the consented pilot study.
"""


def _data_section(sc: Sidecar) -> str:
    split = sc.metrics.get("split", {})
    td = sc.training_data.get("persons", {})
    bm = sc.metrics.get("basic_motions", {})
    return _DATA.format(
        train=td.get("train", "?"),
        val=td.get("val", "?"),
        test=td.get("test", "?"),
        falls=split.get("falls_per_kind_per_person", "?"),
        hours=split.get("test_day_hours", 0),
        bm_f1=bm.get("macro_f1", float("nan")),
        bm_n=bm.get("test_series", "?"),
        fp=sc.training_data.get("sha256", "?")[:16] + "…",
        seed=sc.training_data.get("seed", "?"),
    )


def activity_card(sc: Sidecar) -> str:
    """The activity model's card."""
    return f"""# Model card: activity {sc.version}

`models/artifacts/{sc.file}` · {sc.size_bytes / 1024:.0f} KiB · sha256 `{sc.sha256[:16]}…` ·
created {sc.created}

## Intended use

On the dolbom robot, from the senior's wrist band: which of {", ".join(sc.labels)} each 2 s
window (100 samples at 50 Hz, hop 1 s) shows, summed into minutes per class in periodic
`activity` events, so caregivers and pilot researchers see how active a senior is. Input:
raw IMU `(batch, 100, 6)` float32, columns {", ".join(sc.input.columns)} in g and °/s. The
features (per-axis statistics, magnitudes, jerk, gravity direction, spectral bands, before /
after) are part of the ONNX graph; the classifier is a random forest (scikit-learn, skl2onnx).
Falls raise alarms through the separate fall detector, not through this model's `fall` class.

{_data_section(sc)}
## Metrics on the held-out test persons

Windows from the test persons' activity clips, fall clips and whole days; the baseline is
the threshold rule of `models/activity/baseline.py` (gravity direction, movement energy,
forearm turn, 2.5 g peak) on the same windows.

{_class_table(sc.metrics, sc.baseline_metrics)}

{_LIMITS}"""


def fall_card(sc: Sidecar) -> str:
    """The fall detector's card."""
    m, b = sc.metrics, sc.baseline_metrics
    kinds = sorted(m.get("sensitivity_by_kind", {}))
    rows = ["| | model | classic baseline |", "|---|---:|---:|"]
    rows.append(f"| sensitivity (all falls) | {m['sensitivity']:.3f} | {b['sensitivity']:.3f} |")
    for k in kinds:
        rows.append(
            f"| sensitivity: {k} | {m['sensitivity_by_kind'][k]:.3f} |"
            f" {b['sensitivity_by_kind'][k]:.3f} |"
        )
    rows.append(
        f"| false alarms per person-day | {m['false_alarms_per_person_day']:.2f} |"
        f" {b['false_alarms_per_person_day']:.2f} |"
    )
    rows.append(f"| falls / person-days | {m['falls']} / {m['person_days']:g} | same |")
    val = m.get("validation", {})
    lo, hi = sc.decision.get("impact_bucket", [50, 100])
    return f"""# Model card: fall {sc.version}

`models/artifacts/{sc.file}` · {sc.size_bytes / 1024:.0f} KiB · sha256 `{sc.sha256[:16]}…` ·
created {sc.created}

## Intended use

On the dolbom robot: detect that the senior wearing the band has fallen, and start the
spoken "are you OK?" countdown (a caregiver alert follows unless the senior says they are
fine). Input: raw IMU `(batch, 200, 6)` float32 (4 s at 50 Hz), evaluated every second; the
window fires when its score is ≥ **{sc.decision.get("threshold")}**; it is trained to fire
when the impact lies in samples {lo}-{hi - 1} (its second second), so two seconds of the
aftermath are seen. Alarms closer than {sc.decision.get("refractory_s")} s count as one. The
threshold is tuned for sensitivity ({sc.decision.get("tuned_for")}): on the validation persons
it found {val.get("sensitivity")} of the falls with {val.get("false_alarms_per_person_day")}
false alarms per person-day ({val.get("person_days")} person-days).

{_data_section(sc)}
## Metrics on the held-out test persons

The classic baseline is {FALL_RULE}, on the same windows with the same alarm merging. A fall
counts as found when an alarm's window holds its impact.

{chr(10).join(rows)}

{_LIMITS}"""


RECIPE = ActivityRecipe()
