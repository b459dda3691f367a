"""/model-packages: on-device model packages (.onnx + sidecar JSON) and their rollout to robots.

Packages are files, not database rows: the ones committed with the code (models/artifacts,
read-only) and the ones an admin uploaded (`DOLBOM_MODEL_PACKAGES_DIR`; uploads are off
while it is unset). A rollout sends each robot a `model_rollout` command with no URL: the
robot fetches the sidecar and the model in chunks from this API, with a package token the
cloud signed for that device, package and hour (HMAC-SHA256 with a key derived from the
auth secret), and checks the sha256 digests the command carries.
"""

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.accounts.access import Principal
from cloud.accounts.audit import audit
from cloud.accounts.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from cloud.api.context import ApiContext
from cloud.api.deps import Caller, Ctx, principal_for, roles
from cloud.errors import CloudError, both
from cloud.store.models import Device, Role
from protocol import DEVICE_ID_PATTERN, Command, CommandType
from protocol.commands import MODEL_NAME_PATTERN, SEMVER_PATTERN, ModelRolloutPayload

log = logging.getLogger(__name__)

COMMITTED_DIR = Path(__file__).resolve().parents[3] / "models" / "artifacts"
CHUNK_BYTES = 256 * 1024
MAX_MODEL_BYTES = 16 * 2**20
MAX_SIDECAR_BYTES = 512 * 1024
TOKEN_TTL_S = 3600
_TOKEN_PREFIX = "mp1"  # noqa: S105 (a format tag, not a secret)

router = APIRouter(prefix="/model-packages", tags=["model packages"])
Admins = [Depends(roles(Role.ADMIN))]
Fleet = [Depends(roles(Role.ADMIN, Role.INSTALLER))]
_NAME = re.compile(MODEL_NAME_PATTERN)
_VERSION = re.compile(SEMVER_PATTERN)
_STEM = re.compile(r"^([a-z][a-z0-9_-]*?)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")
_bearer = HTTPBearer(auto_error=False, description="A package token from a model_rollout command.")


class PackageSettings(BaseSettings):
    """Where uploaded packages live (`DOLBOM_MODEL_PACKAGES_DIR`); unset: uploads are off."""

    model_config = SettingsConfigDict(env_prefix="DOLBOM_", extra="ignore")
    model_packages_dir: Path | None = None


@dataclass(frozen=True)
class Package:
    """One package on disk."""

    name: str
    version: str
    sidecar: Path
    model: Path
    source: str  # "committed" or "uploaded"


class PackageStore:
    """Packages in the committed folder (read-only) and the uploads folder."""

    def __init__(self, committed: Path | None, uploads: Path | None) -> None:
        self.committed = committed
        self.uploads = uploads

    def _dirs(self) -> list[tuple[str, Path]]:
        out = []
        if self.uploads is not None:
            out.append(("uploaded", self.uploads))
        if self.committed is not None:
            out.append(("committed", self.committed))
        return out

    def find(self, name: str, version: str) -> Package:
        """The package NAME VERSION with both files present; NotFoundError otherwise."""
        _check(name, version)
        for source, directory in self._dirs():
            sidecar = directory / f"{name}-{version}.json"
            model = directory / f"{name}-{version}.onnx"
            if sidecar.is_file() and model.is_file():
                return Package(name, version, sidecar, model, source)
        raise NotFoundError(
            both(
                f"모델 패키지 {name} {version}이(가) 없습니다", f"no model package {name} {version}"
            )
        )

    def all(self) -> list[Package]:
        """Every complete package, uploads first."""
        seen: set[tuple[str, str]] = set()
        out = []
        for source, directory in self._dirs():
            if not directory.is_dir():
                continue
            for sidecar in sorted(directory.glob("*.json")):
                m = _STEM.fullmatch(sidecar.stem)
                if m is None:
                    continue
                name, version = m.group(1), m.group(2)
                key = (name, version)
                if key in seen or not _NAME.fullmatch(name) or not _VERSION.fullmatch(version):
                    continue
                model = sidecar.with_suffix(".onnx")
                if model.is_file():
                    seen.add(key)
                    out.append(Package(name, version, sidecar, model, source))
        return out

    def upload_dir(self) -> Path:
        """The uploads folder; ConflictError while uploads are not configured."""
        if self.uploads is None:
            raise ConflictError(
                both(
                    "모델 업로드가 꺼져 있습니다. DOLBOM_MODEL_PACKAGES_DIR를 설정하세요",
                    "model uploads are off: set DOLBOM_MODEL_PACKAGES_DIR",
                )
            )
        self.uploads.mkdir(parents=True, exist_ok=True)
        return self.uploads


def _refuse_existing(store: PackageStore, name: str, version: str) -> None:
    """A published version is immutable: an upload may neither replace nor shadow one."""
    try:
        existing = store.find(name, version)
    except NotFoundError:
        return
    raise ConflictError(
        both(
            f"{name} {version}은(는) 이미 {existing.source}에 있습니다. 새 버전으로 올리세요",
            f"{name} {version} is already {existing.source}; publish a new version",
        )
    )


def _check(name: str, version: str) -> None:
    if not _NAME.fullmatch(name):
        raise NotFoundError(
            both(f"이름이 {name!r}인 모델 패키지가 없습니다", f"no model package named {name!r}")
        )
    if not _VERSION.fullmatch(version):
        raise NotFoundError(
            both(
                f"버전이 {version!r}인 모델 패키지가 없습니다",
                f"no model package version {version!r}",
            )
        )


def get_store(request: Request) -> PackageStore:
    """The app's package store (tests set `app.state.model_packages`)."""
    store = getattr(request.app.state, "model_packages", None)
    if store is None:
        store = PackageStore(COMMITTED_DIR, PackageSettings().model_packages_dir)
        request.app.state.model_packages = store
    return store


Store = Annotated[PackageStore, Depends(get_store)]


# -- package tokens ------------------------------------------------------------------------
def _key(ctx: ApiContext) -> bytes:
    return hmac.new(ctx.auth_secret.encode(), b"dolbom model package token v1", "sha256").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_package_token(ctx: ApiContext, device_id: str, name: str, version: str) -> str:
    """A token that lets one device fetch one package for TOKEN_TTL_S."""
    claims = {
        "d": device_id,
        "n": name,
        "v": version,
        "exp": int(ctx.clock().timestamp()) + TOKEN_TTL_S,
    }
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_key(ctx), f"{_TOKEN_PREFIX}.{body}".encode(), "sha256").digest())
    return f"{_TOKEN_PREFIX}.{body}.{sig}"


def _read_package_token(ctx: ApiContext, token: str, name: str, version: str) -> str:
    """The device id a valid token names for this package; AuthError otherwise."""
    prefix, _, rest = token.partition(".")
    body, _, sig = rest.partition(".")
    if prefix != _TOKEN_PREFIX or not body or not sig:
        raise AuthError(both("인증 토큰이 올바르지 않습니다", "invalid bearer token"))
    want = hmac.new(_key(ctx), f"{prefix}.{body}".encode(), "sha256").digest()
    try:
        ok = hmac.compare_digest(want, _unb64(sig))
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise AuthError(both("인증 토큰이 올바르지 않습니다", "invalid bearer token")) from None
    if not ok or not isinstance(claims, dict):
        raise AuthError(both("인증 토큰이 올바르지 않습니다", "invalid bearer token"))
    if not isinstance(claims.get("exp"), int) or claims["exp"] < ctx.clock().timestamp():
        raise AuthError(
            both(
                "패키지 토큰이 만료되었습니다. 배포를 다시 요청하세요",
                "the package token has expired; ask for a new rollout",
            )
        )
    if claims.get("n") != name or claims.get("v") != version:
        raise ForbiddenError(
            both(
                "이 패키지 토큰은 다른 패키지의 것입니다",
                "this package token is for another package",
            )
        )
    return str(claims.get("d"))


def package_reader(
    ctx: Ctx,
    name: str,
    version: str,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Who may download: a device with this package's token, or an admin / installer."""
    if credentials is None:
        raise AuthError(
            both(
                "인증 토큰이 없습니다. 'Authorization: Bearer <토큰>' 헤더를 보내세요",
                "missing bearer token: send 'Authorization: Bearer <token>'",
            )
        )
    token = credentials.credentials
    if token.startswith(f"{_TOKEN_PREFIX}."):
        return f"device:{_read_package_token(ctx, token, name, version)}"
    principal = principal_for(ctx, token)
    if principal.role not in (Role.ADMIN, Role.INSTALLER):
        raise ForbiddenError(
            both(
                f"{principal.role.value} 역할은 이 기능을 쓸 수 없습니다",
                f"the {principal.role.value} role may not use this resource",
            )
        )
    return principal.actor


Reader = Annotated[str, Depends(package_reader)]


# -- schemas -------------------------------------------------------------------------------
class PackageOut(BaseModel):
    """A package as the API lists it."""

    name: str
    version: str
    source: str
    sha256: str
    size_bytes: int
    sidecar_sha256: str
    chunk_bytes: int
    chunks: int
    labels: list[str]
    created: str | None


class RolloutIn(BaseModel):
    """Which robots get the package."""

    model_config = ConfigDict(extra="forbid")
    device_ids: list[Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]] = Field(
        min_length=1, max_length=500
    )


class RolloutSent(BaseModel):
    """One command sent."""

    device_id: str
    command_id: str


class RolloutOut(BaseModel):
    """The commands a rollout sent (the robots answer on their command-results topic)."""

    name: str
    version: str
    sent: list[RolloutSent]


def _sidecar_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CloudError(f"model package sidecar {path.name} is unreadable: {e}") from None
    if not isinstance(raw, dict):
        raise CloudError(f"model package sidecar {path.name} is not a JSON object")
    return raw


def _describe(pkg: Package) -> PackageOut:
    raw = _sidecar_json(pkg.sidecar)
    size = pkg.model.stat().st_size
    return PackageOut(
        name=pkg.name,
        version=pkg.version,
        source=pkg.source,
        sha256=str(raw.get("sha256", "")),
        size_bytes=size,
        sidecar_sha256=hashlib.sha256(pkg.sidecar.read_bytes()).hexdigest(),
        chunk_bytes=CHUNK_BYTES,
        chunks=max(1, -(-size // CHUNK_BYTES)),
        labels=[str(x) for x in raw.get("labels", [])],
        created=str(raw["created"]) if "created" in raw else None,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidInputError(
            both(f"본문이 {limit}바이트보다 큽니다", f"the body is larger than {limit} bytes")
        )
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InvalidInputError(
                both(f"본문이 {limit}바이트보다 큽니다", f"the body is larger than {limit} bytes")
            )
    return bytes(data)


# -- routes --------------------------------------------------------------------------------
@router.get("", dependencies=Fleet)
def list_packages(store: Store) -> list[PackageOut]:
    """Every model package the cloud can roll out (uploaded and committed)."""
    return [_describe(p) for p in store.all()]


@router.get("/{name}/{version}", dependencies=Fleet)
def package_info(store: Store, name: str, version: str) -> PackageOut:
    """One package: its digests, size and chunking."""
    return _describe(store.find(name, version))


@router.get("/{name}/{version}/sidecar")
def download_sidecar(store: Store, reader: Reader, name: str, version: str) -> Response:
    """The package's sidecar JSON, byte for byte (its sha256 is in the rollout command)."""
    pkg = store.find(name, version)
    log.info("%s fetched the sidecar of %s %s", reader, name, version)
    return Response(pkg.sidecar.read_bytes(), media_type="application/json")


@router.get("/{name}/{version}/model")
def download_model(
    store: Store,
    reader: Reader,
    name: str,
    version: str,
    chunk: Annotated[int | None, Query(ge=0, le=16_384)] = None,
) -> Response:
    """The .onnx file, whole or one CHUNK_BYTES chunk (`?chunk=i`)."""
    pkg = store.find(name, version)
    size = pkg.model.stat().st_size
    if chunk is None:
        data = pkg.model.read_bytes()
    else:
        start = chunk * CHUNK_BYTES
        if start >= size:
            raise NotFoundError(
                both(
                    f"{name} {version}에 조각 {chunk}이(가) 없습니다",
                    f"{name} {version} has no chunk {chunk}",
                )
            )
        with pkg.model.open("rb") as f:
            f.seek(start)
            data = f.read(CHUNK_BYTES)
    log.info("%s fetched %s %s chunk %s", reader, name, version, "all" if chunk is None else chunk)
    return Response(data, media_type="application/octet-stream")


@router.put("/{name}/{version}/sidecar", status_code=201, dependencies=Admins)
async def upload_sidecar(
    ctx: Ctx, caller: Caller, store: Store, request: Request, name: str, version: str
) -> dict[str, str]:
    """Upload a package's sidecar first (JSON as `models/artifact.py` writes it)."""
    _check(name, version)
    data = await _body(request, MAX_SIDECAR_BYTES)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInputError(
            both(f"사이드카가 UTF-8 JSON이 아닙니다: {e}", f"the sidecar is not UTF-8 JSON: {e}")
        ) from None
    if not isinstance(raw, dict):
        raise InvalidInputError(
            both("사이드카는 JSON 객체여야 합니다", "the sidecar must be a JSON object")
        )
    if raw.get("name") != name or raw.get("version") != version:
        raise InvalidInputError(
            both(
                f"사이드카가 다른 패키지({raw.get('name')!r} {raw.get('version')!r})를 설명합니다",
                f"the sidecar describes {raw.get('name')!r} {raw.get('version')!r}",
            )
        )
    if raw.get("file") != f"{name}-{version}.onnx":
        raise InvalidInputError(
            both(
                f"사이드카의 file은 {name}-{version}.onnx여야 합니다",
                f"the sidecar's file must be {name}-{version}.onnx",
            )
        )
    if not isinstance(raw.get("sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", raw["sha256"]):
        raise InvalidInputError(
            both(
                "사이드카의 sha256은 소문자 16진수 64자리여야 합니다",
                "the sidecar's sha256 must be 64 lowercase hex digits",
            )
        )
    if not isinstance(raw.get("self_test"), dict) or not raw["self_test"]:
        raise InvalidInputError(
            both(
                "사이드카에 self_test 벡터가 있어야 합니다(로봇이 실행합니다)",
                "the sidecar needs a self_test vector (robots run it)",
            )
        )
    directory = store.upload_dir()
    _refuse_existing(store, name, version)
    _atomic_write(directory / f"{name}-{version}.json", data)
    _audit(ctx, caller, "upload", f"{name}-{version}.json")
    return {"status": "sidecar stored; upload the model next"}


@router.put("/{name}/{version}/model", status_code=201, dependencies=Admins)
async def upload_model(
    ctx: Ctx, caller: Caller, store: Store, request: Request, name: str, version: str
) -> PackageOut:
    """Upload the .onnx after its sidecar; it must match the sidecar's sha256."""
    _check(name, version)
    directory = store.upload_dir()
    sidecar = directory / f"{name}-{version}.json"
    if not sidecar.is_file():
        raise ConflictError(
            both(
                f"{name} {version}의 사이드카를 먼저 올리세요",
                f"upload the sidecar of {name} {version} first",
            )
        )
    target = directory / f"{name}-{version}.onnx"
    _refuse_existing(store, name, version)
    data = await _body(request, MAX_MODEL_BYTES)
    want = _sidecar_json(sidecar).get("sha256")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise InvalidInputError(
            both(
                f"모델의 sha256 {got[:12]}…이(가) 사이드카와 다릅니다",
                f"the model's sha256 {got[:12]}… differs from the sidecar's",
            )
        )
    _atomic_write(target, data)
    _audit(ctx, caller, "upload", target.name)
    return _describe(store.find(name, version))


@router.post("/{name}/{version}/rollouts", status_code=202, dependencies=Admins)
def roll_out(
    ctx: Ctx, caller: Caller, store: Store, name: str, version: str, body: RolloutIn
) -> RolloutOut:
    """Send each robot a `model_rollout` command; results arrive on their command-results."""
    pkg = store.find(name, version)
    info = _describe(pkg)
    if ctx.publisher is None:
        raise ConflictError(
            both(
                "API에 MQTT 발행기가 없어 명령을 보낼 수 없습니다",
                "the API has no MQTT publisher: commands cannot be sent",
            )
        )
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        for device_id in body.device_ids:
            if session.get(Device, device_id) is None:
                raise NotFoundError(
                    both(
                        f"id가 {device_id!r}인 로봇이 없습니다", f"no device with id {device_id!r}"
                    )
                )
        commands = [_command(ctx, d, info, now) for d in body.device_ids]
        for command in commands:
            audit(
                session,
                caller,
                "model_rollout",
                "device",
                now,
                resource_id=command.device_id,
                detail=f"{name} {version} ({command.command_id})",
            )
    sent = []
    for command in commands:
        try:
            ctx.publisher.publish_command(command.device_id, command)
        except CloudError as e:
            log.error("model_rollout to %s not sent: %s", command.device_id, e)
            continue
        sent.append(RolloutSent(device_id=command.device_id, command_id=command.command_id))
    return RolloutOut(name=name, version=version, sent=sent)


def _command(ctx: ApiContext, device_id: str, info: PackageOut, now: datetime) -> Command:
    try:
        payload = ModelRolloutPayload(
            name=info.name,
            version=info.version,
            sha256=info.sha256,
            size_bytes=info.size_bytes,
            sidecar_sha256=info.sidecar_sha256,
            chunk_bytes=info.chunk_bytes,
            chunks=info.chunks,
            token=issue_package_token(ctx, device_id, info.name, info.version),
        )
    except ValidationError as e:
        first = e.errors()[0]
        raise InvalidInputError(
            both(
                f"패키지 {info.name} {info.version}을(를) 배포할 수 없습니다: {first['loc']}",
                f"package {info.name} {info.version} cannot be rolled out:"
                f" {first['loc']}: {first['msg']}",
            )
        ) from None
    return Command(
        command_id=f"mr-{uuid.uuid4().hex[:24]}",
        device_id=device_id,
        ts=now,
        type=CommandType.MODEL_ROLLOUT,
        payload=payload.model_dump(mode="json"),
    )


def _audit(ctx: ApiContext, caller: Principal, action: str, what: str) -> None:
    with ctx.sessions() as session, session.begin():
        audit(session, caller, action, "model_package", ctx.clock(), resource_id=what)
