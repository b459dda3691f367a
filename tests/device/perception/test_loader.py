"""The loader refuses any model that is not exactly what its sidecar and the robot expect."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from device.perception.loader import (
    ModelLoadError,
    find_sidecar,
    load,
    load_named,
    session_options,
)
from device.perception.motion import ACTIVITY_EXPECT, FALL_EXPECT
from tests.device.perception.conftest import TINY_MODELS


def _edit(path: Path, **changes: object) -> None:
    raw = json.loads(path.read_text())
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            raw[outer][inner] = value
        else:
            raw[key] = value
    path.write_text(json.dumps(raw))


def test_the_tiny_models_load_and_pass_their_self_test() -> None:
    activity = load_named(TINY_MODELS, "activity", expect=ACTIVITY_EXPECT)
    fall = load_named(TINY_MODELS, "fall", expect=FALL_EXPECT)
    assert activity.ref.name == "activity"
    assert activity.ref.version == "0.0.1"
    scores = activity.scores(np.zeros((2, 100, 6), np.float32))
    assert scores.shape == (2, len(activity.info.labels))
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert fall.info.decision["threshold"] > 0


def test_the_session_runs_on_the_cpu_with_the_configured_threads() -> None:
    model = load_named(TINY_MODELS, "activity")
    assert model.session.get_providers() == ["CPUExecutionProvider"]
    opts = session_options(3)
    assert opts.intra_op_num_threads == 3
    assert opts.inter_op_num_threads == 3


def test_a_changed_model_file_is_refused(models_copy: Path) -> None:
    onnx = models_copy / "fall-0.0.1.onnx"
    data = bytearray(onnx.read_bytes())
    data[-1] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match its sidecar"):
        load(models_copy / "fall-0.0.1.json")


def test_a_missing_model_file_is_refused(models_copy: Path) -> None:
    (models_copy / "fall-0.0.1.onnx").unlink()
    with pytest.raises(ModelLoadError, match="does not exist"):
        load(models_copy / "fall-0.0.1.json")


def test_a_sidecar_whose_input_spec_differs_from_the_graph_is_refused(models_copy: Path) -> None:
    _edit(models_copy / "activity-0.0.1.json", **{"input.shape": [None, 200, 6]})
    with pytest.raises(ModelLoadError, match="input shape"):
        load(models_copy / "activity-0.0.1.json")


def test_a_model_trained_for_another_sample_rate_is_refused(models_copy: Path) -> None:
    _edit(models_copy / "activity-0.0.1.json", **{"input.sample_rate_hz": 100.0})
    with pytest.raises(ModelLoadError, match=r"100\.0 Hz"):
        load(models_copy / "activity-0.0.1.json", expect=ACTIVITY_EXPECT)


def test_a_model_with_other_columns_is_refused(models_copy: Path) -> None:
    _edit(
        models_copy / "fall-0.0.1.json", **{"input.columns": ["ax", "ay", "az", "gx", "gy", "gz"]}
    )
    with pytest.raises(ModelLoadError, match="columns"):
        load(models_copy / "fall-0.0.1.json", expect=FALL_EXPECT)


def test_a_model_missing_a_label_the_robot_needs_is_refused(models_copy: Path) -> None:
    with pytest.raises(ModelLoadError, match="labels"):
        load(
            models_copy / "fall-0.0.1.json",
            expect=replace(FALL_EXPECT, labels=("fall", "stumble")),
        )


def test_a_wrong_self_test_expectation_fails_the_load(models_copy: Path) -> None:
    path = models_copy / "activity-0.0.1.json"
    raw = json.loads(path.read_text())
    raw["self_test"]["expected"][0][0] += 0.5
    path.write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="self-test"):
        load(path)


def test_a_sidecar_that_is_not_json_is_refused(models_copy: Path) -> None:
    (models_copy / "activity-0.0.1.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not readable JSON"):
        load(models_copy / "activity-0.0.1.json")


def test_a_sidecar_pointing_outside_its_folder_is_refused(models_copy: Path) -> None:
    _edit(models_copy / "activity-0.0.1.json", file="../../etc/passwd")
    with pytest.raises(ModelLoadError, match="file must be"):
        load(models_copy / "activity-0.0.1.json")


def test_the_newest_version_is_found(models_copy: Path) -> None:
    for suffix in ("json", "onnx"):
        data = (models_copy / f"fall-0.0.1.{suffix}").read_bytes()
        (models_copy / f"fall-0.0.10.{suffix}").write_bytes(data)
    _edit(models_copy / "fall-0.0.10.json", version="0.0.10", file="fall-0.0.10.onnx")
    assert find_sidecar(models_copy, "fall").name == "fall-0.0.10.json"


def test_no_model_of_that_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no activity model"):
        find_sidecar(tmp_path, "activity")
