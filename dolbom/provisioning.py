"""Provision robots: broker credentials and ACL, the cloud's registry, the robot's config."""

import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url, select
from sqlalchemy.exc import SQLAlchemyError

from cloud.accounts.access import assign_device
from cloud.errors import CloudError
from cloud.store.db import make_engine, make_session_factory
from cloud.store.migrate import migrate
from cloud.store.models import Device, Senior
from protocol import ProtocolError, validate_device_id

log = logging.getLogger(__name__)

CLOUD_USER = "dolbom-cloud"
LANGUAGES = ("ko", "en")
REPO_ACL = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "dolbom.acl"
# The lines of deploy/mosquitto/dolbom.acl that pin every robot (username = device id) to its
# own topics; tests check the committed file still contains them.
DEVICE_ACL_PATTERNS = (
    "pattern write dolbom/v1/devices/%u/events",
    "pattern write dolbom/v1/devices/%u/status",
    "pattern write dolbom/v1/devices/%u/command-results",
    "pattern read dolbom/v1/devices/%u/commands",
    "pattern read dolbom/v1/devices/%u/stored",
)
_PASSWD_TIMEOUT_S = 30.0


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


def new_device_id() -> str:
    """A fresh device id, `robot-<8 hex>`."""
    return f"robot-{secrets.token_hex(4)}"


def new_password() -> str:
    """A strong random broker password (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def safe_url(database_url: str) -> str:
    """The store URL with its password hidden, for messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database url>"


# -- the Mosquitto password file -------------------------------------------------------------
def passwd_users(path: Path) -> set[str]:
    """The usernames in a Mosquitto password file (empty when it does not exist yet)."""
    if not path.exists():
        return set()
    text = path.read_text(encoding="utf-8", errors="replace")
    return {line.split(":", 1)[0] for line in text.splitlines() if ":" in line}


def mosquitto_passwd_binary() -> str:
    """Where `mosquitto_passwd` is, or a ProvisionError saying how to install it."""
    binary = shutil.which("mosquitto_passwd")
    if binary is None:
        raise ProvisionError(
            "mosquitto_passwd is not installed: `sudo apt-get install mosquitto` (it ships it)"
        )
    return binary


def set_broker_password(binary: str, path: Path, username: str, password: str) -> None:
    """Add or update `username` in the password file with `mosquitto_passwd -b` (-c creates)."""
    create = [] if path.exists() else ["-c"]
    try:
        done = subprocess.run(
            [binary, *create, "-b", str(path), username, password],
            capture_output=True,
            text=True,
            timeout=_PASSWD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProvisionError(f"mosquitto_passwd failed on {path}: {e}") from None
    if done.returncode != 0:
        # Never echo the command line: it holds the password.
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ProvisionError(
            f"mosquitto_passwd could not write {path}: "
            + (detail[0] if detail else f"exit {done.returncode}")
        )


# -- the Mosquitto ACL ------------------------------------------------------------------------
def missing_acl_lines(text: str) -> list[str]:
    """The device pattern lines an ACL file's text lacks (whitespace-insensitive)."""
    present = {" ".join(line.split()) for line in text.splitlines()}
    return [line for line in DEVICE_ACL_PATTERNS if line not in present]


def has_cloud_user(text: str) -> bool:
    """Whether the ACL grants the cloud's user anything."""
    return any(line.split() == ["user", CLOUD_USER] for line in text.splitlines())


def ensure_acl(path: Path) -> str:
    """Create the ACL from the committed one, or append the missing device patterns; say which."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if REPO_ACL.exists():
            shutil.copyfile(REPO_ACL, path)
            return f"created from {REPO_ACL.name}"
        path.write_text(
            "# dolbom broker ACL: each robot (username = device id) only on its own topics.\n"
            + "\n".join(DEVICE_ACL_PATTERNS)
            + "\n",
            encoding="utf-8",
        )
        return "created (device patterns only)"
    text = path.read_text(encoding="utf-8")
    missing = missing_acl_lines(text)
    if not missing:
        return "already has the device patterns"
    lead = "" if text.endswith("\n") or not text else "\n"
    with path.open("a", encoding="utf-8") as f:
        f.write(lead + "# dolbom: each robot only on its own topics\n" + "\n".join(missing) + "\n")
    return f"appended {len(missing)} device pattern line(s)"


# -- the robot's config -----------------------------------------------------------------------
def _toml_str(value: str) -> str:
    # A JSON string (ASCII, escaped) is a valid TOML basic string.
    return json.dumps(value)


def robot_config_toml(
    *,
    device_id: str,
    password: str,
    senior_id: str,
    language: str,
    broker_host: str,
    broker_port: int,
    tls: bool,
    ca_file: str | None,
    data_dir: str | None,
    now: datetime,
) -> str:
    """The robot's TOML config (read by `device.config.load_config`); it holds the password."""
    lines = [
        f"# dolbom robot config, written by `dolbom provision device` at {now.isoformat()}",
        f"# for senior {senior_id}. It holds the robot's broker password: keep it mode 0600.",
        f"device_id = {_toml_str(device_id)}",
        f"language = {_toml_str(language)}",
    ]
    if data_dir is not None:
        lines.append(f"data_dir = {_toml_str(data_dir)}")
    lines += [
        "",
        "[mqtt]",
        f"host = {_toml_str(broker_host)}",
        f"port = {broker_port}",
        f"username = {_toml_str(device_id)}",
        f"password = {_toml_str(password)}",
        f"tls = {'true' if tls else 'false'}",
    ]
    if ca_file is not None:
        lines.append(f"ca_file = {_toml_str(ca_file)}")
    return "\n".join(lines) + "\n"


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
                device = session.scalars(
                    select(Device).where(Device.id == device_id).with_for_update()
                ).one_or_none()
                if device is None:
                    # Not heard from yet: first/last seen are the provisioning time.
                    session.add(
                        Device(
                            id=device_id,
                            senior_id=senior_id,
                            first_seen=now,
                            last_seen=now,
                            online=False,
                        )
                    )
                    session.flush()
                    assign_device(session, device_id, senior_id, now)
                    return "registered"
                previous = device.senior_id
                device.senior_id = senior_id
                if previous != senior_id:  # events are the senior's only from now on
                    assign_device(session, device_id, senior_id, now, previous=previous)
                return "re-registered" + (f" (was senior {previous})" if previous else "")
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
        validate_device_id(device_id)
    except ProtocolError as e:
        raise ProvisionError(str(e)) from None
    if device_id == CLOUD_USER or device_id.startswith("dolbom-"):
        # "dolbom-" names the cloud's broker user and its workers' MQTT client ids
        # (dolbom-ingest-...): a robot (client id = username) must never be able to take one.
        raise ProvisionError(
            f"{device_id!r}: ids starting with 'dolbom-' are the cloud's, not a device's"
        )
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
