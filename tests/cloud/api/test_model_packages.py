"""/model-packages: listing, uploads, rollouts, and robots fetching with their package token."""

import hashlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cloud.api.routers.model_packages import CHUNK_BYTES, TOKEN_TTL_S, PackageStore
from device.perception.motion import FALL_EXPECT
from device.perception.rollout import HttpFetcher, ModelStore, Rollout, RolloutError
from protocol import CommandType
from protocol.commands import ModelRolloutPayload
from tests.cloud.api.conftest import PASSWORD, SERVICE, Clock, FakePublisher, World

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "models"


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> str:
    """Packages are files; the store only holds devices and the audit log: SQLite is enough."""
    url = migrated_sqlite(tmp_path / "cloud.sqlite3")
    return url


@pytest.fixture
def packages(tmp_path: Path) -> PackageStore:
    committed = tmp_path / "committed"
    shutil.copytree(TINY, committed, ignore=shutil.ignore_patterns("*.py"))
    return PackageStore(committed, tmp_path / "uploads")


@pytest.fixture
def api(app: FastAPI, packages: PackageStore, world: World) -> Iterator[httpx.Client]:
    """The app served for real by uvicorn on 127.0.0.1 (robots fetch over HTTP), and a client."""
    app.state.model_packages = packages
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
        yield client
    server.should_exit = True
    thread.join(5.0)
    sock.close()


def _login(api: httpx.Client, username: str) -> dict[str, str]:
    r = api.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _roll_out(api: httpx.Client, publisher: FakePublisher, device: str = "dev-a") -> dict[str, Any]:
    r = api.post(
        "/model-packages/fall/0.0.1/rollouts", json={"device_ids": [device]}, headers=SERVICE
    )
    assert r.status_code == 202, r.text
    _, command = publisher.sent[-1]
    assert command.type is CommandType.MODEL_ROLLOUT
    return dict(command.payload)


def test_admins_and_installers_list_the_committed_packages(api: httpx.Client) -> None:
    r = api.get("/model-packages", headers=SERVICE)
    assert r.status_code == 200
    by_name = {(p["name"], p["version"]): p for p in r.json()}
    assert set(by_name) == {("activity", "0.0.1"), ("fall", "0.0.1")}
    fall = by_name[("fall", "0.0.1")]
    assert fall["sha256"] == hashlib.sha256((TINY / "fall-0.0.1.onnx").read_bytes()).hexdigest()
    assert fall["chunks"] == -(-fall["size_bytes"] // CHUNK_BYTES)
    assert api.get("/model-packages", headers=_login(api, "ian")).status_code == 200


def test_caregivers_and_strangers_may_not(api: httpx.Client) -> None:
    assert api.get("/model-packages").status_code == 401
    assert api.get("/model-packages", headers=_login(api, "alice")).status_code == 403
    r = api.get("/model-packages/fall/0.0.1/model", headers=_login(api, "alice"))
    assert r.status_code == 403


def test_a_rollout_sends_a_url_free_command_with_a_package_token(
    api: httpx.Client, publisher: FakePublisher
) -> None:
    payload = _roll_out(api, publisher)
    parsed = ModelRolloutPayload.model_validate(payload)
    assert parsed.name == "fall"
    assert "http" not in json.dumps(payload)
    assert (
        parsed.sidecar_sha256 == hashlib.sha256((TINY / "fall-0.0.1.json").read_bytes()).hexdigest()
    )


def test_a_rollout_to_an_unknown_robot_is_404(api: httpx.Client, publisher: FakePublisher) -> None:
    r = api.post(
        "/model-packages/fall/0.0.1/rollouts", json={"device_ids": ["dev-zz"]}, headers=SERVICE
    )
    assert r.status_code == 404
    assert not publisher.sent


def test_the_token_fetches_the_package_in_chunks(
    api: httpx.Client, publisher: FakePublisher
) -> None:
    payload = _roll_out(api, publisher)
    auth = {"Authorization": f"Bearer {payload['token']}"}
    sidecar = api.get("/model-packages/fall/0.0.1/sidecar", headers=auth)
    assert sidecar.status_code == 200
    assert hashlib.sha256(sidecar.content).hexdigest() == payload["sidecar_sha256"]
    data = b"".join(
        api.get("/model-packages/fall/0.0.1/model", params={"chunk": i}, headers=auth).content
        for i in range(payload["chunks"])
    )
    assert hashlib.sha256(data).hexdigest() == payload["sha256"]
    assert (
        api.get("/model-packages/fall/0.0.1/model", params={"chunk": 999}, headers=auth).status_code
        == 404
    )


def test_a_token_opens_only_its_own_package(api: httpx.Client, publisher: FakePublisher) -> None:
    payload = _roll_out(api, publisher)
    auth = {"Authorization": f"Bearer {payload['token']}"}
    assert api.get("/model-packages/activity/0.0.1/model", headers=auth).status_code == 403
    forged = payload["token"][:-4] + ("AAAA" if not payload["token"].endswith("AAAA") else "BBBB")
    r = api.get("/model-packages/fall/0.0.1/model", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_a_token_expires(api: httpx.Client, publisher: FakePublisher, clock: Clock) -> None:
    payload = _roll_out(api, publisher)
    clock.advance(TOKEN_TTL_S + 1)
    r = api.get(
        "/model-packages/fall/0.0.1/sidecar",
        headers={"Authorization": f"Bearer {payload['token']}"},
    )
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


def test_a_robot_installs_a_rolled_out_package_from_the_api(
    api: httpx.Client, publisher: FakePublisher, tmp_path: Path
) -> None:
    payload = _roll_out(api, publisher)
    shipped = tmp_path / "robot-shipped"
    shipped.mkdir()
    store = ModelStore(tmp_path / "robot-installed", shipped)
    fetcher = HttpFetcher(str(api.base_url))
    rollout = Rollout(store, {"fall": FALL_EXPECT}, cloud_url=None, fetcher_factory=lambda: fetcher)
    name, model, _ = rollout.run(payload)
    assert (name, model.info.version) == ("fall", "0.0.1")
    assert store.current_version("fall") == "0.0.1"


def test_a_robot_with_a_stale_token_gets_a_clear_failure(
    api: httpx.Client, publisher: FakePublisher, clock: Clock, tmp_path: Path
) -> None:
    payload = _roll_out(api, publisher)
    clock.advance(TOKEN_TTL_S * 2)
    store = ModelStore(tmp_path / "installed", tmp_path)
    fetcher = HttpFetcher(str(api.base_url))
    rollout = Rollout(store, {"fall": FALL_EXPECT}, cloud_url=None, fetcher_factory=lambda: fetcher)
    with pytest.raises(RolloutError, match="401"):
        rollout.run(payload)


def test_an_admin_uploads_a_package_that_is_then_listed(api: httpx.Client) -> None:
    sidecar = json.loads((TINY / "fall-0.0.1.json").read_text())
    sidecar["version"] = "0.2.0"
    sidecar["file"] = "fall-0.2.0.onnx"
    r = api.put("/model-packages/fall/0.2.0/sidecar", content=json.dumps(sidecar), headers=SERVICE)
    assert r.status_code == 201, r.text
    r = api.put("/model-packages/fall/0.2.0/model", content=b"not the model", headers=SERVICE)
    assert r.status_code == 422
    assert "sha256" in r.json()["detail"]
    model = (TINY / "fall-0.0.1.onnx").read_bytes()
    r = api.put("/model-packages/fall/0.2.0/model", content=model, headers=SERVICE)
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "uploaded"
    listed = {(p["name"], p["version"]) for p in api.get("/model-packages", headers=SERVICE).json()}
    assert ("fall", "0.2.0") in listed
    again = api.put("/model-packages/fall/0.2.0/model", content=model, headers=SERVICE)
    assert again.status_code == 409


def test_a_sidecar_for_another_package_is_refused(api: httpx.Client) -> None:
    sidecar = (TINY / "fall-0.0.1.json").read_text()
    r = api.put("/model-packages/fall/0.3.0/sidecar", content=sidecar, headers=SERVICE)
    assert r.status_code == 422
    assert "describes" in r.json()["detail"]


def test_uploads_are_off_until_a_folder_is_configured(
    api: httpx.Client, app: FastAPI, packages: PackageStore
) -> None:
    app.state.model_packages = PackageStore(packages.committed, None)
    r = api.put("/model-packages/fall/0.4.0/sidecar", content="{}", headers=SERVICE)
    assert r.status_code in (409, 422)
    sidecar = json.loads((TINY / "fall-0.0.1.json").read_text()) | {
        "version": "0.4.0",
        "file": "fall-0.4.0.onnx",
    }
    r = api.put("/model-packages/fall/0.4.0/sidecar", content=json.dumps(sidecar), headers=SERVICE)
    assert r.status_code == 409
    assert "DOLBOM_MODEL_PACKAGES_DIR" in r.json()["detail"]


def test_unknown_packages_are_404(api: httpx.Client) -> None:
    assert api.get("/model-packages/fall/9.9.9", headers=SERVICE).status_code == 404
    assert api.get("/model-packages/..%2Fetc/1.0.0", headers=SERVICE).status_code == 404


def test_an_upload_may_not_shadow_a_committed_package(api: httpx.Client) -> None:
    # same name and version as the committed fall 0.0.1, other content: robots would get a
    # different model under a version they already trust
    sidecar = json.loads((TINY / "fall-0.0.1.json").read_text()) | {"created": "tampered"}
    r = api.put("/model-packages/fall/0.0.1/sidecar", content=json.dumps(sidecar), headers=SERVICE)
    assert r.status_code == 409, r.text
    assert "publish a new version" in r.json()["detail"]
    info = api.get("/model-packages/fall/0.0.1", headers=SERVICE).json()
    assert info["source"] == "committed"
