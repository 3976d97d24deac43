"""``/api/combos`` and ``/api/aliases``: what ``omniroute combo …`` and
``alias …`` do, over HTTP, through the same ``ConfigEditor``.

GET    /api/combos                 every combo; each target says if it cannot be served
POST   /api/combos                 {"name", "targets", "weights", "strategy",
                                    "system_prompt", "enabled"}; 409 when it exists
PATCH  /api/combos/{name}          any of those but the name
DELETE /api/combos/{name}          409 while another combo or an alias routes to it
POST   /api/combos/{name}/test     each target it routes to now, tried in order
GET    /api/aliases                in the order they are tried
POST   /api/aliases                {"pattern", "target"}; 409 when the pattern exists
DELETE /api/aliases/{pattern}

Targets are model strings (weighted by ``weights`` when given) or objects
``{"ref", "weight", "enabled"}``.
"""

from __future__ import annotations

from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import API_NAMING, Manage, body_of, nullable
from omniroute.api.bodies import field
from omniroute.config.combos import targets_from_json
from omniroute.config.describe import alias_json, combo_json
from omniroute.config.providers import KEEP
from omniroute.config.routing import routing_view
from omniroute.errors import NotFound
from omniroute.gateway.probe import probe_combo
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.store import ComboRecord, ComboTargetRecord

_COMBO = ("name", "targets", "weights", "strategy", "system_prompt", "enabled")


class RoutingRoutes:
    __slots__ = ("_m",)

    def __init__(self, manage: Manage) -> None:
        self._m = manage

    def install(self, router: Router, guards: Guards) -> None:
        read, change = guards.token_or_session, guards.session
        router.add("GET", "/api/combos", read(self.combos), label=ADMIN_TOKEN)
        router.add("POST", "/api/combos", change(self.create_combo), label=ADMIN_SESSION)
        router.add("PATCH", "/api/combos/{name}", change(self.update_combo), label=ADMIN_SESSION)
        router.add("DELETE", "/api/combos/{name}", change(self.delete_combo), label=ADMIN_SESSION)
        router.add("POST", "/api/combos/{name}/test", change(self.test_combo), label=ADMIN_SESSION)
        router.add("GET", "/api/aliases", read(self.aliases), label=ADMIN_TOKEN)
        router.add("POST", "/api/aliases", change(self.add_alias), label=ADMIN_SESSION)
        # A pattern may hold a slash ("old/*"): the rest of the path is it.
        pattern = "/api/aliases/{pattern:path}"
        router.add("DELETE", pattern, change(self.remove_alias), label=ADMIN_SESSION)

    # -- combos

    async def combos(self, request: Request) -> Response:
        snapshot = await self._m.live.store.snapshot()
        view = routing_view(snapshot, self._m.live.catalog)
        return Response.json({"combos": [combo_json(c, view) for c in snapshot.combos]})

    async def create_combo(self, request: Request) -> Response:
        body = body_of(request, _COMBO)
        name = field(body, "name", str)
        targets = targets_from_json(field(body, "targets", list), body.get("weights"), API_NAMING)
        combo = await self._m.editor(request).upsert_combo(
            name,
            targets,
            strategy=field(body, "strategy", str, required=False) or "fill-first",
            system_prompt=field(body, "system_prompt", str, required=False),
            enabled=_enabled(body, True),
            exists=False,
        )
        await self._m.applied()
        return Response.json(await self._combo(combo.name), status=201)

    async def update_combo(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = body_of(request, _COMBO[1:])
        current = (await self._m.live.store.snapshot()).combo(name)
        if current is None:
            raise NotFound(f"unknown combo {name!r}")
        prompt = nullable(body, "system_prompt", str)
        await self._m.editor(request).upsert_combo(
            name,
            _targets(body, current),
            strategy=field(body, "strategy", str, required=False) or current.strategy,
            system_prompt=current.system_prompt if prompt is KEEP else prompt,
            enabled=_enabled(body, current.enabled),
            exists=True,
        )
        await self._m.applied()
        return Response.json(await self._combo(name))

    async def delete_combo(self, request: Request) -> Response:
        name = request.path_params["name"]
        await self._m.editor(request).delete_combo(name)
        await self._m.applied()
        return Response.json({"deleted": name})

    async def test_combo(self, request: Request) -> Response:
        """``{"ok": some target answered, "targets": [each one's result]}``."""
        body_of(request, ())
        name = request.path_params["name"]
        tried = await probe_combo(self._m.live.upstream, self._m.live.registry(), name)
        results = [{"target": t.ref, "step": t.step, **r.to_json()} for t, r in tried]
        ok = any(r["ok"] for r in results)
        detail = {
            "ok": ok,
            "targets": [{k: r[k] for k in ("target", "ok", "status")} for r in results],
        }
        await self._m.auditor(request).record("combo.test", name, detail)
        return Response.json({"ok": ok, "targets": results})

    async def _combo(self, name: str) -> dict[str, Any]:
        snapshot = await self._m.live.store.snapshot()
        combo = snapshot.combo(name)
        if combo is None:
            raise NotFound(f"unknown combo {name!r}")
        return combo_json(combo, routing_view(snapshot, self._m.live.catalog))

    # -- aliases

    async def aliases(self, request: Request) -> Response:
        snapshot = await self._m.live.store.snapshot()
        return Response.json({"aliases": [alias_json(a) for a in snapshot.aliases]})

    async def add_alias(self, request: Request) -> Response:
        body = body_of(request, ("pattern", "target"))
        alias = await self._m.editor(request).add_alias(
            field(body, "pattern", str), field(body, "target", str), replace=False
        )
        await self._m.applied()
        return Response.json(alias_json(alias), status=201)

    async def remove_alias(self, request: Request) -> Response:
        pattern = request.path_params["pattern"]
        await self._m.editor(request).remove_alias(pattern)
        await self._m.applied()
        return Response.json({"deleted": pattern})


def _targets(body: dict[str, Any], current: ComboRecord) -> list[ComboTargetRecord]:
    """The new targets; weights alone re-weight the current targets."""
    if "targets" in body:
        return targets_from_json(field(body, "targets", list), body.get("weights"), API_NAMING)
    if "weights" in body:
        refs = [t.ref for t in current.targets]
        weighted = targets_from_json(refs, field(body, "weights", list), API_NAMING)
        return [
            ComboTargetRecord(t.ref, w.weight, t.enabled)
            for t, w in zip(current.targets, weighted, strict=True)
        ]
    return list(current.targets)


def _enabled(body: dict[str, Any], default: bool) -> bool:
    value = field(body, "enabled", bool, required=False)
    return default if value is None else bool(value)
