"""``/api/tools``: point coding tools at this gateway, like ``omniroute
tools setup``. The files written are those of the home directory of the
user the gateway runs as, on the gateway's machine.

GET  /api/tools                 {"home", "tools": [{"tool", "paths", "backups"}]}
POST /api/tools/{tool}/setup    {model, key, dry_run, url} -> {diff, path, backup, …}
POST /api/tools/{tool}/undo     -> {path, restored: [{path, backup, deleted}]}

Without ``key`` a client key named ``tool:<tool>`` is created and written
into the file; it is never sent back (the diff masks it). A dry run
creates and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, AppliedRoutes
from omniroute.api.admin.manage import body_of
from omniroute.api.bodies import field
from omniroute.config.keys import KeyEditor
from omniroute.errors import BadRequest, NotFound
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.admin import AdminRows
from omniroute.tools import setup
from omniroute.tools.files import backups
from omniroute.tools.writers import TOOLS, Target


class ToolRoutes(AppliedRoutes):
    __slots__ = ("_settings",)

    def __init__(self, store: Store, settings: Settings, *args: Any) -> None:
        super().__init__(store, *args)
        self._settings = settings

    def install(self, router: Router) -> None:
        session = self._guards.session
        router.add("GET", "/api/tools", session(self.list_tools), label=ADMIN_SESSION)
        router.add("POST", "/api/tools/{tool}/setup", session(self.setup), label=ADMIN_SESSION)
        router.add("POST", "/api/tools/{tool}/undo", session(self.undo), label=ADMIN_SESSION)

    async def list_tools(self, request: Request) -> Response:
        home = Path.home()

        def describe() -> list[dict[str, Any]]:
            return [
                {
                    "tool": name,
                    "paths": [str(p) for p in setup.paths(name, home)],
                    "backups": sum(len(backups(p)) for p in setup.paths(name, home)),
                }
                for name in TOOLS
            ]

        return Response.json({"home": str(home), "tools": await asyncio.to_thread(describe)})

    async def setup(self, request: Request) -> Response:
        tool = _tool(request)
        body = body_of(request, ("model", "key", "dry_run", "url"))
        dry_run = bool(field(body, "dry_run", bool, required=False))
        key = field(body, "key", str, required=False) or None
        url_given = field(body, "url", str, required=False)
        url = setup.check_url(url_given) if url_given else self._default_url()
        models = setup.served_models(await self._store.snapshot())
        model = field(body, "model", str, required=False) or (models[0] if models else None)
        if not model:
            raise BadRequest("the gateway serves no model yet: add a provider or give 'model'")
        home = Path.home()
        # Planned first: a file that cannot be merged is refused before a
        # key is created for it.
        target = Target(url, key or setup.NEW_KEY_PLACEHOLDER, model, tuple(models))
        planned = await asyncio.to_thread(setup.plan, tool, home, target)
        if dry_run:
            return Response.json(_answer(planned, (), None, dry_run=True))
        created = None
        if not key:
            record, key = await KeyEditor(self._store).create(
                {"name": f"tool:{tool}"}, **self._who(request)
            )
            created = record.id
            await self._applied()
        target = Target(url, key, model, tuple(models))
        done = await asyncio.to_thread(setup.apply, tool, home, target)
        await self._audit(request, "tools.setup", tool, [str(p) for p, _b in done.written])
        return Response.json(_answer(done.plan, done.written, created, dry_run=False))

    async def undo(self, request: Request) -> Response:
        tool = _tool(request)
        body_of(request, ())
        restored = await asyncio.to_thread(setup.undo_tool, tool, Path.home())
        await self._audit(request, "tools.undo", tool, [str(r.path) for r in restored])
        return Response.json(
            {
                "path": str(restored[0].path),
                "restored": [
                    {"path": str(r.path), "backup": str(r.backup), "deleted": r.deleted}
                    for r in restored
                ],
            }
        )

    def _default_url(self) -> str:
        return setup.gateway_url(self._settings.host, self._settings.port)

    async def _audit(self, request: Request, action: str, tool: str, paths: list[str]) -> None:
        who = self._who(request)
        await AdminRows(self._store).audit(
            time.time(), who["actor"], action, tool, {"paths": paths}, who["address"]
        )


def _tool(request: Request) -> str:
    name = request.path_params.get("tool", "")
    if name not in TOOLS:
        raise NotFound(f"no tool {name[:40]!r}; known: {', '.join(TOOLS)}")
    return name


def _answer(
    planned: setup.Plan,
    written: tuple[tuple[Path, Path], ...],
    created: int | None,
    *,
    dry_run: bool,
) -> dict[str, Any]:
    paths = [str(c.path) for c in planned.changes]
    return {
        "tool": planned.tool,
        "dry_run": dry_run,
        "diff": planned.diff(),
        "path": paths[0],
        "paths": paths,
        "backup": str(written[0][1]) if written else None,
        "backups": [str(b) for _p, b in written],
        "changed": planned.changed,
        "key_created": created,
    }
