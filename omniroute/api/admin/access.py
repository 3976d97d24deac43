"""The doors of the management side: which Host it answers to, who the
client really is behind a trusted proxy, and the guards every route goes
through (labelled for ``omniroute routes``).

    public         anyone (the Host check still applies to /api and the dashboard)
    client-key     a client key (the LLM API checks it itself)
    admin-session  a logged-in session; state-changing methods also need CSRF
    admin-token    the per-start token of the local CLI, or a session
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from omniroute.api.admin.sessions import AdminAuth
from omniroute.api.status import AdminAccess
from omniroute.config.options import Options
from omniroute.errors import OmniError
from omniroute.http.message import Handler, Request, Response, StreamResponse

PUBLIC = "public"
CLIENT_KEY = "client-key"
ADMIN_SESSION = "admin-session"
ADMIN_TOKEN = "admin-token"  # noqa: S105 (a route label, not a secret)

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class MisdirectedRequest(OmniError):
    """RFC 9110 section 15.5.20: this server does not answer for that Host."""

    status = 421
    kind = "misdirected"


def client_address(request: Request, options: Options) -> str:
    """The client's address: the peer's, or, when the peer is a trusted
    reverse proxy, the nearest address in X-Forwarded-For that is not one."""
    peer = request.client[0] if request.client else ""
    if not _trusted(peer, options):
        return peer
    chain = [a.strip() for h in request.headers.get_all("x-forwarded-for") for a in h.split(",")]
    for address in reversed([a for a in chain if a]):
        if not _trusted(address, options):
            return address
    return peer


def arrived_over_tls(request: Request, options: Options) -> bool:
    """Whether the client used https: only a trusted proxy can say so (the
    gateway itself speaks plain HTTP)."""
    peer = request.client[0] if request.client else ""
    proto = (request.headers.get("x-forwarded-proto") or "").strip().lower()
    return proto == "https" and _trusted(peer, options)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _trusted(address: str, options: Options) -> bool:
    if not options.trusted_proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in options.trusted_proxies)


class HostCheck:
    """DNS-rebinding guard: the management side answers only to loopback
    names, the address the server is bound to, and ``public-hosts``."""

    __slots__ = ("_bound", "_options")

    def __init__(self, bound: Callable[[], str | None], options: Callable[[], Options]) -> None:
        self._bound = bound
        self._options = options

    def __call__(self, request: Request) -> None:
        host = (request.headers.get("host") or "").strip().lower()
        name = _without_port(host)
        if name in _LOOPBACK_NAMES or name == (self._bound() or "").lower():
            return
        public = self._options().public_hosts
        if host in public or name in public:
            return
        raise MisdirectedRequest(
            "This server does not answer for that host name; add it with "
            "`omniroute config set public-hosts NAME`."
        )


def _without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:20128
        return host.split("]", 1)[0] + "]"
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


class Guards:
    """Wraps handlers so that nothing reaches one without its credential."""

    __slots__ = ("_auth", "_token", "_host")

    def __init__(self, auth: AdminAuth, token: AdminAccess, host: HostCheck) -> None:
        self._auth = auth
        self._token = token
        self._host = host

    def public(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response | StreamResponse:
            self._host(request)
            return await handler(request)

        return guarded

    def session(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response | StreamResponse:
            self._host(request)
            request.state["session"] = await self._auth.require(request)
            return await handler(request)

        return guarded

    def token_or_session(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response | StreamResponse:
            self._host(request)
            if not self._token.presented(request):
                request.state["session"] = await self._auth.require(request)
            return await handler(request)

        return guarded
