"""Over-the-air model rollout: fetch from the cloud's API, check, swap atomically, roll back.

Installed models live in `<data_dir>/models/` beside `active.json`, which names the version
in use for each model and the one before it. A rollout (on the link's thread, never the
agent's loop):

1. validates the `model_rollout` payload (protocol.commands.ModelRolloutPayload);
2. downloads the sidecar and the model in chunks from the configured cloud
   (`perception.cloud_url`; the command carries no URL, only a package token), checking the
   size as it goes and both sha256 digests at the end;
3. writes both files (temp file, fsync, rename; earlier versions stay on disk);
4. loads the new model and runs its committed self-test vector;
5. switches `active.json` atomically, reloads from disk and self-tests again — if that fails
   it switches back to the previous version (automatic rollback).

The caller turns the outcome into the command's `command-result`.
"""

import hashlib
import ipaddress
import json
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from device.errors import DeviceError
from device.perception.loader import Expect, ModelLoadError, OnnxModel, find_sidecar, load
from protocol.commands import ModelRolloutPayload

log = logging.getLogger(__name__)

ACTIVE = "active.json"
_ACTIVE_LOCK = threading.Lock()  # the motion and mood stages each own a store over one file
MAX_RESPONSE_BYTES = 4 * 2**20 + 4096  # the largest chunk a rollout payload may announce


class RolloutError(DeviceError):
    """A rollout failed; the model that was running keeps running."""


class RolloutPayloadError(RolloutError):
    """The `model_rollout` command's payload is malformed."""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder: old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ModelStore:
    """Shipped models (read-only) plus models installed by rollouts, with the active versions."""

    def __init__(self, install_dir: Path, shipped_dir: Path, threads: int = 1) -> None:
        self.install_dir = install_dir
        self.shipped_dir = shipped_dir
        self.threads = threads

    def active(self) -> dict[str, dict[str, str | None]]:
        """`{name: {"version": ..., "previous": ...}}` from active.json (empty when absent)."""
        path = self.install_dir / ACTIVE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            log.error("ignoring unreadable %s: %s", path, e)
            return {}
        if not isinstance(raw, dict):
            return {}
        return {str(k): dict(v) for k, v in raw.items() if isinstance(v, dict)}

    def sidecar(self, name: str) -> Path:
        """The sidecar in use for `name`: the active installed version, else the shipped one."""
        entry = self.active().get(name)
        version = entry.get("version") if entry else None
        if version:
            path = self.install_dir / f"{name}-{version}.json"
            if path.is_file():
                return path
            log.error(
                "active %s %s is missing from %s; using the shipped model",
                name,
                version,
                self.install_dir,
            )
        return find_sidecar(self.shipped_dir, name)

    def load(self, name: str, expect: Expect | None = None) -> OnnxModel:
        """The model in use for `name`, checked and self-tested."""
        return load(self.sidecar(name), threads=self.threads, expect=expect)

    def install(self, name: str, version: str, model: bytes, sidecar: bytes) -> Path:
        """Write a package beside the others (not yet active); return its sidecar path."""
        onnx_path = self.install_dir / f"{name}-{version}.onnx"
        sidecar_path = self.install_dir / f"{name}-{version}.json"
        atomic_write(onnx_path, model)
        atomic_write(sidecar_path, sidecar)
        return sidecar_path

    def remove(self, name: str, version: str) -> None:
        """Delete an installed package that never became active."""
        for suffix in ("onnx", "json"):
            (self.install_dir / f"{name}-{version}.{suffix}").unlink(missing_ok=True)

    def set_active(self, name: str, version: str | None, previous: str | None) -> None:
        """Switch `name` to `version` (None: back to the shipped model), remembering `previous`."""
        with _ACTIVE_LOCK:  # read-modify-write; every stage's store shares the one file
            table = self.active()
            if version is None:
                table.pop(name, None)
            else:
                table[name] = {"version": version, "previous": previous}
            atomic_write(self.install_dir / ACTIVE, (json.dumps(table, indent=2) + "\n").encode())

    def current_version(self, name: str) -> str | None:
        """The installed version in use, None for the shipped model."""
        entry = self.active().get(name)
        version = entry.get("version") if entry else None
        return str(version) if version else None


class Fetcher(Protocol):
    """Gets one path of the cloud's API with the package token."""

    def get(self, path: str, token: str, params: Mapping[str, int] | None = None) -> bytes:
        """The response body; RolloutError for anything but 200."""

    def close(self) -> None:
        """Release the connection."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpFetcher:
    """The real fetcher: httpx to the configured cloud, TLS verified against its CA."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_file: str | None = None,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        parts = urlsplit(base_url)
        if not parts.hostname or parts.scheme not in ("https", "http"):
            raise RolloutError(
                f"perception.cloud_url must be https://host[:port], not {base_url!r}"
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise RolloutError(
                f"perception.cloud_url {base_url!r}: use https:// (plain http:// only for a"
                " cloud on this machine, 127.0.0.1 or ::1)"
            )
        self.max_response_bytes = max_response_bytes
        self._owned = client is None
        if client is None:
            verify: ssl.SSLContext | bool = True
            if ca_file:
                try:
                    verify = ssl.create_default_context(cafile=ca_file)
                except (OSError, ssl.SSLError) as e:
                    raise RolloutError(
                        f"perception.cloud_ca_file: cannot read the CA file {ca_file!r}: {e}"
                    ) from None
            client = httpx.Client(
                base_url=base_url.rstrip("/"),
                verify=verify,
                timeout=timeout_s,
                follow_redirects=False,
                trust_env=False,
            )
        self._client = client

    def get(self, path: str, token: str, params: Mapping[str, int] | None = None) -> bytes:
        """GET with the bearer token; RolloutError with the cloud's reason on failure.

        The body is read as it streams and cut off past `max_response_bytes`, whatever the
        server's Content-Length says.
        """
        limit = self.max_response_bytes
        try:
            with self._client.stream(
                "GET",
                path,
                params=dict(params or {}),
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                body = bytearray()
                for part in resp.iter_bytes():
                    body += part
                    if len(body) > limit:
                        raise RolloutError(
                            f"the cloud sent more than {limit} bytes for {path}: abandoned"
                        )
        except httpx.HTTPError as e:
            raise RolloutError(f"cannot reach the cloud for {path}: {e}") from None
        if resp.status_code != 200:
            try:
                reason = str(json.loads(bytes(body)).get("detail", ""))
            except (ValueError, AttributeError):
                reason = bytes(body[:100]).decode("utf-8", "replace")
            raise RolloutError(f"the cloud answered {resp.status_code} for {path}: {reason}")
        return bytes(body)

    def close(self) -> None:
        """Close the client this fetcher opened."""
        if self._owned:
            self._client.close()


def parse_payload(payload: Mapping[str, Any]) -> ModelRolloutPayload:
    """The typed rollout payload, or RolloutPayloadError naming the bad field."""
    try:
        return ModelRolloutPayload.model_validate(dict(payload))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise RolloutPayloadError(f"model_rollout payload {where}: {first['msg']}") from None


class Rollout:
    """Runs `model_rollout` commands for the models one stage owns."""

    def __init__(
        self,
        store: ModelStore,
        expects: Mapping[str, Expect],
        *,
        cloud_url: str | None,
        ca_file: str | None = None,
        timeout_s: float = 30.0,
        max_bytes: int = 8_000_000,
        fetcher_factory: Callable[[], Fetcher] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.expects = dict(expects)
        self.max_bytes = max_bytes
        self._cloud_url = cloud_url
        self._ca_file = ca_file
        self._timeout_s = timeout_s
        self._fetcher_factory = fetcher_factory
        self._monotonic = monotonic

    def _fetcher(self) -> Fetcher:
        if self._fetcher_factory is not None:
            return self._fetcher_factory()
        if not self._cloud_url:
            raise RolloutError(
                "no [perception] cloud_url is configured: this robot cannot fetch models"
            )
        return HttpFetcher(self._cloud_url, ca_file=self._ca_file, timeout_s=self._timeout_s)

    def run(self, raw_payload: Mapping[str, Any]) -> tuple[str, OnnxModel, str]:
        """Fetch, check, install, activate; return (name, the new model, a result detail)."""
        p = parse_payload(raw_payload)
        if p.name not in self.expects:
            raise RolloutPayloadError(f"this stage does not run a model named {p.name!r}")
        if p.size_bytes > self.max_bytes:
            raise RolloutError(
                f"{p.name} {p.version} is {p.size_bytes} bytes, over this robot's {self.max_bytes}"
            )
        if p.chunks != -(-p.size_bytes // p.chunk_bytes):
            raise RolloutPayloadError(
                "model_rollout payload: chunks does not fit size_bytes / chunk_bytes"
            )
        previous = self.store.current_version(p.name)
        if previous == p.version:
            raise RolloutError(f"{p.name} {p.version} is already active")
        fetcher = self._fetcher()
        try:
            sidecar, model = self._download(fetcher, p)
        finally:
            fetcher.close()
        try:
            path = self.store.install(p.name, p.version, model, sidecar)
        except OSError as e:
            self.store.remove(p.name, p.version)
            raise RolloutError(
                f"{p.name} {p.version} could not be written, {previous or 'shipped'} kept: {e}"
            ) from None
        expect = self.expects[p.name]
        try:
            candidate = load(path, threads=self.store.threads, expect=expect)
        except ModelLoadError as e:
            self.store.remove(p.name, p.version)
            raise RolloutError(
                f"{p.name} {p.version} rejected, {previous or 'shipped'} kept: {e}"
            ) from None
        if candidate.info.name != p.name or candidate.info.version != p.version:
            self.store.remove(p.name, p.version)
            raise RolloutError(
                f"{p.name} {p.version}: the sidecar describes"
                f" {candidate.info.name} {candidate.info.version}"
            )
        before = self.store.active().get(p.name) or {}
        try:
            self.store.set_active(p.name, p.version, previous)
        except OSError as e:  # active.json is replaced atomically: the old one still holds
            self.store.remove(p.name, p.version)
            raise RolloutError(
                f"{p.name} {p.version} could not be activated, {previous or 'shipped'} kept: {e}"
            ) from None
        try:  # what the robot will load after a restart must work too
            active = self.store.load(p.name, expect)
        except ModelLoadError as e:
            self.store.set_active(p.name, previous, before.get("previous"))
            self.store.remove(p.name, p.version)
            raise RolloutError(
                f"{p.name} {p.version} failed after the swap and was rolled back to"
                f" {previous or 'shipped'}: {e}"
            ) from None
        log.info("model %s %s active (previous: %s)", p.name, p.version, previous or "shipped")
        return (
            p.name,
            active,
            f"{p.name} {p.version} active (sha256 {p.sha256[:12]}…, self-test ok);"
            f" previous {previous or 'shipped'} kept",
        )

    def _download(self, fetcher: Fetcher, p: ModelRolloutPayload) -> tuple[bytes, bytes]:
        """The sidecar and the model, size- and sha256-checked."""
        base = f"/model-packages/{p.name}/{p.version}"
        deadline = self._monotonic() + self._timeout_s
        sidecar = fetcher.get(f"{base}/sidecar", p.token)
        if hashlib.sha256(sidecar).hexdigest() != p.sidecar_sha256:
            raise RolloutError(
                f"{p.name} {p.version}: the sidecar's sha256 differs from the command's"
            )
        model = bytearray()
        for i in range(p.chunks):
            if self._monotonic() > deadline:
                raise RolloutError(
                    f"{p.name} {p.version}: the download took longer than {self._timeout_s:g} s"
                )
            chunk = fetcher.get(f"{base}/model", p.token, {"chunk": i})
            model += chunk
            if len(model) > p.size_bytes:
                raise RolloutError(
                    f"{p.name} {p.version}: the download is larger than {p.size_bytes} bytes"
                )
        if len(model) != p.size_bytes:
            raise RolloutError(
                f"{p.name} {p.version}: got {len(model)} bytes, expected {p.size_bytes}"
            )
        digest = hashlib.sha256(model).hexdigest()
        if digest != p.sha256:
            raise RolloutError(
                f"{p.name} {p.version}: sha256 {digest[:12]}… differs from the command's"
            )
        return sidecar, bytes(model)
