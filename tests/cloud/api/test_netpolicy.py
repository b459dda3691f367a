"""cloud.netpolicy without the app: who the client is, which webhook addresses are internal."""

import ipaddress

import pytest

from cloud.netpolicy import (
    BlockedAddressError,
    check_webhook_url,
    client_address,
    forbidden_reason,
    parse_networks,
)
from cloud.settings import CloudSettings

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # untrusted peer: header ignored
        ("10.0.0.2", None, "10.0.0.2"),  # trusted proxy, no header: the proxy itself
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, 10.9.9.9", "198.51.100.7"),  # two proxies deep
        ("10.0.0.2", "198.51.100.7, not-an-ip", "10.0.0.2"),  # garbage: stop at the proxy
        ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),  # IPv4-mapped peer
        (None, "1.2.3.4", "unknown"),
    ],
)
def test_client_address(peer: str | None, xff: str | None, client: str) -> None:
    assert client_address(peer, xff, PROXIES) == client


def test_public_addresses_pass_and_internal_ones_say_why() -> None:
    assert forbidden_reason(ipaddress.ip_address("93.184.215.14")) is None
    assert forbidden_reason(ipaddress.ip_address("2606:4700::1111")) is None
    assert forbidden_reason(ipaddress.ip_address("169.254.169.254")) == (
        "a cloud metadata or link-local address"
    )
    assert forbidden_reason(ipaddress.ip_address("127.0.0.1")) == "a loopback address"


def test_every_resolved_address_must_pass() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.1"]  # one public, one internal

    with pytest.raises(BlockedAddressError, match="private"):
        check_webhook_url("https://hooks.example.org/", (), resolve)
    check_webhook_url("https://hooks.example.org/", parse_networks(["10.0.0.0/24"]), resolve)
    with pytest.raises(BlockedAddressError, match="http"):
        check_webhook_url("ftp://hooks.example.org/", (), resolve)


def test_network_settings_are_validated() -> None:
    settings = CloudSettings(trusted_proxies="10.0.0.0/8, 192.168.1.1")  # type: ignore[arg-type]
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.168.1.1"]
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        CloudSettings(webhook_allow_networks="not-a-network")  # type: ignore[arg-type]
