"""``/api/settings``: the global settings by the names ``omniroute config``
uses, each with its stored value and default.

GET    /api/settings     {"settings": {name: {"value": stored or null, "default": …}}}
PATCH  /api/settings     {name: value, …}: all or nothing; null restores a default
"""

from __future__ import annotations

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import Manage, body_of
from omniroute.config.setting_keys import SETTING_KEYS, SettingError, settings_json
from omniroute.errors import BadRequest
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router


class SettingsRoutes:
    __slots__ = ("_m",)

    def __init__(self, manage: Manage) -> None:
        self._m = manage

    def install(self, router: Router, guards: Guards) -> None:
        router.add("GET", "/api/settings", guards.token_or_session(self.show), label=ADMIN_TOKEN)
        router.add("PATCH", "/api/settings", guards.session(self.change), label=ADMIN_SESSION)

    async def show(self, request: Request) -> Response:
        snapshot = await self._m.live.store.snapshot()
        return Response.json({"settings": settings_json(snapshot.settings)})

    async def change(self, request: Request) -> Response:
        changes = body_of(request, SETTING_KEYS)
        if not changes:
            raise BadRequest("nothing to change: give at least one setting")
        try:
            await self._m.editor(request).change_settings(changes)
        except SettingError as exc:
            raise BadRequest(f"'{exc.key}': {exc.message}") from None
        await self._m.applied()
        return await self.show(request)
