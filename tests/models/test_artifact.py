"""Artifacts: .onnx + sidecar written atomically, verified by sha256, listed in the manifest."""

import json
from pathlib import Path

import pytest

from models.artifact import (
    InputSpec,
    build_manifest,
    latest,
    read_sidecar,
    sidecar_path,
    verify,
    version_key,
    write_artifact,
    write_manifest,
)
from models.errors import ArtifactError

SPEC = InputSpec("imu", (None, 100, 6), "float32", ("g",) * 3 + ("dps",) * 3, (), 50.0)


def _write(directory: Path, version: str = "1.0.0", data: bytes = b"onnx bytes") -> None:
    write_artifact(
        directory,
        data,
        name="activity",
        version=version,
        input_spec=SPEC,
        labels=("lying", "walking"),
        training_data={"sha256": "0" * 64, "sources": [], "seed": 1},
        metrics={"macro_f1": 0.9},
    )


def test_a_written_artifact_verifies_and_round_trips(tmp_path: Path) -> None:
    _write(tmp_path)
    sc = verify(sidecar_path(tmp_path, "activity", "1.0.0"))
    assert sc.name == "activity"
    assert sc.version == "1.0.0"
    assert sc.input == SPEC
    assert sc.labels == ("lying", "walking")
    assert sc.size_bytes == len(b"onnx bytes")
    assert (tmp_path / "activity-1.0.0.onnx").read_bytes() == b"onnx bytes"


def test_a_changed_model_file_fails_verification(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "activity-1.0.0.onnx").write_bytes(b"onnx bytez")
    with pytest.raises(ArtifactError, match="sha256"):
        verify(sidecar_path(tmp_path, "activity", "1.0.0"))


def test_a_missing_model_file_fails_verification(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "activity-1.0.0.onnx").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        verify(sidecar_path(tmp_path, "activity", "1.0.0"))


def test_a_malformed_sidecar_names_the_problem(tmp_path: Path) -> None:
    _write(tmp_path)
    path = sidecar_path(tmp_path, "activity", "1.0.0")
    raw = json.loads(path.read_text())
    del raw["labels"]
    path.write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="labels"):
        read_sidecar(path)


@pytest.mark.parametrize(("name", "version"), [("Activity", "1.0.0"), ("activity", "1.0")])
def test_bad_names_and_versions_are_refused(tmp_path: Path, name: str, version: str) -> None:
    with pytest.raises(ArtifactError):
        write_artifact(
            tmp_path,
            b"x",
            name=name,
            version=version,
            input_spec=SPEC,
            labels=("a",),
            training_data={},
            metrics={},
        )


def test_a_model_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="limit"):
        write_artifact(
            tmp_path,
            b"x" * 101,
            name="activity",
            version="1.0.0",
            input_spec=SPEC,
            labels=("a",),
            training_data={},
            metrics={},
            max_bytes=100,
        )


def test_the_manifest_lists_every_artifact_and_the_latest_version(tmp_path: Path) -> None:
    _write(tmp_path, "1.0.0")
    _write(tmp_path, "1.10.0", b"newer")
    _write(tmp_path, "1.9.0", b"older")
    path = write_manifest(tmp_path)
    manifest = json.loads(path.read_text())
    assert sorted(m["version"] for m in manifest["models"]) == ["1.0.0", "1.10.0", "1.9.0"]
    assert manifest["latest"] == {"activity": "1.10.0"}
    assert latest(tmp_path, "activity").version == "1.10.0"


def test_the_manifest_refuses_a_tampered_artifact(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "activity-1.0.0.onnx").write_bytes(b"tampered!!")
    with pytest.raises(ArtifactError):
        build_manifest(tmp_path)


def test_prereleases_sort_before_their_release() -> None:
    assert version_key("1.0.0-rc1") < version_key("1.0.0") < version_key("1.0.1")


@pytest.mark.parametrize(
    ("field", "value"),
    [("outputs", ["scores"]), ("input", ["imu"]), ("decision", "x"), ("input", {"name": "imu"})],
)
def test_a_tampered_sidecar_is_an_artifact_error_not_a_crash(
    tmp_path: Path, field: str, value: object
) -> None:
    _write(tmp_path)
    path = sidecar_path(tmp_path, "activity", "1.0.0")
    raw = json.loads(path.read_text()) | {field: value}
    path.write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="malformed"):
        read_sidecar(path)
