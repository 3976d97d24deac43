"""Sign-ins from the dashboard (what ``omniroute login`` does from a shell).

POST /api/oauth/{provider}/start       {name?, listen?} -> the flow: its ``url`` for the
                                        browser, ``redirect_uri``, hints for pasting
POST /api/oauth/flows/{id}/complete    {"url": the address the browser ended on} or
                                        {"code": its code} -> the flow, ``done`` or an error
GET  /api/oauth/flows/{id}             the flow: pending | done | failed | expired
GET  /api/oauth/accounts               signed-in accounts: status, expiry (never a token)
POST /api/oauth/accounts/{id}/logout   revoke at the issuer, forget the tokens, disable

A browser on this machine is redirected to the loopback listener, which
completes the flow by itself; a browser elsewhere ends on a connection
error whose address the user pastes. Sign-ins and sign-outs are audited.
"""

from __future__ import annotations

import asyncio
from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import Manage, body_of
from omniroute.config.audit import Auditor
from omniroute.config.options import ProviderOptions, egress_proxy
from omniroute.errors import BadRequest
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.providers.oauth.flows import DONE, FLOW_LIFETIME, LoginFlow
from omniroute.providers.oauth.service import SignIns, ssh_hint
from omniroute.providers.oauth.tokens import TokenManager
from omniroute.store import sign_ins as grants

PASTE_HINT = (
    "If the browser runs on another machine it ends on a page that cannot be reached: "
    "copy that page's whole address and paste it here."
)


class OAuthRoutes:
    __slots__ = ("_m", "_sign_ins", "_tokens", "_watching")

    def __init__(self, manage: Manage, sign_ins: SignIns, tokens: TokenManager) -> None:
        self._m = manage
        self._sign_ins = sign_ins
        self._tokens = tokens
        self._watching: set[asyncio.Task[None]] = set()

    def install(self, router: Router, guards: Guards) -> None:
        read, change = guards.token_or_session, guards.session
        router.add("POST", "/api/oauth/{provider}/start", change(self.start), label=ADMIN_SESSION)
        router.add(
            "POST", "/api/oauth/flows/{flow}/complete", change(self.complete), label=ADMIN_SESSION
        )
        router.add("GET", "/api/oauth/flows/{flow}", read(self.flow), label=ADMIN_TOKEN)
        router.add("GET", "/api/oauth/accounts", read(self.accounts), label=ADMIN_TOKEN)
        router.add(
            "POST",
            "/api/oauth/accounts/{account}/logout",
            change(self.logout),
            label=ADMIN_SESSION,
        )

    async def start(self, request: Request) -> Response:
        body = body_of(request, ("name", "listen"))
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 64):
            raise BadRequest("name must be text of 1 to 64 characters")
        listen = body.get("listen", True)
        if not isinstance(listen, bool):
            raise BadRequest("listen must be true or false")
        flow = await self._sign_ins.start(
            request.path_params["provider"],
            name=name.strip() if name else None,
            proxy=self._proxy(),
            listen=listen,
        )
        # Audited when it completes, whichever way (the loopback redirect or a
        # paste), as the person who started it.
        watch = asyncio.create_task(self._audit(flow, self._m.auditor(request)))
        self._watching.add(watch)
        watch.add_done_callback(self._watching.discard)
        return Response.json(_shown(flow))

    async def _audit(self, flow: LoginFlow, auditor: Auditor) -> None:
        await self._sign_ins.wait(flow, FLOW_LIFETIME)
        if flow.status == DONE and flow.account_id is not None:
            await auditor.record(
                "oauth.sign_in",
                f"account {flow.account_id}",
                {"provider": flow.provider, "new": flow.created},
            )

    def _proxy(self) -> str | None:
        """The gateway's egress proxy, which sign-ins take like requests do."""
        options = self._m.live.registry().options
        return egress_proxy(options, ProviderOptions(), ProviderOptions())

    async def complete(self, request: Request) -> Response:
        body = body_of(request, ("url", "code"))
        url, code = body.get("url"), body.get("code")
        for field, value in (("url", url), ("code", code)):
            if value is not None and (not isinstance(value, str) or len(value) > 8192):
                raise BadRequest(f"{field} must be text")
        flow = await self._sign_ins.complete(request.path_params["flow"], url=url, code=code)
        await asyncio.sleep(0)  # its audit row is written by the task ``start`` left
        return Response.json(_shown(flow))

    async def flow(self, request: Request) -> Response:
        return Response.json(_shown(self._sign_ins.flow(request.path_params["flow"])))

    async def accounts(self, request: Request) -> Response:
        await self._tokens.load()
        listing = [grants.grant_summary(g) for g in self._tokens.grants()]
        return Response.json({"accounts": listing})

    async def logout(self, request: Request) -> Response:
        account_id = _account_id(request.path_params["account"])
        body_of(request, ())
        revoked = await self._sign_ins.sign_out(account_id, self._proxy())
        await self._tokens.load()
        await self._m.applied()
        await self._m.auditor(request).record(
            "oauth.sign_out", f"account {account_id}", {"revoked": revoked}
        )
        return Response.json({"account_id": account_id, "revoked": revoked})


def _account_id(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise BadRequest("the account id must be a number")
    return int(text)


def _shown(flow: LoginFlow) -> dict[str, Any]:
    shown = flow.public()
    port = flow.redirect_uri.rsplit(":", 1)[-1].split("/", 1)[0]
    shown["paste_hint"] = PASTE_HINT
    shown["ssh_hint"] = ssh_hint(int(port)) if port.isdigit() else None
    return shown
