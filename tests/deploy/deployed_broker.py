"""A private Mosquitto running the committed deploy/ config (TLS lines dropped, paths and ports
replaced), with the robots' and the cloud's password files generated for a test."""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.ports import free_port, wait_listening

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
_TLS = re.compile(r"^(cafile|certfile|keyfile|tls_version|require_certificate)\b")


@dataclass(frozen=True)
class DeployedBroker:
    """Where the robots' listener and the cloud's listener are."""

    robot_port: int
    cloud_port: int
    log: Path

    def log_text(self) -> str:
        """The broker's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _passwd(path: Path, users: Mapping[str, str]) -> None:
    for user, password in users.items():
        flag = [] if path.exists() else ["-c"]
        subprocess.run(["mosquitto_passwd", "-b", *flag, str(path), user, password], check=True)


def render(tmp: Path, robot_port: int, cloud_port: int) -> str:
    """mosquitto.conf + cloud-listener.conf as a test runs them: plain TCP on loopback."""
    out: list[str] = []
    for name in ("mosquitto.conf", "cloud-listener.conf"):
        for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#") or _TLS.match(line):
                continue
            line = line.replace("listener 8883", f"listener {robot_port} 127.0.0.1")
            line = line.replace("listener 8884", f"listener {cloud_port} 127.0.0.1")
            line = line.replace("/etc/mosquitto/dolbom.passwd", str(tmp / "robots.passwd"))
            line = line.replace("/etc/mosquitto/dolbom-cloud.passwd", str(tmp / "cloud.passwd"))
            line = line.replace("/etc/mosquitto/dolbom.acl", str(DEPLOY / "dolbom.acl"))
            line = line.replace("/var/lib/mosquitto/", f"{tmp}/")
            out.append(line)
    if os.geteuid() == 0:
        out.append("user root")  # the mosquitto user can't reach the test's tmp dir
    out += [f"log_dest file {tmp / 'mosquitto.log'}", "log_type all"]
    return "\n".join(out) + "\n"


@contextmanager
def deployed_mosquitto(
    tmp: Path, robots: Mapping[str, str], cloud: Mapping[str, str]
) -> Iterator[DeployedBroker]:
    """Run the deploy config with these robot and cloud users; stop it afterwards."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail("the mosquitto binary is missing: `sudo apt-get install mosquitto`")
    tmp.mkdir(parents=True, exist_ok=True)
    _passwd(tmp / "robots.passwd", robots)
    _passwd(tmp / "cloud.passwd", cloud)
    robot_port, cloud_port = free_port(), free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(render(tmp, robot_port, cloud_port), encoding="utf-8")
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.PIPE)
    broker = DeployedBroker(robot_port, cloud_port, tmp / "mosquitto.log")
    try:
        if not (wait_listening(robot_port) and wait_listening(cloud_port)):
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the deployed config did not start: {err!r} {broker.log_text()[-2000:]}")
        yield broker
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
