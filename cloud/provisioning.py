"""Provisioning a robot's credentials: its id and broker password, Mosquitto's password file
and ACL, its registration in the store and its TOML config. One implementation, used by the
`dolbom provision device` CLI and by the app's installer pages (issue 15)."""

import fcntl
import json
import secrets
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.access import assign_device
from cloud.errors import CloudError
from cloud.store.models import Device
from protocol import ProtocolError, validate_device_id

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


class ProvisioningError(CloudError):
    """A robot could not be provisioned; the message says what was wrong (never a password)."""


class RobotProvisioning(BaseSettings):
    """How the app provisions robots (`DOLBOM_PROVISION_*`): Mosquitto's password file (unset:
    provisioning from the app is off), its ACL, and the broker as the robots see it."""

    model_config = SettingsConfigDict(env_prefix="DOLBOM_PROVISION_", extra="ignore")

    passwd_file: Path | None = None
    acl_file: Path | None = None
    broker_host: str | None = Field(default=None, max_length=253)
    broker_port: int | None = Field(default=None, ge=1, le=65535)
    tls: bool = False
    ca_file: str | None = Field(default=None, max_length=500)  # the path on the robot

    @property
    def enabled(self) -> bool:
        """Provisioning from the app needs the password file and the broker's address."""
        return self.passwd_file is not None and bool(self.broker_host)

    @property
    def port(self) -> int:
        """The broker's port for robots: given, else 8883 with TLS, else 1883."""
        return self.broker_port or (8883 if self.tls else 1883)


def new_device_id() -> str:
    """A fresh device id, `robot-<8 hex>`."""
    return f"robot-{secrets.token_hex(4)}"


def new_password() -> str:
    """A strong random broker password (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def check_device_id(device_id: str) -> None:
    """A valid robot id that is not one of the cloud's own broker names; ProvisioningError."""
    try:
        validate_device_id(device_id)
    except ProtocolError as e:
        raise ProvisioningError(str(e)) from None
    if device_id == CLOUD_USER or device_id.startswith("dolbom-"):
        # "dolbom-" names the cloud's broker user and its workers' MQTT client ids
        # (dolbom-ingest-...): a robot (client id = username) must never be able to take one.
        raise ProvisioningError(
            f"{device_id!r}: ids starting with 'dolbom-' are the cloud's, not a device's"
        )


# -- the Mosquitto password file -------------------------------------------------------------
def passwd_users(path: Path) -> set[str]:
    """The usernames in a Mosquitto password file (empty when it does not exist yet)."""
    if not path.exists():
        return set()
    text = path.read_text(encoding="utf-8", errors="replace")
    return {line.split(":", 1)[0] for line in text.splitlines() if ":" in line}


def mosquitto_passwd_binary() -> str:
    """Where `mosquitto_passwd` is, or a ProvisioningError saying how to install it."""
    binary = shutil.which("mosquitto_passwd")
    if binary is None:
        raise ProvisioningError(
            "mosquitto_passwd is not installed: `sudo apt-get install mosquitto` (it ships it)"
        )
    return binary


def set_broker_password(binary: str, path: Path, username: str, password: str) -> None:
    """Add or update `username` in the password file with `mosquitto_passwd -b` (-c creates),
    holding an exclusive lock on `<file>.lock`: mosquitto_passwd rewrites the whole file, so
    two provisionings at once (app workers, the CLI) would otherwise lose one of the robots."""
    try:
        with open(f"{path}.lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            create = [] if path.exists() else ["-c"]
            done = subprocess.run(
                [binary, *create, "-b", str(path), username, password],
                capture_output=True,
                text=True,
                timeout=_PASSWD_TIMEOUT_S,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProvisioningError(f"mosquitto_passwd failed on {path}: {e}") from None
    if done.returncode != 0:
        # Never echo the command line: it holds the password.
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ProvisioningError(
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
    by: str = "`dolbom provision device`",
) -> str:
    """The robot's TOML config (read by `device.config.load_config`); it holds the password."""
    lines = [
        f"# dolbom robot config, written by {by} at {now.isoformat()}",
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


# -- the cloud's store ------------------------------------------------------------------------
def register_device(session: Session, device_id: str, senior_id: str, now: datetime) -> str:
    """Register the robot for the senior in the caller's transaction (a known robot is
    reassigned from now on); say which."""
    device = session.scalars(
        select(Device).where(Device.id == device_id).with_for_update()
    ).one_or_none()
    if device is None:
        # Not heard from yet: first/last seen are the provisioning time.
        session.add(
            Device(id=device_id, senior_id=senior_id, first_seen=now, last_seen=now, online=False)
        )
        session.flush()
        assign_device(session, device_id, senior_id, now)
        return "registered"
    previous = device.senior_id
    device.senior_id = senior_id
    if previous != senior_id:  # events are the senior's only from now on
        assign_device(session, device_id, senior_id, now, previous=previous)
    return "re-registered" + (f" (was senior {previous})" if previous else "")
