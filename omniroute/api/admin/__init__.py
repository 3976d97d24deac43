"""The management API (``/api``): everything the CLI does, over HTTP, behind a
login that cannot be skipped. Thin handlers over the same code the CLI uses.

    access     the Host check, the client's address behind a trusted proxy,
               and the guards every route goes through
    passwords  password strength and hashing
    sessions   sessions, CSRF, the wrong-password throttle
    auth       /api/auth: setup, login, logout, password change
    manage     what the handlers below share: the live gateway, who acts
    providers  /api/providers, /api/accounts, /api/catalog
    routing    /api/combos, /api/aliases
    settings   /api/settings
    spending   /api/prices, /api/budgets: price overrides and spending ceilings
    health     /api/health: breakers, cooldowns, limiters, and their reset
    audit      /api/audit
    params     query parameters of the read routes: numbers, moments, periods
    logs       /api/logs/requests: the request log, filtered and paged
    observe    /api/telemetry, /api/monitor, /api/logs/console: live observation
    usage      /api/usage: the request log summed up by provider, model, key, day
    quota      /api/quota: every account's usage windows and whether it is skipped
    translate  /api/translate: the translator playground
    evals      /api/evals: eval suites and their runs against models
    keys       /api/keys: client keys and their scope
    transfer   /api/export, /api/import, /api/backups: export, import, backup, restore
    tools      /api/tools: point coding tools on the gateway's machine at it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.api.admin.access import ADMIN_TOKEN, Guards, HostCheck
from omniroute.api.admin.audit import AuditRoutes
from omniroute.api.admin.auth import AuthRoutes
from omniroute.api.admin.evals import EvalRoutes
from omniroute.api.admin.health import HealthRoutes
from omniroute.api.admin.keys import KeyRoutes
from omniroute.api.admin.logs import LogRoutes
from omniroute.api.admin.manage import LiveGateway, Manage
from omniroute.api.admin.oauth import OAuthRoutes
from omniroute.api.admin.observe import ObserveRoutes
from omniroute.api.admin.providers import ProviderRoutes
from omniroute.api.admin.quota import QuotaRoutes
from omniroute.api.admin.routing import RoutingRoutes
from omniroute.api.admin.sessions import AdminAuth
from omniroute.api.admin.settings import SettingsRoutes
from omniroute.api.admin.spending import SpendingRoutes
from omniroute.api.admin.tools import ToolRoutes
from omniroute.api.admin.transfer import TransferRoutes
from omniroute.api.admin.translate import TranslateRoutes
from omniroute.api.admin.usage import UsageRoutes
from omniroute.api.status import AdminAccess, StatusView
from omniroute.config.options import Options
from omniroute.http.routing import Router
from omniroute.store import Store
from omniroute.store.admin import AdminRows


class AdminApi:
    __slots__ = ("auth", "guards", "rows", "_store", "_options", "_describe", "_manage")

    def __init__(
        self,
        store: Store,
        token: AdminAccess,
        *,
        options: Callable[[], Options],
        bound_host: Callable[[], str | None],
        session_ttl: float,
        describe: Callable[[], dict[str, Any]],
        live: LiveGateway,
    ) -> None:
        self._store = store
        self.rows = AdminRows(store)
        self.auth = AdminAuth(self.rows, session_ttl)
        self.guards = Guards(self.auth, token, HostCheck(bound_host, options), options)
        self._options = options
        self._describe = describe
        self._manage = Manage(live, options)

    @property
    def live(self) -> LiveGateway:
        """The running gateway's parts, for the other management doors (MCP)."""
        return self._manage.live

    def install(self, router: Router) -> None:
        AuthRoutes(self.auth, self.guards, self._options).install(router)
        applied = self._manage.applied
        KeyRoutes(self._store, self.guards, self._options, applied).install(router)
        status = self.guards.token_or_session(StatusView(self._describe))
        router.add("GET", "/api/status", status, label=ADMIN_TOKEN)
        ProviderRoutes(self._manage).install(router, self.guards)
        RoutingRoutes(self._manage).install(router, self.guards)
        SettingsRoutes(self._manage).install(router, self.guards)
        SpendingRoutes(self._manage).install(router, self.guards)
        HealthRoutes(self._manage).install(router, self.guards)
        QuotaRoutes(self._manage).install(router, self.guards)
        AuditRoutes(self._manage.live.store).install(router, self.guards)
        live = self._manage.live
        observers = live.observers
        LogRoutes(live.store, observers.capture).install(router, self.guards)
        ObserveRoutes(observers.telemetry, observers.monitor, live.console).install(
            router, self.guards
        )
        UsageRoutes(self._manage.live.store).install(router, self.guards)
        if live.sign_ins is not None and live.tokens is not None:
            OAuthRoutes(self._manage, live.sign_ins, live.tokens).install(router, self.guards)
        TranslateRoutes().install(router, self.guards)
        if live.evals is not None:
            EvalRoutes(self._manage, live.evals).install(router, self.guards)
        TransferRoutes(self._store, self.guards, self._options, applied).install(router)
        ToolRoutes(
            self._store, self._manage.live.settings, self.guards, self._options, applied
        ).install(router)
