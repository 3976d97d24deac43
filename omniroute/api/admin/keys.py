"""``/api/keys``: client keys and their scope, like ``omniroute key``.

GET    /api/keys         {"keys": [key, …]}
POST   /api/keys         {name, models, providers, expires | expires_at, rpm, max_concurrent}
                         201 {"key": "sk-omni-…", …the key}: the only time it is shown
PATCH  /api/keys/{id}    the fields to change (null removes a limit)
DELETE /api/keys/{id}    revokes the key

A key is shown as ``config.keys.key_view``: its prefix, never the key.
"""

from __future__ import annotations

import time

from omniroute.api.admin.access import ADMIN_SESSION, AppliedRoutes
from omniroute.api.bodies import read_json
from omniroute.config.keys import KeyEditor, key_view
from omniroute.errors import NotFound
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router


class KeyRoutes(AppliedRoutes):
    __slots__ = ()

    @property
    def _editor(self) -> KeyEditor:
        return KeyEditor(self._store)

    def install(self, router: Router) -> None:
        session = self._guards.session
        router.add("GET", "/api/keys", session(self.list_keys), label=ADMIN_SESSION)
        router.add("POST", "/api/keys", session(self.create), label=ADMIN_SESSION)
        router.add("PATCH", "/api/keys/{id}", session(self.update), label=ADMIN_SESSION)
        router.add("DELETE", "/api/keys/{id}", session(self.revoke), label=ADMIN_SESSION)

    async def list_keys(self, request: Request) -> Response:
        now = time.time()
        return Response.json({"keys": [key_view(k, now) for k in await self._editor.list()]})

    async def create(self, request: Request) -> Response:
        record, plaintext = await self._editor.create(read_json(request), **self._who(request))
        await self._applied()
        return Response.json({"key": plaintext, **key_view(record, time.time())}, status=201)

    async def update(self, request: Request) -> Response:
        key_id = _key_id(request)
        record = await self._editor.update(key_id, read_json(request), **self._who(request))
        await self._applied()
        return Response.json(key_view(record, time.time()))

    async def revoke(self, request: Request) -> Response:
        record = await self._editor.revoke(_key_id(request), **self._who(request))
        await self._applied()
        return Response.json(key_view(record, time.time()))


def _key_id(request: Request) -> int:
    text = request.path_params["id"]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise NotFound(f"no client key with id {text[:40]!r}")
    return int(text)
