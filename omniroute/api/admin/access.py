"""The doors of the management side: which addresses and which Host it
answers to, and the guards every route goes through (labelled for
``omniroute routes``). Who the client really is behind a trusted proxy is
``omniroute.gateway.peers``' call, shared with the client API.

    public         anyone (the Host check still applies to /api and the dashboard)
    client-key     a client key (the LLM API checks it itself)
    admin-session  a logged-in session; state-changing methods also need CSRF
    admin-token    the per-start token of the local CLI, or a session
    admin-key      the MCP admin key, or a session (``/mcp`` only)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from omniroute.api.admin.sessions import AdminAuth
from omniroute.api.status import AdminAccess
from omniroute.config.audit import Actor, ActorFields
from omniroute.config.options import Options
from omniroute.errors import OmniError
from omniroute.gateway.peers import arrived_over_tls as arrived_over_tls
from omniroute.gateway.peers import check_address
from omniroute.gateway.peers import client_address as client_address
from omniroute.gateway.peers import is_loopback as is_loopback
from omniroute.http.message import Handler, Request, Response, StreamResponse
from omniroute.store import Store

PUBLIC = "public"
CLIENT_KEY = "client-key"
ADMIN_SESSION = "admin-session"
ADMIN_TOKEN = "admin-token"  # noqa: S105 (a route label, not a secret)
ADMIN_KEY = "admin-key"

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def origin_matches(request: Request, *, loopback: bool = False) -> bool:
    """Whether a request may go on by its browser's ``Origin``: none sent, or
    this very host (or, with ``loopback``, any loopback name). One that is
    not even a URL matches nothing."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip().lower())
    except ValueError:
        return False
    host = (request.headers.get("host") or "").strip().lower()
    if not parts.netloc:
        return False
    return parts.netloc == host or (loopback and (parts.hostname or "") in _LOOPBACK_NAMES)


class MisdirectedRequest(OmniError):
    """RFC 9110 section 15.5.20: this server does not answer for that Host."""

    status = 421
    kind = "misdirected"


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
    """Wraps handlers so that nothing reaches one without its credential.
    Every door first checks who knocks (the ``admin-allow`` and
    ``admin-deny`` address lists) and for which Host."""

    __slots__ = ("_auth", "_token", "_host", "_options")

    def __init__(
        self,
        auth: AdminAuth,
        token: AdminAccess,
        host: HostCheck,
        options: Callable[[], Options],
    ) -> None:
        self._auth = auth
        self._token = token
        self._host = host
        self._options = options

    def _door(self, request: Request) -> None:
        options = self._options()
        address = client_address(request, options)
        check_address(address, options.admin_allow, options.admin_deny, "the management side")
        self._host(request)

    def public(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response | StreamResponse:
            self._door(request)
            return await handler(request)

        return guarded

    def session(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response | StreamResponse:
            self._door(request)
            request.state["session"] = await self._auth.require(request)
            return await handler(request)

        return guarded

    def token_or_session(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response | StreamResponse:
            self._door(request)
            if not self._token.presented(request):
                request.state["session"] = await self._auth.require(request)
            return await handler(request)

        return guarded

    def session_or_key(
        self, handler: Handler, key: Callable[[Request], Awaitable[bool]]
    ) -> Handler:
        """A session (with CSRF on changes), or a key ``key`` accepts (it
        says False when none is presented, and raises for a wrong one)."""

        async def guarded(request: Request) -> Response | StreamResponse:
            self._door(request)
            if not await key(request):
                request.state["session"] = await self._auth.require(request)
            return await handler(request)

        return guarded


def request_actor(request: Request, options: Options) -> Actor:
    """Who makes a management request, for the audit log: a logged-in
    session, else the local CLI through its per-start token; with the
    caller's address."""
    name = "session" if request.state.get("session") is not None else "cli"
    return Actor(name, client_address(request, options))


class AppliedRoutes:
    """What the routes that change the live configuration directly (keys,
    import, restore) share: the store, the guards, the settings for the
    caller's address, and ``applied``, called after a committed change so
    that the answer means the gateway already works by it."""

    __slots__ = ("_store", "_guards", "_options", "_applied")

    def __init__(
        self,
        store: Store,
        guards: Guards,
        options: Callable[[], Options],
        applied: Callable[[], Awaitable[None]],
    ) -> None:
        self._store = store
        self._guards = guards
        self._options = options
        self._applied = applied

    def _who(self, request: Request) -> ActorFields:
        """The audit row's actor and address."""
        return request_actor(request, self._options()).as_kwargs()
