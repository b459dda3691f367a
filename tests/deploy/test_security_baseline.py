"""ETSI EN 303 645 baseline checks on what is committed (docs/security.md names each one).

Static and cheap: the production broker config refuses anonymous clients and speaks TLS only,
its message limit is the protocol's, no private key or password file is in the repository,
and the caregiver API listens on loopback unless told otherwise.
"""

import re
import subprocess
from pathlib import Path

from cloud.settings import CloudSettings
from protocol import MAX_MESSAGE_BYTES

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"


def _directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in CONF.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition(" ")
            out.setdefault(key, []).append(value.strip())
    return out


def test_the_broker_config_refuses_anonymous_clients_and_speaks_only_tls() -> None:
    conf = _directives()
    assert conf["allow_anonymous"] == ["false"]
    assert conf["password_file"]
    assert conf["acl_file"]
    assert all(value.split()[0] == "8883" for value in conf["listener"])  # no plain 1883
    assert conf["certfile"]
    assert conf["keyfile"]
    assert conf["tls_version"][0] in ("tlsv1.2", "tlsv1.3")


def test_the_broker_message_limit_is_the_protocols() -> None:
    assert _directives()["message_size_limit"] == [str(MAX_MESSAGE_BYTES)]


def test_no_private_key_or_password_file_is_committed() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    secret_names = [f for f in files if re.search(r"\.(key|pem|passwd|p12)$|(^|/)\.env$", f)]
    assert secret_names == []
    private = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
    hits = []
    for name in files:
        path = REPO / name
        if path.is_file() and path.stat().st_size < 2_000_000 and private.search(path.read_bytes()):
            hits.append(name)
    assert hits == []


def test_the_caregiver_api_listens_on_loopback_by_default() -> None:
    assert CloudSettings.model_fields["http_host"].default == "127.0.0.1"
