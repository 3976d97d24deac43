"""``GET /api/quota``: every account's usage windows, how full each is and
when it resets, and whether routing skips the account now.

    {"skip_at": 0.95,
     "accounts": [{"account_id", "provider", "label", "kind", "client",
                   "reader", "windows": [{"name", "used_fraction",
                   "used_percent", "resets_at", "resets_in", "scope",
                   "model", "estimated", "source"}],
                   "blocked", "blocked_until"}]}

``client`` is None but on pass-through accounts, where each client
credential has its own windows (named by a digest, never the credential).
"""

from __future__ import annotations

from omniroute.api.admin.access import ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import Manage
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router


class QuotaRoutes:
    __slots__ = ("_m",)

    def __init__(self, manage: Manage) -> None:
        self._m = manage

    def install(self, router: Router, guards: Guards) -> None:
        router.add("GET", "/api/quota", guards.token_or_session(self.show), label=ADMIN_TOKEN)

    async def show(self, request: Request) -> Response:
        quotas = self._m.live.quotas
        if quotas is None:
            return Response.json({"skip_at": None, "accounts": []})
        return Response.json(quotas.listing())
