"""A second MQTT 5 broker for the suite: rumqttd (Rust), shipped compiled in the `iotcore` wheel.

The cloud must depend on nothing Mosquitto-specific (issue 16). rumqttd is an independent MQTT 5
implementation with shared subscriptions, persistent sessions, QoS 1, retained messages and
wills; the link and ingest tests run against it as well as against Mosquitto.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.ports import free_port

_START_TIMEOUT_S = 10.0
# Mosquitto's default allows any size; the ingest tests send poison messages up to 200 kB.
_MAX_PAYLOAD_BYTES = 1024 * 1024
_MAX_INFLIGHT = 10_000


def rumqttd_config(port: int) -> str:
    """rumqttd's TOML: one MQTT 5 listener on 127.0.0.1 and no authentication (as the tests'
    Mosquitto)."""
    return f"""\
id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v5.1]
name = "v5-1"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = {_MAX_PAYLOAD_BYTES}
    max_inflight_count = {_MAX_INFLIGHT}
    dynamic_filters = true
"""


@contextmanager
def private_rumqttd() -> Iterator[int]:
    """Run rumqttd (iotcore's child process) on a free 127.0.0.1 port; yield the port."""
    try:
        from iotcore import Broker
    except ImportError:
        pytest.fail(
            "iotcore (rumqttd) is missing: `make venv` installs the dev extras", pytrace=False
        )
    with tempfile.TemporaryDirectory(prefix="dolbom-rumqttd-") as tmp:
        port = free_port()
        conf = Path(tmp) / "rumqttd.toml"
        conf.write_text(rumqttd_config(port), encoding="utf-8")
        broker = Broker(config_path=str(conf))
        try:
            broker.start(timeout=_START_TIMEOUT_S)
        except (OSError, RuntimeError) as e:
            pytest.fail(f"rumqttd did not listen on 127.0.0.1:{port}: {e}", pytrace=False)
        try:
            yield port
        finally:
            broker.stop()
