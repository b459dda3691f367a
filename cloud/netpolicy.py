"""Network policy: which peer is the client (trusted proxies), where a webhook may go (SSRF).

A webhook URL is checked when it is registered AND before every delivery (DNS can change in
between: rebinding), and every address the host resolves to must be public unless it falls
in an admin's allow-list (`DOLBOM_WEBHOOK_ALLOW_NETWORKS`).
"""

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from cloud.errors import both

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

# Cloud metadata endpoints that are not all covered by "private"/"link-local".
_METADATA = (
    ipaddress.ip_network("169.254.0.0/16"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS IPv6
)


class BlockedAddressError(ValueError):
    """A URL whose host is (or resolves to) an address webhooks may not reach."""


def parse_networks(items: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) as networks; ValueError on a bad one."""
    return tuple(ipaddress.ip_network(i.strip(), strict=False) for i in items if i.strip())


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    """True when `address` (an IPv4-mapped IPv6 address as its IPv4 form) is in a network."""
    plain = _plain(address)
    return any(plain.version == n.version and plain in n for n in networks)


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a webhook may not reach `address` by default, or None for a public address."""
    a = _plain(address)
    if in_networks(a, _METADATA):
        return "a cloud metadata or link-local address"
    checks = (
        ("loopback", a.is_loopback),
        ("unspecified", a.is_unspecified),
        ("link-local", a.is_link_local),
        ("multicast", a.is_multicast),
        ("private", a.is_private),
        ("reserved", a.is_reserved),
        ("not globally routable", not a.is_global),
    )
    return next((f"a {name} address" for name, bad in checks if bad), None)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (getaddrinfo); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _internal(reason: str, what: str) -> str:
    return both(
        f"웹훅이 내부 주소({what})로 향합니다. 관리자가 DOLBOM_WEBHOOK_ALLOW_NETWORKS로 허용할 수"
        " 있습니다",
        f"the webhook host resolves to {reason} ({what}); an admin can allow it with"
        " DOLBOM_WEBHOOK_ALLOW_NETWORKS",
    )


def check_webhook_url(
    url: str,
    allow: Sequence[IPNetwork] = (),
    resolve: Resolver = system_resolver,
    *,
    allow_unresolved: bool = False,
) -> None:
    """BlockedAddressError unless every address the URL's host resolves to may be reached.

    `allow_unresolved`: a host that does not resolve (now) passes; used at registration, where
    the delivery-time check still guards every POST.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise BlockedAddressError(
            both("웹훅 주소는 http(s) URL이어야 합니다", "a webhook needs an http(s) URL")
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedAddressError(
            both("웹훅 포트가 잘못되었습니다", "the webhook URL's port is invalid")
        ) from None
    name = host.lower().rstrip(".")
    if (name == "localhost" or name.endswith(".localhost")) and not allow:
        raise BlockedAddressError(_internal("a loopback name", host))
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = []
        for text in resolve(host, port):
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                continue
        if not addresses and allow_unresolved:
            return
        if not addresses:
            raise BlockedAddressError(
                both(
                    f"웹훅 호스트 {host!r}의 주소를 찾을 수 없습니다",
                    f"the webhook host {host!r} does not resolve",
                )
            ) from None
    for address in addresses:
        reason = forbidden_reason(address)
        if reason is not None and not in_networks(address, allow):
            raise BlockedAddressError(_internal(reason, str(address)))


def webhook_url_check(
    allow: Iterable[str], resolve: Resolver = system_resolver
) -> Callable[[str], None]:
    """`check_webhook_url` with the admin's allow-list bound (for the dispatcher)."""
    networks = parse_networks(allow)

    def check(url: str) -> None:
        check_webhook_url(url, networks, resolve)

    return check


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries further left are written
    by the client and can be forged)."""
    if peer is None:
        return "unknown"
    try:
        peer_ip = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:64]
    if not trusted or not in_networks(peer_ip, trusted) or not forwarded_for:
        return str(_plain(peer_ip))
    hops = [h.strip() for h in forwarded_for.split(",")[:32] if h.strip()]
    client = _plain(peer_ip)
    for hop in reversed(hops):
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage from an untrusted hop: stop at the last address we could trust
        client = _plain(ip)
        if not in_networks(ip, trusted):
            break
    return str(client)
