"""Mosquitto for tests: the machine's shared broker on 1883, or a private one on its own port."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.ports import free_port, is_listening, wait_listening

SYSTEM_HOST = "127.0.0.1"
SYSTEM_PORT = 1883
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def system_mosquitto_port() -> int:
    """The shared Mosquitto's port; fail (never skip) the test with how to start it if it's down."""
    if not is_listening(SYSTEM_PORT, SYSTEM_HOST):
        pytest.fail(
            f"Mosquitto is not listening on {SYSTEM_HOST}:{SYSTEM_PORT}: "
            "start it with `sudo systemctl start mosquitto` (or `mosquitto -d -p 1883`)",
            pytrace=False,
        )
    return SYSTEM_PORT


@contextmanager
def private_mosquitto(conf_extra: str = "", port: int | None = None) -> Iterator[int]:
    """Run `mosquitto -c conf` on 127.0.0.1 (anonymous, no persistence); yield its port.

    Pass the same `port` again to restart a broker where devices expect it. `conf_extra` is
    appended to the generated config (TLS listeners, ACL files, `persistence true` with a
    `persistence_location`, ...). Under root the broker keeps running as root (`user root`)
    so it can read and write the test's temporary files.
    """
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail(
            "the mosquitto binary is missing: `sudo apt-get install mosquitto`", pytrace=False
        )
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="dolbom-mosquitto-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        log_file = Path(tmp) / "mosquitto.log"
        conf.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            + ("" if "persistence" in conf_extra else "persistence false\n")
            # as root mosquitto would switch to the `mosquitto` user, who can't reach tmp dirs
            + ("user root\n" if os.geteuid() == 0 and "user " not in conf_extra else "")
            + f"log_dest file {log_file}\n"
            "log_type all\n" + conf_extra + "\n",
            encoding="utf-8",
        )
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            if not wait_listening(port, _START_TIMEOUT_S):
                proc.kill()
                _, err = proc.communicate(timeout=_STOP_TIMEOUT_S)
                log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
                pytest.fail(
                    f"private mosquitto did not listen on 127.0.0.1:{port}: "
                    f"{err.decode(errors='replace')}{log_text[-2000:]}",
                    pytrace=False,
                )
            yield port
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(_STOP_TIMEOUT_S)
            if proc.stderr is not None:
                proc.stderr.close()
