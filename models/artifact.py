"""Shipped model artifacts: `NAME-VERSION.onnx` plus a sidecar JSON, and the manifest listing them.

The sidecar is the contract with the device (device/perception/loader.py reads it without
importing this package):

    {"format": 1, "name": "activity", "version": "1.0.0", "file": "activity-1.0.0.onnx",
     "sha256": "<hex of the .onnx>", "size_bytes": 123,
     "input": {"name": "imu", "shape": [null, 100, 6], "dtype": "float32",
               "units": ["g", "g", "g", "dps", "dps", "dps"], "columns": [...],
               "sample_rate_hz": 50.0},
     "outputs": {"label": "label", "scores": "scores"},
     "labels": ["lying", ...],
     "decision": {"threshold": 0.5, ...}            # model-specific, optional
     "training_data": {"sha256": "<hex>", "sources": [...], "seed": 7},
     "metrics": {...}, "baseline_metrics": {...},
     "self_test": {"input": [[...]], "output": "scores", "expected": [[...]], "atol": 1e-4},
     "created": "2026-11-27T05:00:00Z"}

`self_test` is a committed input with the output this exact model gives; the device runs it
after loading or after an over-the-air rollout and rolls back when the output differs.
"""

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.errors import ArtifactError

SIDECAR_FORMAT = 1
MANIFEST_NAME = "manifest.json"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
CARDS_DIR = Path(__file__).resolve().parent / "cards"
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
MAX_BYTES_DEFAULT = 1_000_000


@dataclass(frozen=True)
class InputSpec:
    """What the model's input tensor holds."""

    name: str
    shape: tuple[int | None, ...]  # None: any size (the batch)
    dtype: str  # "float32", "string", ...
    units: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    sample_rate_hz: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The sidecar's `input` object."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "units": list(self.units),
            "columns": list(self.columns),
            "sample_rate_hz": self.sample_rate_hz,
        }

    @staticmethod
    def from_json(raw: dict[str, Any]) -> "InputSpec":
        """Parse the sidecar's `input` object."""
        return InputSpec(
            name=str(raw["name"]),
            shape=tuple(None if d is None else int(d) for d in raw["shape"]),
            dtype=str(raw["dtype"]),
            units=tuple(str(u) for u in raw.get("units", ())),
            columns=tuple(str(c) for c in raw.get("columns", ())),
            sample_rate_hz=None
            if raw.get("sample_rate_hz") is None
            else float(raw["sample_rate_hz"]),
        )


@dataclass(frozen=True)
class Sidecar:
    """Everything known about one shipped model besides its weights."""

    name: str
    version: str
    file: str
    sha256: str
    size_bytes: int
    input: InputSpec
    labels: tuple[str, ...]
    training_data: dict[str, Any]
    metrics: dict[str, Any]
    created: str
    outputs: dict[str, str] = field(default_factory=lambda: {"label": "label", "scores": "scores"})
    decision: dict[str, Any] = field(default_factory=dict)
    baseline_metrics: dict[str, Any] = field(default_factory=dict)
    self_test: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """The sidecar as JSON-ready data."""
        return {
            "format": SIDECAR_FORMAT,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "file": self.file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "input": self.input.to_json(),
            "outputs": dict(self.outputs),
            "labels": list(self.labels),
            "decision": self.decision,
            "training_data": self.training_data,
            "metrics": self.metrics,
            "baseline_metrics": self.baseline_metrics,
            "self_test": self.self_test,
            "created": self.created,
        }

    @staticmethod
    def from_json(raw: Any, where: str = "sidecar") -> "Sidecar":
        """Parse and check a sidecar; ArtifactError names the first problem."""
        if not isinstance(raw, dict):
            raise ArtifactError(f"{where}: a sidecar must be a JSON object")
        if raw.get("format") != SIDECAR_FORMAT:
            raise ArtifactError(f"{where}: unsupported sidecar format {raw.get('format')!r}")
        try:
            sidecar = Sidecar(
                name=str(raw["name"]),
                version=str(raw["version"]),
                file=str(raw["file"]),
                sha256=str(raw["sha256"]),
                size_bytes=int(raw["size_bytes"]),
                input=InputSpec.from_json(raw["input"]),
                labels=tuple(str(x) for x in raw["labels"]),
                training_data=dict(raw["training_data"]),
                metrics=dict(raw["metrics"]),
                created=str(raw["created"]),
                outputs={str(k): str(v) for k, v in raw.get("outputs", {}).items()},
                decision=dict(raw.get("decision", {})),
                baseline_metrics=dict(raw.get("baseline_metrics", {})),
                self_test=dict(raw.get("self_test", {})),
                description=str(raw.get("description", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ArtifactError(f"{where}: missing or malformed field: {e}") from None
        check_name_version(sidecar.name, sidecar.version, where)
        if not re.fullmatch(r"[0-9a-f]{64}", sidecar.sha256):
            raise ArtifactError(f"{where}: sha256 must be 64 lowercase hex digits")
        if sidecar.file != f"{sidecar.name}-{sidecar.version}.onnx":
            raise ArtifactError(f"{where}: file must be {sidecar.name}-{sidecar.version}.onnx")
        return sidecar


def check_name_version(name: str, version: str, where: str = "model") -> None:
    """A model name is a lowercase slug; a version is semantic (1.2.3)."""
    if not NAME_RE.fullmatch(name):
        raise ArtifactError(f"{where}: bad model name {name!r} (lowercase letters, digits, - _)")
    if not SEMVER_RE.fullmatch(version):
        raise ArtifactError(f"{where}: version {version!r} is not a semantic version like 1.2.0")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(
    arrays: Iterable[bytes], sources: list[dict[str, Any]], seed: int
) -> dict[str, Any]:
    """The training data's identity: sha256 over its bytes plus where it came from."""
    h = hashlib.sha256()
    for chunk in arrays:
        h.update(hashlib.sha256(chunk).digest())
    h.update(json.dumps(sources, sort_keys=True).encode("utf-8"))
    return {"sha256": h.hexdigest(), "sources": sources, "seed": seed}


def utc_stamp(now: datetime | None = None) -> str:
    """RFC 3339 UTC, seconds."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so a crash leaves either the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # shipped files: readable by the robot's and the cloud's users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_artifact(
    out_dir: Path,
    onnx_bytes: bytes,
    *,
    name: str,
    version: str,
    input_spec: InputSpec,
    labels: tuple[str, ...],
    training_data: dict[str, Any],
    metrics: dict[str, Any],
    baseline_metrics: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
    self_test: dict[str, Any] | None = None,
    outputs: dict[str, str] | None = None,
    description: str = "",
    created: str | None = None,
    max_bytes: int = MAX_BYTES_DEFAULT,
) -> Sidecar:
    """Write `NAME-VERSION.onnx` and `NAME-VERSION.json` into `out_dir`; return the sidecar."""
    check_name_version(name, version)
    if len(onnx_bytes) > max_bytes:
        raise ArtifactError(
            f"{name} {version} is {len(onnx_bytes)} bytes, over the {max_bytes}-byte limit"
            " (raise max_bytes only with a justification in the model card)"
        )
    sidecar = Sidecar(
        name=name,
        version=version,
        file=f"{name}-{version}.onnx",
        sha256=sha256_bytes(onnx_bytes),
        size_bytes=len(onnx_bytes),
        input=input_spec,
        labels=labels,
        training_data=training_data,
        metrics=metrics,
        created=created or utc_stamp(),
        outputs=outputs or {"label": "label", "scores": "scores"},
        decision=decision or {},
        baseline_metrics=baseline_metrics or {},
        self_test=self_test or {},
        description=description,
    )
    atomic_write(out_dir / sidecar.file, onnx_bytes)
    atomic_write(sidecar_path(out_dir, name, version), dump_json(sidecar.to_json()))
    return sidecar


def dump_json(data: Any) -> bytes:
    """Stable, readable JSON (sorted keys are not used: the field order is the documentation)."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sidecar_path(directory: Path, name: str, version: str) -> Path:
    """Where the sidecar of NAME VERSION lives."""
    return directory / f"{name}-{version}.json"


def read_sidecar(path: Path) -> Sidecar:
    """Parse a sidecar file (without checking the .onnx)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no such sidecar") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path}: not readable JSON: {e}") from None
    return Sidecar.from_json(raw, str(path))


def verify(path: Path) -> Sidecar:
    """Parse a sidecar and check its .onnx: present, the right size and sha256."""
    sidecar = read_sidecar(path)
    onnx = path.parent / sidecar.file
    if not onnx.is_file():
        raise ArtifactError(f"{path}: its model file {onnx.name} is missing")
    size = onnx.stat().st_size
    if size != sidecar.size_bytes:
        raise ArtifactError(f"{onnx}: {size} bytes, the sidecar says {sidecar.size_bytes}")
    digest = sha256_file(onnx)
    if digest != sidecar.sha256:
        raise ArtifactError(
            f"{onnx}: sha256 {digest[:12]}… differs from the sidecar's {sidecar.sha256[:12]}…"
        )
    return sidecar


def sidecars(directory: Path) -> list[Path]:
    """Every sidecar in a folder (the manifest itself excluded), sorted."""
    return sorted(p for p in directory.glob("*.json") if p.name != MANIFEST_NAME)


def build_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a folder: every verified artifact, and the newest version of each name."""
    entries: list[dict[str, Any]] = []
    for path in sidecars(directory):
        sc = verify(path)
        entries.append(
            {
                "name": sc.name,
                "version": sc.version,
                "file": sc.file,
                "sidecar": path.name,
                "sha256": sc.sha256,
                "size_bytes": sc.size_bytes,
                "labels": list(sc.labels),
                "created": sc.created,
            }
        )
    latest: dict[str, str] = {}
    for e in entries:
        cur = latest.get(e["name"])
        if cur is None or version_key(e["version"]) > version_key(cur):
            latest[e["name"]] = e["version"]
    return {"format": SIDECAR_FORMAT, "models": entries, "latest": dict(sorted(latest.items()))}


def write_manifest(directory: Path) -> Path:
    """Rebuild `manifest.json` from the sidecars in `directory`."""
    path = directory / MANIFEST_NAME
    atomic_write(path, dump_json(build_manifest(directory)))
    return path


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key for semantic versions (a pre-release sorts before its release)."""
    m = SEMVER_RE.fullmatch(version)
    if m is None:
        raise ArtifactError(f"version {version!r} is not a semantic version")
    pre = version.partition("-")[2]
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, pre)


def latest(directory: Path, name: str) -> Sidecar:
    """The newest verified version of `name` in `directory`."""
    found = [read_sidecar(p) for p in sidecars(directory) if p.name.startswith(f"{name}-")]
    found = [s for s in found if s.name == name]
    if not found:
        raise ArtifactError(f"no {name} model in {directory}; run `dolbom models train {name}`")
    best = max(found, key=lambda s: version_key(s.version))
    return verify(sidecar_path(directory, best.name, best.version))
