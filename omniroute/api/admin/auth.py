"""``/api/auth``: the first password, logging in and out, changing the password.

GET  /api/auth/state     {"setup_required", "authenticated", "csrf", "local"}
POST /api/auth/setup     {"password"}   only while none is set, only from loopback
POST /api/auth/login     {"password"}   200 + session cookie; wrong: 401
POST /api/auth/logout
POST /api/auth/password  {"current", "new"}   every session ends; this one goes on anew
"""

from __future__ import annotations

from collections.abc import Callable

from omniroute.api.admin.access import (
    ADMIN_SESSION,
    PUBLIC,
    Guards,
    arrived_over_tls,
    client_address,
    is_loopback,
    origin_matches,
)
from omniroute.api.admin.sessions import COOKIE, AdminAuth, Session
from omniroute.api.bodies import field, read_json
from omniroute.config.options import Options
from omniroute.errors import BadRequest, Forbidden, Unauthorized
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router


class AuthRoutes:
    __slots__ = ("_auth", "_guards", "_options")

    def __init__(self, auth: AdminAuth, guards: Guards, options: Callable[[], Options]) -> None:
        self._auth = auth
        self._guards = guards
        self._options = options

    def install(self, router: Router) -> None:
        public, session = self._guards.public, self._guards.session
        router.add("GET", "/api/auth/state", public(self.state), label=PUBLIC)
        router.add("POST", "/api/auth/setup", public(self.setup), label=PUBLIC)
        router.add("POST", "/api/auth/login", public(self.login), label=PUBLIC)
        router.add("POST", "/api/auth/logout", session(self.logout), label=ADMIN_SESSION)
        router.add("POST", "/api/auth/password", session(self.password), label=ADMIN_SESSION)

    async def state(self, request: Request) -> Response:
        session = await self._auth.session(request)
        return Response.json(
            {
                "setup_required": not await self._auth.has_password(),
                "authenticated": session is not None,
                "csrf": session.csrf if session else None,
                # Whether this browser may set the first password itself.
                "local": is_loopback(client_address(request, self._options())),
            }
        )

    async def setup(self, request: Request) -> Response:
        self._same_origin(request)
        address = client_address(request, self._options())
        if not is_loopback(address):
            raise Forbidden(
                "The first password can only be set from this machine: open the dashboard "
                "on the server itself, or run `omniroute admin password` over SSH."
            )
        password = field(read_json(request), "password", str)
        if await self._auth.has_password():
            raise Forbidden("A password is already set: log in, or change it.")
        await self._auth.set_password(password, actor="setup", address=address)
        return await self._logged_in(request, password, address)

    async def login(self, request: Request) -> Response:
        self._same_origin(request)
        password = field(read_json(request), "password", str)
        return await self._logged_in(request, password, client_address(request, self._options()))

    async def logout(self, request: Request) -> Response:
        session: Session = request.state["session"]  # type: ignore[assignment]
        await self._auth.logout(session)
        return Response.json({"ok": True}, headers=[("set-cookie", self._cookie(request, "", 0))])

    async def password(self, request: Request) -> Response:
        body = read_json(request)
        current, new = field(body, "current", str), field(body, "new", str)
        address = client_address(request, self._options())
        self._auth.throttle.check(address)
        if not await self._auth.verify(current):
            self._auth.throttle.failed(address)
            raise Unauthorized("The current password is wrong.")
        await self._auth.set_password(new, actor="session", address=address)
        return await self._logged_in(request, new, address)

    async def _logged_in(self, request: Request, password: str, address: str) -> Response:
        token, session = await self._auth.login(password, address)
        cookie = self._cookie(request, token, int(self._auth.session_ttl))
        return Response.json({"ok": True, "csrf": session.csrf}, headers=[("set-cookie", cookie)])

    def _cookie(self, request: Request, token: str, max_age: int) -> str:
        parts = [f"{COOKIE}={token}", "HttpOnly", "SameSite=Strict", "Path=/", f"Max-Age={max_age}"]
        if arrived_over_tls(request, self._options()):
            parts.append("Secure")
        return "; ".join(parts)

    @staticmethod
    def _same_origin(request: Request) -> None:
        """Setup and login come before any CSRF token exists: a browser's
        Origin, when it sends one, must be this very host."""
        if not origin_matches(request):
            raise BadRequest("The request comes from another site (its Origin does not match).")
