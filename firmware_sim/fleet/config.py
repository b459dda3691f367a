"""What a fleet run does: how many robots, how often they report, which ones drop and when."""

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from protocol import ProtocolError, validate_device_id

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
MAX_DEVICES = 100_000
_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


class FleetError(Exception):
    """The fleet cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where the fleet connects: a loopback host and port (load generators stay on this host)."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """mqtt://host:port, with IPv6 hosts in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """`mqtt://host[:port]` on a loopback address (127.0.0.0/8, ::1 or localhost), or FleetError."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme != "mqtt":
        raise FleetError(f"--broker {url!r}: use mqtt://host:port (TLS is not simulated)")
    host = parts.hostname
    if not host:
        raise FleetError(f"--broker {url!r}: no host")
    try:
        port = parts.port or 1883
    except ValueError:
        raise FleetError(f"--broker {url!r}: the port must be a number in 1-65535") from None
    if not _is_loopback(host):
        raise FleetError(
            f"--broker {url!r}: the fleet simulator is a load generator and only talks to this"
            " machine (127.0.0.1, ::1 or localhost)"
        )
    return BrokerAddress("127.0.0.1" if host == "localhost" else host, port)


def check_api_url(url: str) -> str:
    """`http(s)://host[:port]` on a loopback address (as the broker), or FleetError.

    The observer sends an admin token there: it must not leave this machine.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FleetError(f"--api {url!r}: use http://host:port (for example http://127.0.0.1:8000)")
    if not _is_loopback(parts.hostname):
        raise FleetError(
            f"--api {url!r}: the fleet simulator is a load generator and only talks to this"
            " machine (127.0.0.1, ::1 or localhost)"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FleetConfig:
    """One run. Times in seconds; shares in [0, 1]; the plan is a pure function of the seed."""

    devices: int = 100
    rate_hz: float = 0.1  # events per device per second: 0.1 is one every 10 s
    duration_s: float = 60.0
    broker: BrokerAddress = BrokerAddress("127.0.0.1", 1883)
    prefix: str = "fleet"
    seed: int = 0
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    offline_share: float = 0.05  # drop at offline_at, come back at return_at, drain the backlog
    offline_at: float = 0.2  # as a share of duration_s
    return_at: float = 0.6
    storm_share: float = 0.1  # drop at once at storm_at and reconnect at once storm_down_s later
    storm_at: float = 0.4
    storm_down_s: float = 1.0
    keepalive_s: int = 60
    max_inflight: int = 16  # per device, as the robot's link
    connect_concurrency: int = 256  # handshakes (TCP connect to CONNACK) in progress at once
    connect_timeout_s: float = 10.0  # one attempt: TCP connect, then CONNECT to CONNACK
    connect_phase_s: float = 120.0  # the run starts when all are connected or after this
    drain_timeout_s: float = 30.0  # after duration_s: wait this long for the last PUBACKs

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise FleetError(what)

        need(1 <= self.devices <= MAX_DEVICES, f"--devices must be 1-{MAX_DEVICES}")
        need(0 < self.rate_hz <= 100, "--rate must be > 0 and at most 100 events/s per device")
        need(0 < self.duration_s <= 7 * 86400, "--duration must be > 0 s and at most a week")
        need(
            bool(_PREFIX_RE.match(self.prefix)),
            f"--prefix {self.prefix!r}: 1-41 lowercase letters, digits, '-' or '_'",
        )
        for name in ("offline_share", "storm_share", "offline_at", "return_at", "storm_at"):
            value = getattr(self, name)
            need(0.0 <= value <= 1.0, f"{name.replace('_', '-')} must be in [0, 1], got {value}")
        need(self.offline_at < self.return_at, "offline_at must come before return_at")
        need(self.storm_down_s >= 0, "storm_down_s must be >= 0")
        need(self.mqtt_protocol in ("5", "3.1.1"), "--mqtt-protocol must be 5 or 3.1.1")
        need(self.keepalive_s >= 15, "keepalive must be at least 15 s")
        need(1 <= self.max_inflight <= 1000, "max_inflight must be 1-1000")
        need(self.connect_concurrency >= 1, "connect_concurrency must be >= 1")
        try:
            validate_device_id(self.device_id(self.devices - 1))
        except ProtocolError as e:
            raise FleetError(str(e)) from None

    def device_id(self, index: int) -> str:
        """The id (also MQTT client id and username) of device `index`: prefix-000042."""
        width = max(6, len(str(self.devices - 1)))
        return f"{self.prefix}-{index:0{width}d}"

    @property
    def period_s(self) -> float:
        """Seconds between one device's events."""
        return 1.0 / self.rate_hz
