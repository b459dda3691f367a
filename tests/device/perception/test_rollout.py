"""Model rollout: fetched from the cloud, checked, swapped atomically, rolled back on failure."""

import contextlib
import hashlib
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest

from device.perception.loader import ModelLoadError, OnnxModel
from device.perception.motion import FALL_EXPECT, ModelSwap, MotionStage
from device.perception.rollout import (
    HttpFetcher,
    ModelStore,
    Rollout,
    RolloutError,
    RolloutPayloadError,
)
from protocol import Command, CommandType
from tests.device.perception.conftest import TINY_MODELS, RecordingContext

CHUNK = 16 * 1024


class FakeCloud:
    """Serves packages like /model-packages does; records what was asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, int]]] = []

    def get(self, path: str, token: str, params: Mapping[str, int] | None = None) -> bytes:
        self.requests.append((path, token, dict(params or {})))
        if path.endswith("/model") and params is not None and "chunk" in params:
            data = self.files[path]
            i = params["chunk"]
            return data[i * CHUNK : (i + 1) * CHUNK]
        if path not in self.files:
            raise RolloutError(f"the cloud answered 404 for {path}")
        return self.files[path]

    def close(self) -> None:
        self.closed = True


def package(
    cloud: FakeCloud, version: str, *, model: bytes | None = None, edit: Any = None
) -> dict[str, Any]:
    """Publish the tiny fall model as `version`; return the rollout payload for it."""
    sidecar = json.loads((TINY_MODELS / "fall-0.0.1.json").read_text())
    data = model if model is not None else (TINY_MODELS / "fall-0.0.1.onnx").read_bytes()
    sidecar["version"] = version
    sidecar["file"] = f"fall-{version}.onnx"
    if edit is not None:
        edit(sidecar)
    raw = json.dumps(sidecar).encode()
    base = f"/model-packages/fall/{version}"
    cloud.files[f"{base}/sidecar"] = raw
    cloud.files[f"{base}/model"] = data
    return {
        "name": "fall",
        "version": version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "sidecar_sha256": hashlib.sha256(raw).hexdigest(),
        "chunk_bytes": CHUNK,
        "chunks": -(-len(data) // CHUNK),
        "token": "mp1.test-token-for-this-package",
    }


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "installed", TINY_MODELS)


def _rollout(store: ModelStore, cloud: FakeCloud) -> Rollout:
    return Rollout(store, {"fall": FALL_EXPECT}, cloud_url=None, fetcher_factory=lambda: cloud)


def test_a_good_package_is_installed_activated_and_self_tested(
    store: ModelStore, cloud: FakeCloud
) -> None:
    name, model, detail = _rollout(store, cloud).run(package(cloud, "0.0.2"))
    assert (name, model.info.version) == ("fall", "0.0.2")
    assert "self-test ok" in detail
    assert store.active() == {"fall": {"version": "0.0.2", "previous": None}}
    assert store.load("fall").info.version == "0.0.2"
    chunks = [p["chunk"] for path, _, p in cloud.requests if path.endswith("/model")]
    assert chunks == list(range(len(chunks)))
    assert len(chunks) > 1  # really chunked
    assert all(token == "mp1.test-token-for-this-package" for _, token, _ in cloud.requests)


def test_the_previous_version_is_kept_on_disk(store: ModelStore, cloud: FakeCloud) -> None:
    rollout = _rollout(store, cloud)
    rollout.run(package(cloud, "0.0.2"))
    rollout.run(package(cloud, "0.0.3"))
    assert store.active()["fall"] == {"version": "0.0.3", "previous": "0.0.2"}
    assert (store.install_dir / "fall-0.0.2.onnx").is_file()
    assert not list(store.install_dir.glob("*.part"))


def test_a_model_with_the_wrong_sha256_is_refused(store: ModelStore, cloud: FakeCloud) -> None:
    payload = package(cloud, "0.0.2")
    payload["sha256"] = "0" * 64
    with pytest.raises(RolloutError, match="sha256"):
        _rollout(store, cloud).run(payload)
    assert store.active() == {}
    assert not (store.install_dir / "fall-0.0.2.onnx").exists()


def test_a_tampered_sidecar_is_refused(store: ModelStore, cloud: FakeCloud) -> None:
    payload = package(cloud, "0.0.2")
    cloud.files["/model-packages/fall/0.0.2/sidecar"] += b" "
    with pytest.raises(RolloutError, match="sidecar's sha256"):
        _rollout(store, cloud).run(payload)
    assert store.active() == {}


def test_a_package_failing_its_self_test_is_rejected_and_the_old_model_kept(
    store: ModelStore, cloud: FakeCloud
) -> None:
    def break_expected(sidecar: dict[str, Any]) -> None:
        sidecar["self_test"]["expected"][0][1] += 0.3

    payload = package(cloud, "0.0.2", edit=break_expected)
    with pytest.raises(RolloutError, match=r"rejected, shipped kept: .*self-test"):
        _rollout(store, cloud).run(payload)
    assert store.active() == {}
    assert store.load("fall").info.version == "0.0.1"
    assert not (store.install_dir / "fall-0.0.2.onnx").exists()


def test_a_download_longer_than_announced_is_cut_off(store: ModelStore, cloud: FakeCloud) -> None:
    payload = package(cloud, "0.0.2")
    cloud.files["/model-packages/fall/0.0.2/model"] += b"x" * CHUNK
    with pytest.raises(RolloutError, match="larger than"):
        _rollout(store, cloud).run(payload)


def test_a_failure_after_the_swap_rolls_back(
    store: ModelStore, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollout = _rollout(store, cloud)
    rollout.run(package(cloud, "0.0.2"))
    real_load = ModelStore.load

    def load_fails_for_0_0_3(self: ModelStore, name: str, expect: Any = None) -> OnnxModel:
        if self.current_version(name) == "0.0.3":
            raise ModelLoadError("disk trouble")
        return real_load(self, name, expect)

    monkeypatch.setattr(ModelStore, "load", load_fails_for_0_0_3)
    with pytest.raises(RolloutError, match=r"rolled back to 0\.0\.2"):
        rollout.run(package(cloud, "0.0.3"))
    assert store.current_version("fall") == "0.0.2"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sha256", "xyz", "sha256"),
        ("version", "latest", "version"),
        ("chunks", 0, "chunks"),
        ("token", "", "token"),
    ],
)
def test_a_malformed_payload_names_the_field(
    store: ModelStore, cloud: FakeCloud, field: str, value: object, message: str
) -> None:
    payload = package(cloud, "0.0.2") | {field: value}
    with pytest.raises(RolloutPayloadError, match=message):
        _rollout(store, cloud).run(payload)


def test_the_same_version_twice_is_refused(store: ModelStore, cloud: FakeCloud) -> None:
    rollout = _rollout(store, cloud)
    payload = package(cloud, "0.0.2")
    rollout.run(payload)
    with pytest.raises(RolloutError, match="already active"):
        rollout.run(payload)


def test_without_a_cloud_url_the_robot_says_so(store: ModelStore, cloud: FakeCloud) -> None:
    rollout = Rollout(store, {"fall": FALL_EXPECT}, cloud_url=None)
    with pytest.raises(RolloutError, match="cloud_url"):
        rollout.run(package(cloud, "0.0.2"))


def _command(payload: dict[str, Any]) -> Command:
    return Command(
        command_id="cmd-1",
        device_id="robot-test-01",
        ts=datetime(2026, 11, 27, tzinfo=UTC),
        type=CommandType.MODEL_ROLLOUT,
        payload=payload,
    )


def _stage(tmp_path: Path, cloud: FakeCloud) -> MotionStage:
    from device.perception.loader import load_named
    from device.perception.motion import MotionAnalyzer

    store = ModelStore(tmp_path / "installed", TINY_MODELS)
    analyzer = MotionAnalyzer(load_named(TINY_MODELS, "activity"), load_named(TINY_MODELS, "fall"))
    return MotionStage(analyzer, rollout=_rollout(store, cloud))


def test_the_stage_answers_a_rollout_and_swaps_the_model_on_its_loop(
    tmp_path: Path, cloud: FakeCloud, ctx: RecordingContext
) -> None:
    stage = _stage(tmp_path, cloud)
    stage.start(ctx)
    result = stage.on_command(_command(package(cloud, "0.0.2")))
    assert result is not None
    assert result.ok is True
    assert result.command_id == "cmd-1"
    swap = ctx.inbox.get_nowait()
    assert isinstance(swap, ModelSwap)
    stage.handle(swap, 1.0)
    assert stage.analyzer.fall is not None
    assert stage.analyzer.fall.info.version == "0.0.2"


def test_a_failed_rollout_is_a_failed_command_result_and_nothing_changes(
    tmp_path: Path, cloud: FakeCloud, ctx: RecordingContext
) -> None:
    stage = _stage(tmp_path, cloud)
    stage.start(ctx)
    payload = package(cloud, "0.0.2") | {"sha256": "1" * 64}
    result = stage.on_command(_command(payload))
    assert result is not None
    assert result.ok is False
    assert "sha256" in result.detail
    assert ctx.inbox.empty()
    assert stage.analyzer.fall is not None
    assert stage.analyzer.fall.info.version == "0.0.1"


def test_other_models_and_commands_are_left_to_other_stages(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    stage = _stage(tmp_path, cloud)
    assert stage.on_command(_command(package(cloud, "0.0.2") | {"name": "emotion"})) is None
    other = Command(
        command_id="cmd-2",
        device_id="robot-test-01",
        ts=datetime(2026, 11, 27, tzinfo=UTC),
        type=CommandType.SETTINGS,
    )
    assert stage.on_command(other) is None


def test_a_download_slower_than_the_timeout_is_abandoned(
    store: ModelStore, cloud: FakeCloud
) -> None:
    readings = iter(float(i) for i in range(0, 1000, 10))  # every reading 10 s later
    rollout = Rollout(
        store,
        {"fall": FALL_EXPECT},
        cloud_url=None,
        timeout_s=15.0,
        fetcher_factory=lambda: cloud,
        monotonic=lambda: next(readings),
    )
    with pytest.raises(RolloutError, match="longer than 15 s"):
        rollout.run(package(cloud, "0.0.2"))
    assert store.active() == {}


@pytest.mark.parametrize(
    "decision",
    [
        {"hop": 0},  # the analyzer would never advance: an endless loop on the agent's thread
        {"threshold": "high"},
        {"impact_bucket": [50]},
        {"refractory_s": -1},
    ],
)
def test_a_package_whose_decision_the_stage_cannot_use_is_refused(
    store: ModelStore, cloud: FakeCloud, decision: dict[str, Any]
) -> None:
    payload = package(cloud, "0.0.2", edit=lambda s: s["decision"].update(decision))
    with pytest.raises(RolloutError, match="decision"):
        _rollout(store, cloud).run(payload)
    assert store.active() == {}
    assert not (store.install_dir / "fall-0.0.2.onnx").exists()


def test_a_full_disk_is_a_failed_rollout_not_a_crash(
    store: ModelStore, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "install", full)
    with pytest.raises(RolloutError, match="No space left"):
        _rollout(store, cloud).run(package(cloud, "0.0.2"))
    assert store.active() == {}


def test_the_http_fetcher_does_not_trust_the_servers_length() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # a huge body (a real server could stream without end) under a small Content-Length
        body = iter([b"x" * 10_000] * 5)
        return httpx.Response(200, content=body, headers={"Content-Length": "10"})

    client = httpx.Client(base_url="http://127.0.0.1", transport=httpx.MockTransport(handler))
    fetcher = HttpFetcher("http://127.0.0.1", client=client, max_response_bytes=4096)
    with pytest.raises(RolloutError, match="more than 4096 bytes"):
        fetcher.get("/model-packages/fall/0.0.2/model", "mp1.token", {"chunk": 0})
    client.close()


def test_the_http_fetcher_verifies_tls_against_the_configured_ca() -> None:
    fetcher = HttpFetcher("https://127.0.0.1:1", ca_file=certifi.where())  # no warning
    fetcher.close()
    with pytest.raises(RolloutError, match="CA file"):
        HttpFetcher("https://127.0.0.1:1", ca_file="/nonexistent/ca.pem")


@pytest.mark.parametrize("url", ["http://cloud.example.com", "ftp://127.0.0.1", "cloud:8000"])
def test_packages_come_over_https_unless_the_cloud_is_on_this_machine(url: str) -> None:
    # plain HTTP would hand the package token to anyone on the path
    with pytest.raises(RolloutError, match="https://"):
        HttpFetcher(url)
    for local in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost:8000"):
        HttpFetcher(local).close()


def test_a_package_for_other_features_is_refused_before_the_swap(
    store: ModelStore, cloud: FakeCloud
) -> None:
    # the fall model scores the robot's candidate-impact features (imu_features.py): a model
    # built for other features would score garbage and switch fall detection off in effect
    def edit(s: dict[str, Any]) -> None:
        s["input"]["columns"] = list(reversed(s["input"]["columns"]))

    payload = package(cloud, "0.0.2", edit=edit)
    with pytest.raises(RolloutError, match="input columns"):
        _rollout(store, cloud).run(payload)
    assert store.active() == {}


def test_a_rollback_restores_the_active_entry_exactly_and_drops_the_failed_files(
    store: ModelStore, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollout = _rollout(store, cloud)
    rollout.run(package(cloud, "0.0.2"))
    rollout.run(package(cloud, "0.0.3"))
    before = store.active()
    real_load = ModelStore.load

    def load_fails_for_0_0_4(self: ModelStore, name: str, expect: Any = None) -> OnnxModel:
        if self.current_version(name) == "0.0.4":
            raise ModelLoadError("disk trouble")
        return real_load(self, name, expect)

    monkeypatch.setattr(ModelStore, "load", load_fails_for_0_0_4)
    with pytest.raises(RolloutError, match=r"rolled back to 0\.0\.3"):
        rollout.run(package(cloud, "0.0.4"))
    assert store.active() == before == {"fall": {"version": "0.0.3", "previous": "0.0.2"}}
    assert store.load("fall").info.version == "0.0.3"
    assert not list(store.install_dir.glob("fall-0.0.4.*"))


def test_a_full_disk_at_the_swap_keeps_the_old_model(
    store: ModelStore, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "set_active", full)
    with pytest.raises(RolloutError, match=r"shipped kept: .*No space left"):
        _rollout(store, cloud).run(package(cloud, "0.0.2"))
    assert store.active() == {}
    assert not list(store.install_dir.glob("fall-0.0.2.*"))


def test_two_stages_switching_models_at_once_lose_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the motion and mood stages each own a ModelStore over the same active.json
    a = ModelStore(tmp_path / "installed", TINY_MODELS)
    b = ModelStore(tmp_path / "installed", TINY_MODELS)
    both_read = threading.Barrier(2)
    real_active = ModelStore.active

    def active_after_the_other_read(self: ModelStore) -> dict[str, dict[str, str | None]]:
        # without a lock both read the old table here, then both write
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=0.5)
        return real_active(self)

    monkeypatch.setattr(ModelStore, "active", active_after_the_other_read)
    threads = [
        threading.Thread(target=a.set_active, args=("fall", "0.0.2", None)),
        threading.Thread(target=b.set_active, args=("emotion", "1.0.1", None)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.undo()
    assert set(a.active()) == {"fall", "emotion"}
