"""The management API (``/api``): everything the CLI does, over HTTP, behind a
login that cannot be skipped. Thin handlers over the same code the CLI uses.

    access     the Host check, the client's address behind a trusted proxy,
               and the guards every route goes through
    passwords  password strength and hashing
    sessions   sessions, CSRF, the wrong-password throttle
    auth       /api/auth: setup, login, logout, password change
    transfer   /api/export, /api/import, /api/backups: export, import, backup, restore
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.api.admin.access import ADMIN_TOKEN, Guards, HostCheck
from omniroute.api.admin.auth import AuthRoutes
from omniroute.api.admin.sessions import AdminAuth
from omniroute.api.admin.transfer import TransferRoutes
from omniroute.api.status import AdminAccess, StatusView
from omniroute.config.options import Options
from omniroute.http.routing import Router
from omniroute.store import Store
from omniroute.store.admin import AdminRows


class AdminApi:
    __slots__ = ("auth", "guards", "rows", "_store", "_options", "_describe")

    def __init__(
        self,
        store: Store,
        token: AdminAccess,
        *,
        options: Callable[[], Options],
        bound_host: Callable[[], str | None],
        session_ttl: float,
        describe: Callable[[], dict[str, Any]],
    ) -> None:
        self._store = store
        self.rows = AdminRows(store)
        self.auth = AdminAuth(self.rows, session_ttl)
        self.guards = Guards(self.auth, token, HostCheck(bound_host, options))
        self._options = options
        self._describe = describe

    def install(self, router: Router) -> None:
        AuthRoutes(self.auth, self.guards, self._options).install(router)
        status = self.guards.token_or_session(StatusView(self._describe))
        router.add("GET", "/api/status", status, label=ADMIN_TOKEN)
        TransferRoutes(self._store, self.guards, self._options).install(router)
