"""What a tool works on. Over HTTP that is the running gateway itself (its
live registry, breakers and upstream client); from ``omniroute mcp`` it is the
data directory's store, like every other CLI command: changes reach a running
gateway through the config revision it polls, and health comes from that
gateway when one runs (through its admin file), else there is none to show.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from omniroute import errors
from omniroute.api.admin.health import health_view
from omniroute.api.admin.manage import LiveGateway
from omniroute.api.status import call_running_gateway
from omniroute.config.audit import Actor
from omniroute.config.editor import ConfigEditor
from omniroute.gateway.registry import Registry
from omniroute.providers.catalog import Catalog
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.upstream import UpstreamClient

log = logging.getLogger("omniroute.mcp")

MCP = "mcp"  # the audit log's actor for every change made through MCP
_HEALTH_SECONDS = 5.0


class Context(Protocol):
    """The parts of the gateway the tools reach, and who acts."""

    @property
    def store(self) -> Store: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def actor(self) -> Actor: ...

    async def registry(self) -> Registry: ...

    def upstream(self) -> UpstreamClient: ...

    async def applied(self) -> None:
        """After a committed change: the gateway works by it from now on."""

    async def health(self) -> dict[str, Any] | None:
        """The ``GET /api/health`` view, or None when no gateway runs."""


def editor(context: Context) -> ConfigEditor:
    """The ConfigEditor in the MCP actor's name: audited like the API."""
    return ConfigEditor(context.store, context.catalog, actor=context.actor)


@dataclass(frozen=True, slots=True)
class LiveContext:
    """Inside the running gateway (the ``/mcp`` route)."""

    live: LiveGateway
    actor: Actor

    @property
    def store(self) -> Store:
        return self.live.store

    @property
    def catalog(self) -> Catalog:
        return self.live.catalog

    async def registry(self) -> Registry:
        return self.live.registry()

    def upstream(self) -> UpstreamClient:
        return self.live.upstream

    async def applied(self) -> None:
        await self.live.reload()

    async def health(self) -> dict[str, Any] | None:
        return health_view(self.live)


class LocalContext:
    """From a shell (``omniroute mcp``): the store directly."""

    __slots__ = ("store", "catalog", "actor", "_settings", "_upstream")

    def __init__(self, store: Store, settings: Settings, catalog: Catalog | None = None) -> None:
        self.store = store
        self.catalog = catalog or Catalog.load()
        self.actor = Actor(MCP)
        self._settings = settings
        self._upstream: UpstreamClient | None = None

    async def registry(self) -> Registry:
        return Registry.build(await self.store.snapshot(), self.catalog)

    def upstream(self) -> UpstreamClient:
        if self._upstream is None:
            self._upstream = UpstreamClient(self._settings)
        return self._upstream

    async def applied(self) -> None:
        """A running gateway sees the new config revision within a second."""

    async def health(self) -> dict[str, Any] | None:
        try:
            found = await asyncio.to_thread(
                call_running_gateway, self._settings, "/api/health", timeout=_HEALTH_SECONDS
            )
        except errors.BadRequest as exc:
            log.warning("%s", exc.message)
            return None
        answer = found[1] if found is not None else None
        return answer if isinstance(answer, dict) else None

    async def aclose(self) -> None:
        if self._upstream is not None:
            await self._upstream.aclose()
