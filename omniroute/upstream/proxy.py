"""Outbound proxy routes: parse a proxy URL once, open tunnels through it.

Supported URL schemes (curl's conventions for where names are resolved):

    socks5://   SOCKS5 (RFC 1928), destination name resolved locally
    socks5h://  SOCKS5, destination name resolved by the proxy
    socks4://   SOCKS4, destination name resolved locally (IPv4 only)
    socks4a://  SOCKS4a, destination name resolved by the proxy
    http://     HTTP CONNECT tunnel (RFC 9110 section 9.3.6)

Credentials come from the URL's userinfo (``user:pass@``, percent-decoded):
SOCKS5 username/password (RFC 1929), SOCKS4 user id, or HTTP Basic
``Proxy-Authorization``. Every destination, plain http included, is reached
through a tunnel, so one code path serves all schemes.

The password never leaves this object: ``label`` and ``repr`` omit it, and
error text is written here rather than passed through.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from omniroute.errors import UpstreamConnectError

# scheme -> (python-socks ProxyType member, whether the proxy resolves names).
# python-socks itself is imported on the first proxied connection only: most
# gateways never use a proxy, and it is not free in memory.
_SCHEMES: dict[str, tuple[str, bool]] = {
    "socks5": ("SOCKS5", False),
    "socks5h": ("SOCKS5", True),
    "socks4": ("SOCKS4", False),
    "socks4a": ("SOCKS4", True),
    "http": ("HTTP", False),
}


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """One parsed proxy URL."""

    kind: str  # a python_socks.ProxyType member name
    host: str
    port: int
    remote_dns: bool
    label: str  # scheme://host:port, never with credentials
    username: str | None = field(default=None, repr=False)  # may carry a session token
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> ProxyRoute:
        """Parse ``url``; raise UpstreamConnectError (without the URL, which
        may hold a password) when it is not a usable proxy URL."""
        try:
            parts = urlsplit(url.strip())
            scheme = parts.scheme.lower()
            host = parts.hostname
            port = parts.port
        except ValueError:
            raise UpstreamConnectError("the proxy URL cannot be parsed") from None
        if scheme not in _SCHEMES:
            raise UpstreamConnectError(
                "unsupported proxy scheme (use socks5, socks5h, socks4, socks4a or http)"
            )
        if not host:
            raise UpstreamConnectError("the proxy URL has no host")
        if port is None:
            port = 80 if scheme == "http" else 1080
        kind, remote_dns = _SCHEMES[scheme]
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        shown = f"[{host}]" if ":" in host else host
        return cls(kind, host, port, remote_dns, f"{scheme}://{shown}:{port}", username, password)

    async def connect(self, host: str, port: int, timeout: float) -> socket.socket:
        """A socket tunnelled to ``host:port``; python-socks errors pass through
        (the caller maps them, knowing the destination)."""
        from python_socks import ProxyType
        from python_socks.async_.asyncio import Proxy

        proxy = Proxy(
            ProxyType[self.kind],
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            rdns=self.remote_dns,
            loop=asyncio.get_running_loop(),
        )
        return await proxy.connect(host, port, timeout=timeout)
