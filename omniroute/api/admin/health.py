"""``/api/health``: the gateway's memory of how upstreams behave, and an
operator's reset of it.

GET  /api/health         breakers, cooldowns, limiters (each naming its
                         provider, account, model or combo), latency numbers;
                         and the process: uptime, version, memory (RSS),
                         queue depths, connections and the upstream pool
POST /api/health/reset   {"target": KEY | PROVIDER}: one key as listed
                         (``provider:x``, ``model:x/m``, ``account:3``,
                         ``account:3/m``, ``account:3~<client>/m`` for one
                         client credential on a pass-through account,
                         ``combo:c#0``), or everything of one
                         provider (its breakers, its accounts' cooldowns and
                         limiters); no target: everything
"""

from __future__ import annotations

from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import LiveGateway, Manage, body_of
from omniroute.api.bodies import field
from omniroute.errors import NotFound
from omniroute.gateway.resilience import account_key, model_key, provider_key
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.store import ConfigSnapshot

# The parts of the health view that list things, each naming what it is about.
HEALTH_SECTIONS = ("breakers", "cooldowns", "limiters")


class HealthRoutes:
    __slots__ = ("_m",)

    def __init__(self, manage: Manage) -> None:
        self._m = manage

    def install(self, router: Router, guards: Guards) -> None:
        router.add("GET", "/api/health", guards.token_or_session(self.show), label=ADMIN_TOKEN)
        router.add("POST", "/api/health/reset", guards.session(self.reset), label=ADMIN_SESSION)

    async def show(self, request: Request) -> Response:
        return Response.json(health_view(self._m.live))

    async def reset(self, request: Request) -> Response:
        target = field(body_of(request, ("target",)), "target", str, required=False)
        resilience = self._m.live.resilience
        if target is None:
            keys = sorted(resilience.tracked())
            resilience.reset()
        else:
            keys = self._keys_of(target)
            resilience.reset(keys)
        await self._m.auditor(request).record("health.reset", target or "all", {"keys": keys})
        return Response.json({"reset": keys})

    def _keys_of(self, target: str) -> list[str]:
        """A tracked key, or every key of a provider; NotFound for neither."""
        tracked = self._m.live.resilience.tracked()
        if target in tracked:
            return [target]
        snapshot = self._m.live.registry().snapshot
        provider = snapshot.provider(target)
        if provider is None:
            raise NotFound(
                f"nothing to reset for {target!r}: no breaker, cooldown or limiter has that "
                "key and no provider has that name"
            )
        accounts = [account_key(a.id) for a in snapshot.accounts_for(provider.id)]
        own = model_key(provider.name, "")
        keys = {provider_key(provider.name)} | {
            key
            for key in tracked
            if key.startswith(own)
            # "~" joins an account and one client credential of a pass-through one.
            or any(key == a or key.startswith((a + "/", a + "~")) for a in accounts)
        }
        return sorted(keys)


def health_view(live: LiveGateway) -> dict[str, Any]:
    """What ``GET /api/health`` answers: the resilience state, each item
    saying what it is about, and the process details."""
    status = live.resilience.status()
    owners = _account_owners(live.registry().snapshot)
    for section in HEALTH_SECTIONS:
        for item in status[section]:
            item.update(scope(item["key"], owners))
    return {**status, **live.details()}


def _account_owners(snapshot: ConfigSnapshot) -> dict[int, str]:
    names = {p.id: p.name for p in snapshot.providers}
    return {a.id: names.get(a.provider_id, "?") for a in snapshot.accounts}


def scope(key: str, owners: dict[int, str]) -> dict[str, Any]:
    """What a resilience key is about: ``{"scope", "provider", "account",
    "model", "combo", "step"}`` as far as the key says."""
    kind, _, rest = key.partition(":")
    if kind == "provider":
        return {"scope": "provider", "provider": rest}
    if kind == "model":
        provider, _, model = rest.partition("/")
        return {"scope": "model", "provider": provider, "model": model}
    if kind == "account":
        number, _, model = rest.partition("/")
        # A pass-through account's rests are per client credential, named by
        # a digest of it after "~".
        number, _, client = number.partition("~")
        account = int(number) if number.isdigit() else None
        found: dict[str, Any] = {
            "scope": "account",
            "account": account,
            "provider": owners.get(account) if account is not None else None,
        }
        if client:
            found["client"] = client
        if model:
            found["model"] = model
        return found
    if kind == "combo":
        combo, _, step = rest.rpartition("#")
        return {"scope": "combo", "combo": combo, "step": int(step) if step.isdigit() else None}
    return {"scope": kind or "other"}
