"""Egress proxy values as stored in settings and ``extra`` columns.

A value is a proxy URL, ``scheme://[user:password@]host[:port]``, or
``direct`` (no proxy at this level, whatever a wider setting says).  The URL
may carry a password, so it is checked without ever being repeated in an
error, and shown only through ``mask_proxy``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import BadRequest

# What the upstream client can tunnel through: HTTP CONNECT proxies (which
# carry HTTPS to the upstream) and SOCKS. A proxy reached over TLS itself
# (https://) is not supported, so it is refused here rather than at request time.
PROXY_SCHEMES = ("http", "socks4", "socks4a", "socks5", "socks5h")
DIRECT = "direct"


def check_proxy(value: Any, *, allow_direct: bool = True) -> str:
    """A proxy URL (or ``direct``), stripped; BadRequest never repeats the URL,
    which may hold a password."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("a proxy must be a URL such as socks5://host:1080")
    url = value.strip()
    if allow_direct and url == DIRECT:
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("the proxy URL cannot be parsed (check the host and port)") from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise BadRequest(f"a proxy URL must start with one of: {', '.join(PROXY_SCHEMES)}")
    if not parts.hostname:
        raise BadRequest("the proxy URL has no host")
    if port is not None and port == 0:
        raise BadRequest("the proxy URL has port 0")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadRequest("a proxy URL is scheme://[user:password@]host[:port], nothing after")
    return url


def mask_proxy(value: Any) -> str:
    """A proxy setting fit to show: the password becomes ``***``."""
    if not isinstance(value, str):
        return "-"
    if value == DIRECT:
        return value
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "***"
    if not host:
        return "***"
    shown = f"[{host}]" if ":" in host else host
    if port is not None:
        shown = f"{shown}:{port}"
    if parts.username is not None:
        user = parts.username + (":***" if parts.password is not None else "")
        shown = f"{user}@{shown}"
    return f"{parts.scheme}://{shown}"
