"""Provision robots: broker credentials and ACL, the cloud's registry, the robot's config."""

import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from cloud import provisioning as core
from cloud.errors import CloudError
from cloud.provisioning import (
    CLOUD_USER,
    LANGUAGES,
    ProvisioningError,
    ensure_acl,
    has_cloud_user,
    new_device_id,
    new_password,
    passwd_users,
    robot_config_toml,
)
from cloud.store.db import make_engine, make_session_factory
from cloud.store.migrate import migrate
from cloud.store.models import Device, Senior

log = logging.getLogger(__name__)


class ProvisionError(Exception):
    """Provisioning was refused or failed; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class DeviceRequest:
    """What `dolbom provision device` was asked to do."""

    senior_id: str
    database_url: str
    passwd_file: Path
    out: Path
    broker_host: str
    broker_port: int
    device_id: str | None = None
    acl_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    data_dir: str | None = None
    force: bool = False


@dataclass(frozen=True)
class Provisioned:
    """What provisioning did, for the CLI to report (the password only on request)."""

    device_id: str
    senior_id: str
    language: str
    password: str = field(repr=False)
    config_path: Path
    passwd_file: Path
    passwd_action: str
    acl_file: Path | None
    acl_action: str | None
    store_action: str
    notes: tuple[str, ...] = ()


def safe_url(database_url: str) -> str:
    """The store URL with its password hidden, for messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database url>"


def mosquitto_passwd_binary() -> str:
    """Where `mosquitto_passwd` is, or a ProvisionError saying how to install it."""
    try:
        return core.mosquitto_passwd_binary()
    except ProvisioningError as e:
        raise ProvisionError(str(e)) from None


def set_broker_password(binary: str, path: Path, username: str, password: str) -> None:
    """Add or update `username` in Mosquitto's password file (`cloud.provisioning`)."""
    try:
        core.set_broker_password(binary, path, username, password)
    except ProvisioningError as e:
        raise ProvisionError(str(e)) from None


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the cloud's store ------------------------------------------------------------------------
def _store_error(database_url: str, e: Exception) -> ProvisionError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ProvisionError(f"the store {safe_url(database_url)} is not usable: {first}")


def create_senior(
    database_url: str,
    senior_id: str,
    name: str,
    language: str,
    now: datetime,
    *,
    force: bool = False,
) -> str:
    """Create the senior (or, with `force`, update their name and language); say which."""
    if not senior_id.strip() or len(senior_id) > 64:
        raise ProvisionError(f"invalid senior id {senior_id!r}: 1-64 characters")
    if not name.strip() or len(name) > 100:
        raise ProvisionError("the senior's name must be 1-100 characters")
    if language not in LANGUAGES:
        raise ProvisionError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    try:
        migrate(database_url)
        engine = make_engine(database_url)
        try:
            with make_session_factory(engine)() as session, session.begin():
                senior = session.get(Senior, senior_id)
                if senior is None:
                    session.add(
                        Senior(id=senior_id, display_name=name, language=language, created_at=now)
                    )
                    return "created"
                if not force:
                    raise ProvisionError(
                        f"senior {senior_id!r} already exists; --force updates their name"
                        " and language"
                    )
                senior.display_name = name
                senior.language = language
                return "updated"
        finally:
            engine.dispose()
    except (CloudError, SQLAlchemyError) as e:
        raise _store_error(database_url, e) from None


@dataclass(frozen=True)
class _StoreView:
    language: str
    device_senior: str | None
    device_known: bool


def _read_store(database_url: str, senior_id: str, device_id: str) -> _StoreView:
    try:
        migrate(database_url)
        engine = make_engine(database_url)
        try:
            with make_session_factory(engine)() as session:
                senior = session.get(Senior, senior_id)
                if senior is None:
                    raise ProvisionError(
                        f"no senior {senior_id!r} in the store {safe_url(database_url)}:"
                        f" create them first with `dolbom provision senior --id {senior_id}"
                        " --name NAME`"
                    )
                device = session.get(Device, device_id)
                language = senior.language if senior.language in LANGUAGES else "ko"
                return _StoreView(
                    language, device.senior_id if device else None, device is not None
                )
        finally:
            engine.dispose()
    except (CloudError, SQLAlchemyError) as e:
        raise _store_error(database_url, e) from None


def _register_device(database_url: str, device_id: str, senior_id: str, now: datetime) -> str:
    try:
        engine = make_engine(database_url)
        try:
            with make_session_factory(engine)() as session, session.begin():
                return core.register_device(session, device_id, senior_id, now)
        finally:
            engine.dispose()
    except (CloudError, SQLAlchemyError) as e:
        raise _store_error(database_url, e) from None


# -- the whole step ---------------------------------------------------------------------------
def provision_device(request: DeviceRequest, now: datetime | None = None) -> Provisioned:
    """Check everything first, then register the device, set its password, the ACL, the config."""
    now = now or datetime.now(UTC)
    r = request
    device_id = r.device_id or new_device_id()
    try:
        core.check_device_id(device_id)
    except ProvisioningError as e:
        raise ProvisionError(str(e)) from None
    if not 1 <= r.broker_port <= 65535:
        raise ProvisionError(f"invalid broker port {r.broker_port}")
    if r.ca_file is not None and not r.tls:
        raise ProvisionError("--ca-file needs --tls")
    ca_file: str | None = None
    notes: list[str] = []
    if r.ca_file is not None:
        # An absolute path is the robot's; a relative one must be a file here.
        if not r.ca_file.is_absolute() and not r.ca_file.is_file():
            raise ProvisionError(f"CA file {r.ca_file} does not exist (or give the robot's path)")
        if not r.ca_file.is_file():
            notes.append(f"{r.ca_file} is not on this machine: install it there on the robot")
        ca_file = str(r.ca_file if r.ca_file.is_absolute() else r.ca_file.resolve())
    binary = mosquitto_passwd_binary()
    if not r.passwd_file.parent.is_dir():
        raise ProvisionError(f"folder {r.passwd_file.parent} for the password file does not exist")
    if r.out.exists() and not r.force:
        raise ProvisionError(f"config {r.out} already exists; --force overwrites it")
    view = _read_store(r.database_url, r.senior_id, device_id)
    in_passwd = device_id in passwd_users(r.passwd_file)
    if (view.device_known or in_passwd) and not r.force:
        where = " and ".join(
            w
            for w, hit in (("the store", view.device_known), (str(r.passwd_file), in_passwd))
            if hit
        )
        raise ProvisionError(
            f"device {device_id!r} is already provisioned (in {where}); --force gives it a new"
            " password and config"
        )

    password = new_password()
    store_action = _register_device(r.database_url, device_id, r.senior_id, now)
    set_broker_password(binary, r.passwd_file, device_id, password)
    acl_action = ensure_acl(r.acl_file) if r.acl_file is not None else None
    if r.acl_file is not None and not has_cloud_user(r.acl_file.read_text(encoding="utf-8")):
        notes.append(f"{r.acl_file} has no `user {CLOUD_USER}` block: the cloud can't read events")
    write_private(
        r.out,
        robot_config_toml(
            device_id=device_id,
            password=password,
            senior_id=r.senior_id,
            language=view.language,
            broker_host=r.broker_host,
            broker_port=r.broker_port,
            tls=r.tls,
            ca_file=ca_file,
            data_dir=r.data_dir,
            now=now,
        ),
    )
    log.info("provisioned %s for senior %s", device_id, r.senior_id)
    return Provisioned(
        device_id=device_id,
        senior_id=r.senior_id,
        language=view.language,
        password=password,
        config_path=r.out,
        passwd_file=r.passwd_file,
        passwd_action="updated" if in_passwd else "added",
        acl_file=r.acl_file,
        acl_action=acl_action,
        store_action=store_action,
        notes=tuple(notes),
    )
