"""Price overrides and budgets (what ``omniroute price`` / ``budget`` change).

GET    /api/prices                       {"prices": [{"model": "provider/model",
                                          "input", "output", "cached_input", "reasoning"}]}
PUT    /api/prices/{provider}/{model}    {input, output, cached_input?, reasoning?}:
                                          USD per 1M tokens; the model id may hold "/"
DELETE /api/prices/{provider}/{model}    back to the catalog's price (404: no override)
GET    /api/budgets                      {"budgets": [{"scope", "daily", "monthly",
                                          "spent": {"daily", "monthly"}}]}
PUT    /api/budgets/{scope}              {daily?, monthly?}: USD per UTC day / month;
                                          scope is provider:NAME, key:ID or combo:NAME/STEP
DELETE /api/budgets/{scope}              (404: no budget)

Every change is audited (``price.set``, ``price.unset``, ``budget.set``,
``budget.unset``) and in force for the next request.
"""

from __future__ import annotations

import time

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import Manage, body_of
from omniroute.config import spending
from omniroute.errors import NotFound
from omniroute.gateway.costs import spent_now
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.routing.budgets import PERIODS

_PRICE_FIELDS = ("input", "output", "cached_input", "reasoning")
_PRICE = "/api/prices/{provider}/{model:path}"
_BUDGET = "/api/budgets/{scope:path}"


class SpendingRoutes:
    __slots__ = ("_m",)

    def __init__(self, manage: Manage) -> None:
        self._m = manage

    def install(self, router: Router, guards: Guards) -> None:
        read, change = guards.token_or_session, guards.session
        router.add("GET", "/api/prices", read(self.prices), label=ADMIN_TOKEN)
        router.add("PUT", _PRICE, change(self.set_price), label=ADMIN_SESSION)
        router.add("DELETE", _PRICE, change(self.unset_price), label=ADMIN_SESSION)
        router.add("GET", "/api/budgets", read(self.budgets), label=ADMIN_TOKEN)
        router.add("PUT", _BUDGET, change(self.set_budget), label=ADMIN_SESSION)
        router.add("DELETE", _BUDGET, change(self.unset_budget), label=ADMIN_SESSION)

    async def prices(self, request: Request) -> Response:
        stored = (await self._m.live.store.snapshot()).settings.get(spending.PRICES) or {}
        listing = [{"model": ref, **stored[ref]} for ref in sorted(stored)]
        return Response.json({"prices": listing})

    async def set_price(self, request: Request) -> Response:
        ref = _model_ref(request)
        body = body_of(request, _PRICE_FIELDS)
        price = await self._m.editor(request).set_price(ref, body)
        await self._m.applied()
        return Response.json({"model": ref, **price})

    async def unset_price(self, request: Request) -> Response:
        ref = _model_ref(request)
        body_of(request, ())
        if not await self._m.editor(request).unset_price(ref):
            raise NotFound(f"{ref!r} has no price override")
        await self._m.applied()
        return Response.json({"deleted": ref})

    async def budgets(self, request: Request) -> Response:
        store = self._m.live.store
        stored = (await store.snapshot()).settings.get(spending.BUDGETS) or {}
        spent = await spent_now(store, time.time())
        nothing = dict.fromkeys(PERIODS, 0.0)
        listing = [
            {"scope": scope, **stored[scope], "spent": spent.get(scope, nothing)}
            for scope in sorted(stored)
        ]
        return Response.json({"budgets": listing})

    async def set_budget(self, request: Request) -> Response:
        scope = request.path_params["scope"]
        body = body_of(request, PERIODS)
        budget = await self._m.editor(request).set_budget(scope, body)
        await self._m.applied()
        return Response.json({"scope": scope, **budget})

    async def unset_budget(self, request: Request) -> Response:
        scope = request.path_params["scope"]
        body_of(request, ())
        if not await self._m.editor(request).unset_budget(scope):
            raise NotFound(f"{scope!r} has no budget")
        await self._m.applied()
        return Response.json({"deleted": scope})


def _model_ref(request: Request) -> str:
    return spending.check_model_ref(
        f"{request.path_params['provider']}/{request.path_params['model']}"
    )
