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
from pathlib import Path
from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, AppliedRoutes, request_actor
from omniroute.api.admin.manage import body_of
from omniroute.api.bodies import field
from omniroute.config.audit import Auditor
from omniroute.errors import NotFound
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.tools import setup
from omniroute.tools.files import backups
from omniroute.tools.writers import TOOLS


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

        def describe(name: str) -> dict[str, Any]:
            paths = setup.paths(name, home)
            return {
                "tool": name,
                "paths": [str(p) for p in paths],
                "backups": sum(len(backups(p)) for p in paths),
            }

        tools = await asyncio.to_thread(lambda: [describe(name) for name in TOOLS])
        return Response.json({"home": str(home), "tools": tools})

    async def setup(self, request: Request) -> Response:
        tool = _tool(request)
        body = body_of(request, ("model", "key", "dry_run", "url"))
        dry_run = bool(field(body, "dry_run", bool, required=False))
        key = field(body, "key", str, required=False) or None
        url_given = field(body, "url", str, required=False)
        url = setup.check_url(url_given) if url_given else self._default_url()
        done = await setup.set_up(
            self._store,
            tool,
            Path.home(),
            url,
            model=field(body, "model", str, required=False) or None,
            key=key,
            dry_run=dry_run,
            **self._who(request),
            no_model="the gateway serves no model yet: add a provider or give 'model'",
            key_created=self._applied,
        )
        if not dry_run:
            await self._audit(request, "tools.setup", tool, [str(p) for p, _b in done.written])
        return Response.json(_answer(done, dry_run=dry_run))

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
        actor = request_actor(request, self._options())
        await Auditor(self._store, actor).record(action, tool, {"paths": paths})


def _tool(request: Request) -> str:
    name = request.path_params.get("tool", "")
    if name not in TOOLS:
        raise NotFound(f"no tool {name[:40]!r}; known: {', '.join(TOOLS)}")
    return name


def _answer(done: setup.SetUp, *, dry_run: bool) -> dict[str, Any]:
    planned, written = done.plan, done.written
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
        "key_created": done.key_created,
    }
