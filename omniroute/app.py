"""Wiring: settings -> store -> registry -> pipeline -> server; start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniroute import __version__, errors
from omniroute.api.admin import AdminApi
from omniroute.api.admin.access import CLIENT_KEY, PUBLIC
from omniroute.api.admin.manage import LiveGateway
from omniroute.api.client import ClientApi, normalise_path, request_id
from omniroute.api.dialect import dialect_for_path, error_response
from omniroute.api.mcp.http import McpRoutes
from omniroute.api.status import AdminAccess, rss_bytes
from omniroute.gateway.console import LOGGER, ConsoleLog, LogFile
from omniroute.gateway.conversations import ConversationMemory
from omniroute.gateway.costs import Costs
from omniroute.gateway.credentials import Credentials
from omniroute.gateway.evals.runner import EvalRunner
from omniroute.gateway.observe import Observers
from omniroute.gateway.pipeline import Pipeline
from omniroute.gateway.registry import Registry, RegistryWatcher
from omniroute.gateway.resilience import Resilience
from omniroute.gateway.response_cache import ResponseCache
from omniroute.http.message import Handler, Request, Response, StreamResponse
from omniroute.http.routing import Router
from omniroute.http.server import Server
from omniroute.http.static import StaticFiles
from omniroute.providers.catalog import Catalog
from omniroute.providers.oauth.http import OAuthHttp
from omniroute.providers.oauth.service import SignIns
from omniroute.providers.oauth.tokens import TokenManager
from omniroute.settings import Settings, local_url
from omniroute.store import Store
from omniroute.store.auto_backup import AutoBackups
from omniroute.store.lock import DataDirLock
from omniroute.store.request_log import RequestFilter
from omniroute.upstream import UpstreamClient

log = logging.getLogger("omniroute")

TELEMETRY_HISTORY = 86_400.0  # the longest telemetry window, read back after a start
_REBUILD_PAGE = 2000
_MAX_REBUILD_PAGES = 5000

# Paths that belong to the APIs: never answered with a dashboard file.
_API_PREFIXES = ("/v1/", "/v1beta/", "/api/")


# The dashboard runs only its own files: no inline script or style, nothing
# from another origin, never inside a frame, no referrer leaving the page.
DASHBOARD_HEADERS = (
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)


def web_root() -> Path:
    """The dashboard's files: packaged with the wheel, or web/ in a checkout."""
    packaged = Path(__file__).resolve().parent / "web"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "web"


class Gateway:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        catalog: Catalog | None = None,
    ) -> None:
        """``clock``: wall time for spending periods (UTC days and months)
        and the response cache's TTL; ``catalog``: the built-in one unless
        given."""
        self.settings = settings
        self.started = time.time()
        self.store = Store(settings)
        self.catalog = catalog or Catalog.load()
        self.upstream = UpstreamClient(settings)
        self._registry: Registry | None = None
        self.resilience = Resilience(price_of=lambda ref: self.registry().price_of(ref))
        self._watcher = RegistryWatcher(
            self.store, self.catalog, settings.config_poll_interval, self._swap
        )
        self.observers = Observers()
        self.console = ConsoleLog()
        self.log_file = LogFile()
        self._rebuild: asyncio.Task[None] | None = None
        self.costs = Costs(self.registry, clock)
        self.sign_ins = SignIns(self.store, OAuthHttp(self.upstream), on_signed_in=self._signed_in)
        self.tokens = TokenManager(self.store, self.sign_ins.methods, proxy_for=self._proxy_of)
        self._sweep: asyncio.Task[None] | None = None
        self._grants_reload: asyncio.Task[None] | None = None
        self.pipeline = Pipeline(
            settings,
            self.registry,
            self.upstream,
            self.store,
            self.resilience,
            self.observers,
            self.costs,
            Credentials(self.tokens),
            cache=ResponseCache(self.store, lambda: self.registry().options.cache, clock=clock),
        )
        self.evals = EvalRunner(self.pipeline, self.store)
        self.auto_backups = AutoBackups(
            self.store,
            lambda: (
                self.registry().options.backup_interval_hours,
                self.registry().options.backup_retention,
            ),
            settings.backup_check_interval,
        )
        self.admin = AdminAccess(settings.data_dir)
        self._lock = DataDirLock(settings.data_dir)
        self._stopped = False
        self.memory = ConversationMemory(self.store, settings.responses_memory_ttl)
        # The client API on one router, the management side (``/api`` and the
        # dashboard, which answers every GET the API does not own) on
        # another: with ``admin_port`` each is served on its own port only.
        self.client_router = Router()
        client_api = ClientApi(settings, self.registry, self.pipeline, self.memory, self.started)
        client_api.install(self.client_router, label=CLIENT_KEY, public=PUBLIC)
        self.admin_api = AdminApi(
            self.store,
            self.admin,
            options=lambda: self.registry().options,
            bound_host=lambda: self._admin_address()[0],
            session_ttl=settings.admin_session_ttl,
            describe=self.describe,
            live=LiveGateway(
                store=self.store,
                settings=settings,
                catalog=self.catalog,
                registry=self.registry,
                resilience=self.resilience,
                upstream=self.upstream,
                reload=self._watcher.load,
                observers=self.observers,
                console=self.console,
                details=self.details,
                sign_ins=self.sign_ins,
                tokens=self.tokens,
                evals=self.evals,
                quotas=self.pipeline.quotas,
            ),
        )
        self.admin_router = Router()
        self.admin_api.install(self.admin_router)
        self.mcp = McpRoutes(
            self.admin_api.live, self.admin_api.rows, lambda: self.registry().options
        )
        self.mcp.install(self.admin_router, self.admin_api.guards)
        self.web = Router()
        dashboard = self.admin_api.guards.public(StaticFiles(web_root(), headers=DASHBOARD_HEADERS))
        self.web.add("GET", "/{path:path}", dashboard, label=PUBLIC)
        self.split = settings.admin_port is not None
        self.server = Server(
            self.handle,
            settings,
            error_factory=self._protocol_error,
            body_limit=lambda request: client_api.body_limit(normalise_path(request.path)),
        )
        self.admin_server = (
            Server(self.handle_admin, settings, error_factory=self._protocol_error)
            if self.split
            else None
        )
        self.address: tuple[str, int] | None = None
        self.admin_address: tuple[str, int] | None = None

    def registry(self) -> Registry:
        assert self._registry is not None, "Gateway.start() loads the registry"
        return self._registry

    def _swap(self, registry: Registry) -> None:
        if self._registry is not None:
            # A sign-in from the command line lands in the database: read the
            # grants again with the configuration it changed.
            self._grants_reload = asyncio.create_task(self.tokens.load())
        self._registry = registry
        self.resilience.apply(registry)
        self.store.limit_log_rows(registry.options.request_log.max_rows)
        self.log_file.apply(registry.options.log)
        self.pipeline.cache.config_changed()

    async def start(self) -> tuple[str, int]:
        logging.getLogger(LOGGER).addHandler(self.console)
        self._lock.acquire()
        try:
            await self.store.open()
        except BaseException:
            self._lock.release()
            raise
        try:
            await self.tokens.load()
            await self._watcher.load()
            await self._initial_password()
            await self.resilience.restore(self.store)
            await self.costs.rebuild(self.store)
            await self.evals.recover()
            await self.pipeline.cache.start()
            await self.pipeline.quotas.rebuild(self.store)
            self._watcher.start()
            self._rebuild = asyncio.create_task(self._rebuild_telemetry(time.time()))
            self.resilience.start_saving(self.store)
            self.auto_backups.start()
            self._sweep = asyncio.create_task(self.tokens.run())
            self.pipeline.quotas.start()
            self.address = await self.server.start(self.settings.host, self.settings.port)
            if self.admin_server is not None:
                admin_host = self.settings.admin_host or self.settings.host
                self.admin_address = await self.admin_server.start(
                    admin_host, self.settings.admin_port
                )
        except BaseException:  # e.g. the port is taken: leave the database closed and tidy
            if self.address is not None:
                await self.server.shutdown(0)
            await self.auto_backups.stop()
            await self.pipeline.quotas.stop()
            await self._watcher.stop()
            await self._stop_rebuild()
            await self._stop_sign_ins()
            await self.resilience.stop_saving(self.store)
            await self.pipeline.cache.stop()
            await self.store.close()
            self._lock.release()
            self._unhook_logs()
            raise
        self.admin.publish(local_url(*self._admin_address()))
        self._lock.publish(local_url(*self.address))
        return self.address

    def _admin_address(self) -> tuple[str | None, int | None]:
        """Where the management side listens: its own port, or the main one."""
        address = self.admin_address if self.split else self.address
        return address if address is not None else (None, None)

    async def stop(self) -> None:
        """Stop serving (in-flight requests get the shutdown grace), then
        write what is queued and close the store. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.admin.withdraw()
        self.observers.monitor.close()  # live views end now, not after the grace
        if self.admin_server is not None:
            await self.admin_server.shutdown(self.settings.shutdown_grace)
        await self.server.shutdown(self.settings.shutdown_grace)
        await self.auto_backups.stop()
        await self.pipeline.quotas.stop()
        await self._watcher.stop()
        await self._stop_rebuild()
        await self._stop_sign_ins()
        await self.evals.stop()
        await self.resilience.stop_saving(self.store)
        await self.memory.drain()
        await self.pipeline.cache.stop()
        await self.upstream.aclose()
        await self.store.close()
        self._lock.release()
        self._unhook_logs()

    async def _signed_in(self, account_id: int) -> None:
        """A sign-in completed here: its grant and account are in use now."""
        await self.tokens.load()
        await self._watcher.load()

    def _proxy_of(self, account_id: int) -> str | None:
        """The egress proxy of an account: its token calls take it too."""
        for provider in self.registry().providers():
            if account_id in provider.proxies:
                return provider.proxies[account_id]
        return None

    async def _stop_sign_ins(self) -> None:
        for task in (self._sweep, self._grants_reload):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sweep = self._grants_reload = None
        await self.sign_ins.close()

    def _unhook_logs(self) -> None:
        logging.getLogger(LOGGER).removeHandler(self.console)
        self.log_file.close()

    async def _rebuild_telemetry(self, started: float) -> None:
        """Count the last day's logged requests from before this start into
        the telemetry windows, a page at a time (a background task)."""
        since = started - TELEMETRY_HISTORY
        wanted = RequestFilter(limit=_REBUILD_PAGE, since=since, until=started)
        try:
            # Bounded: a day of rows, a page at a time.
            async for found in self.store.request_pages(wanted, _MAX_REBUILD_PAGES):
                self.observers.telemetry.rebuild(f.row for f in found)
        except Exception:
            log.warning("telemetry: could not read the request log back", exc_info=True)

    async def _stop_rebuild(self) -> None:
        task, self._rebuild = self._rebuild, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def details(self) -> dict[str, Any]:
        """The process, for the detailed health view."""
        limiters = self.resilience.limiter.listing()
        monitor = self.observers.monitor
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "version": __version__,
            "memory": {"rss_bytes": rss_bytes()},
            "queues": {
                "request_log": self.store.queued_log_rows,
                "request_log_dropped": self.store.dropped_log_rows,
                "limiters": sum(li.queued for li in limiters),
                "monitor": monitor.queued(),
                "log_file": self.log_file.queued,
            },
            "connections": {
                "open": self.server.connection_count
                + (self.admin_server.connection_count if self.admin_server else 0),
                "active_requests": self.server.active_requests
                + (self.admin_server.active_requests if self.admin_server else 0),
            },
            "pools": {"upstream": self.upstream.stats()},
            "watchers": {"monitor": monitor.watchers},
            "telemetry_series": len(self.observers.telemetry),
            "cache": self.pipeline.cache.stats(),
        }

    async def _initial_password(self) -> None:
        """``INITIAL_PASSWORD`` sets the admin password at the first start
        only: once one exists it is ignored (and says so)."""
        password = self.settings.initial_password
        if not password:
            return
        if await self.admin_api.auth.has_password():
            log.info("INITIAL_PASSWORD ignored: an admin password is already set")
            return
        await self.admin_api.auth.set_password(password, actor="system", address=None)
        log.info("admin password set from INITIAL_PASSWORD")

    def routes(self) -> list[tuple[str, str, str]]:
        """(method, pattern, guard) of every route, the dashboard's last."""
        return self.client_router.routes() + self.admin_router.routes() + self.web.routes()

    def describe(self) -> dict[str, Any]:
        """Everything the detailed health view shows besides the basics."""
        return {
            "config_revision": self.registry().snapshot.revision,
            "connections": self.server.connection_count
            + (self.admin_server.connection_count if self.admin_server else 0),
            "active_requests": self.server.active_requests
            + (self.admin_server.active_requests if self.admin_server else 0),
            "upstream_pool": self.upstream.stats(),
            "log_rows_dropped": self.store.dropped_log_rows,
            **self.resilience.status(),
        }

    async def handle(self, request: Request) -> Response | StreamResponse:
        """The main port: the client API, and the management side too unless
        it has a port of its own."""
        return await self._handle(request, admin=not self.split, client=True)

    async def handle_admin(self, request: Request) -> Response | StreamResponse:
        """The admin port: ``/api`` and the dashboard only."""
        return await self._handle(request, admin=True, client=False)

    async def _handle(
        self, request: Request, *, admin: bool, client: bool
    ) -> Response | StreamResponse:
        rid = request_id(request)
        request.state["request_id"] = rid
        path = normalise_path(request.path)
        try:
            handler, params = self._match(request.method, path, admin=admin, client=client)
            request.path_params = params
            response = await handler(request)
        except errors.OmniError as err:
            response = error_response(dialect_for_path(path), err)
        except Exception:
            log.exception("request %s failed", rid)
            internal = errors.InternalError("The gateway hit an internal error; see its log.")
            response = error_response(dialect_for_path(path), internal)
        response.headers.append(("x-request-id", rid))
        return response

    def _match(
        self, method: str, path: str, *, admin: bool, client: bool
    ) -> tuple[Handler, dict[str, str]]:
        if client:
            try:
                return self.client_router.match(method, path)
            except errors.NotFound:
                if not admin:
                    raise
        try:
            return self.admin_router.match(method, path)
        except errors.NotFound:
            if path.startswith(_API_PREFIXES):
                raise
            return self.web.match(method, path)

    def _protocol_error(self, status: int, message: str, request: Request | None) -> Response:
        path = normalise_path(request.path) if request is not None else "/"
        err = errors.OmniError(message, status=status, kind=errors.kind_for_status(status))
        return error_response(dialect_for_path(path), err)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    # Signals are caught before the server says it listens: a SIGTERM sent as
    # soon as that line appears still gets a graceful stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(settings)
    host, port = await gateway.start()
    log.info("OmniRoute listening on http://%s:%d (data in %s)", host, port, settings.data_dir)
    if gateway.admin_address is not None:
        log.info("dashboard and /api on http://%s:%d", *gateway.admin_address)
    snapshot = gateway.registry().snapshot
    if not snapshot.providers:
        log.info("no provider yet: add one with `omniroute provider add` (see --help)")
    if not any(not k.revoked for k in snapshot.client_keys):
        log.info("no client key yet: create one with `omniroute key create`")
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        await gateway.stop()
