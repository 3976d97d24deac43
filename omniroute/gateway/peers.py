"""Who is on the other end of a request: the client's real address behind
trusted reverse proxies, whether it arrived over TLS, whether it is a local
caller, and whether an address list lets it in.

The client API and the management side both decide on these, so both ask
here. ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when
the peer itself is one of the ``trusted-proxies``; from anyone else they are
just text the client wrote.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from omniroute.config.options import IPNetwork, Options
from omniroute.errors import Forbidden
from omniroute.http.message import Request

# Headers a reverse proxy adds; any of them means the request was relayed.
_FORWARDING = ("x-forwarded-for", "forwarded", "x-real-ip")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def peer_address(request: Request) -> str:
    return request.client[0] if request.client else ""


def client_address(request: Request, options: Options) -> str:
    """The client's address: the peer's, or, when the peer is a trusted
    reverse proxy, the nearest address in X-Forwarded-For that is not one."""
    peer = peer_address(request)
    if not in_networks(peer, options.trusted_proxies):
        return peer
    chain = [a.strip() for h in request.headers.get_all("x-forwarded-for") for a in h.split(",")]
    for address in reversed([a for a in chain if a]):
        if not in_networks(address, options.trusted_proxies):
            return address
    return peer


def arrived_over_tls(request: Request, options: Options) -> bool:
    """Whether the client used https: only a trusted proxy can say so (the
    gateway itself speaks plain HTTP)."""
    proto = (request.headers.get("x-forwarded-proto") or "").strip().lower()
    return proto == "https" and in_networks(peer_address(request), options.trusted_proxies)


def local_caller(request: Request, options: Options) -> bool:
    """A program on this machine talking to the gateway directly. Behind a
    reverse proxy on the same machine every peer is loopback, so a request
    from a trusted proxy, or one carrying forwarding headers at all, is not
    a local caller whatever its peer address."""
    peer = peer_address(request)
    if not is_loopback(peer) or in_networks(peer, options.trusted_proxies):
        return False
    return not any(name in request.headers for name in _FORWARDING)


def ip(address: str) -> IPAddress | None:
    """The address as an IP (an IPv4-mapped IPv6 address as its IPv4), or None."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def is_loopback(address: str) -> bool:
    found = ip(address)
    return found is not None and found.is_loopback


def in_networks(address: str, networks: Sequence[IPNetwork]) -> bool:
    if not networks:
        return False
    found = ip(address)
    return found is not None and any(found in network for network in networks)


def check_address(
    address: str, allow: Sequence[IPNetwork], deny: Sequence[IPNetwork], what: str
) -> None:
    """Forbidden unless ``address`` may use ``what``: a denied address never
    may; with an allow list, only an address on it may (one that is not an
    IP address at all is then refused too)."""
    if in_networks(address, deny) or (allow and not in_networks(address, allow)):
        raise Forbidden(f"Your address may not use {what}.")
