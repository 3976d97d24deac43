"""The live configuration the request path reads: one immutable snapshot.

The store is the source of truth; the registry holds the latest
``ConfigSnapshot`` plus what is derived from it (the routing view, each
provider's catalog entry and enabled accounts), and is swapped whole when the
store's config revision moves (a change from the dashboard, the CLI in
another process, or an import). Readers never lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omniroute.errors import NotFound
from omniroute.providers.catalog import Catalog, CatalogProvider, ModelPrice
from omniroute.routing.resolve import (
    Combo,
    ComboTarget,
    ProviderView,
    Resolution,
    RoutingView,
    resolve_model,
)
from omniroute.routing.resolve import resolve as resolve_model_string
from omniroute.store import ConfigSnapshot, Store
from omniroute.store.records import AccountRecord, ProviderRecord

log = logging.getLogger("omniroute.registry")


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """One configured provider with what the pipeline needs to call it."""

    record: ProviderRecord
    catalog: CatalogProvider | None
    accounts: tuple[AccountRecord, ...]  # enabled ones, priority order

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def format(self) -> str:
        return self.record.format

    @property
    def alias(self) -> str | None:
        own = self.record.extra.get("alias")
        if isinstance(own, str) and own:
            return own
        return self.catalog.alias if self.catalog else None

    @property
    def models(self) -> tuple[str, ...]:
        if self.record.models:
            return self.record.models
        return self.catalog.model_ids if self.catalog else ()

    @property
    def auth_header(self) -> str | None:
        return self.catalog.auth_header if self.catalog else None

    @property
    def headers(self) -> dict[str, str]:
        merged = dict(self.catalog.headers) if self.catalog else {}
        own = self.record.extra.get("headers")
        if isinstance(own, Mapping):
            merged.update({str(k): str(v) for k, v in own.items()})
        return merged

    def price(self, model: str) -> ModelPrice | None:
        found = self.catalog.model(model) if self.catalog else None
        return found.price if found else None

    def view(self) -> ProviderView:
        return ProviderView(
            name=self.name,
            alias=self.alias,
            models=self.models,
            enabled=self.record.enabled,
            has_account=bool(self.accounts),
            wildcard=bool(self.catalog and self.catalog.wildcard),
            tier=self.catalog.tier if self.catalog else "api",
        )


def routing_view(snapshot: ConfigSnapshot, catalog: Catalog) -> RoutingView:
    """The configuration as the routing rules see it (also used to validate
    combos before they are saved)."""
    return _build(snapshot, catalog)[1]


def _build(
    snapshot: ConfigSnapshot, catalog: Catalog
) -> tuple[dict[str, ProviderInfo], RoutingView]:
    providers: dict[str, ProviderInfo] = {}
    for record in snapshot.providers:
        entry = record.extra.get("catalog")
        providers[record.name] = ProviderInfo(
            record,
            catalog.get(entry) if isinstance(entry, str) else None,
            tuple(a for a in snapshot.accounts_for(record.id) if a.enabled),
        )
    combos = {
        c.name: Combo(
            name=c.name,
            targets=tuple(ComboTarget(t.ref, t.weight, t.enabled) for t in c.targets),
            strategy=c.strategy,
            enabled=c.enabled,
            system_prompt=c.system_prompt,
        )
        for c in snapshot.combos
    }
    view = RoutingView(
        providers=tuple(p.view() for p in providers.values()),
        combos=combos,
        aliases=tuple((a.pattern, a.target) for a in snapshot.aliases),
    )
    return providers, view


@dataclass(frozen=True, slots=True)
class Registry:
    snapshot: ConfigSnapshot
    catalog: Catalog
    view: RoutingView
    _providers: Mapping[str, ProviderInfo]

    @classmethod
    def build(cls, snapshot: ConfigSnapshot, catalog: Catalog) -> Registry:
        providers, view = _build(snapshot, catalog)
        return cls(snapshot, catalog, view, providers)

    def provider(self, name: str) -> ProviderInfo:
        return self._providers[name]

    def setting(self, key: str, default: Any = None) -> Any:
        return self.snapshot.settings.get(key, default)

    def resolve(self, model: str) -> Resolution:
        return resolve_model_string(model, self.view)

    def price_of(self, ref: str) -> float | None:
        """Blended USD per 1M tokens of a model string (cost-optimized routing)."""
        try:
            target = resolve_model(ref, self.view)[0]
        except NotFound:
            return None
        price = self._providers[target.provider].price(target.model)
        return price.blended() if price else None

    def model_ids(self) -> list[str]:
        """What ``/v1/models`` lists: enabled combos first, then ``prefix/model``
        for every provider that can serve (alias as prefix when it has one)."""
        combos = sorted(c.name for c in self.snapshot.combos if c.enabled)
        serving = sorted(
            (p for p in self._providers.values() if p.record.enabled and p.accounts),
            key=lambda p: p.name,
        )
        return combos + [f"{p.alias or p.name}/{m}" for p in serving for m in p.models]


class RegistryWatcher:
    """Polls the store's config revision and rebuilds the registry on change."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        interval: float,
        on_change: Callable[[Registry], None],
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._interval = interval
        self._on_change = on_change
        self._revision = -1
        self._task: asyncio.Task[None] | None = None

    async def load(self) -> Registry:
        snapshot = await self._store.snapshot()
        self._revision = snapshot.revision
        registry = Registry.build(snapshot, self._catalog)
        self._on_change(registry)
        return registry

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="config-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if await self._store.revision() != self._revision:
                    await self.load()
                    log.info("configuration reloaded (revision %d)", self._revision)
            except Exception:  # keep serving the last good snapshot
                log.exception("could not reload the configuration")
