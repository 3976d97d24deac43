"""The live configuration the request path reads: one immutable snapshot.

The store is the source of truth; the registry holds the latest
``ConfigSnapshot`` plus what is derived from it once per change: the typed
options, the routing view, and for each provider its catalog entry, family,
options, merged headers and enabled accounts. It is swapped whole when the
store's config revision moves (a change from the CLI in another process, the
dashboard, an import). Readers never lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from omniroute.config.options import Options, ProviderOptions, egress_proxy
from omniroute.config.routing import catalog_entry, provider_view, view_of
from omniroute.errors import NotFound
from omniroute.gateway.secrets import Scrubber, proxy_secrets
from omniroute.providers import ProviderFamily, family_for, served_capabilities
from omniroute.providers.catalog import Catalog, CatalogProvider, ModelPrice
from omniroute.routing.model import ProviderView, RoutingView, Target
from omniroute.routing.resolve import Resolution, resolve, resolve_model
from omniroute.store import ConfigSnapshot, Store
from omniroute.store.records import AccountRecord, ProviderRecord

log = logging.getLogger("omniroute.registry")


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """One configured provider with everything the pipeline needs to call it."""

    record: ProviderRecord
    catalog: CatalogProvider | None
    family: ProviderFamily
    options: ProviderOptions
    accounts: tuple[AccountRecord, ...]  # enabled ones, priority order
    account_options: Mapping[int, ProviderOptions]
    proxies: Mapping[int, str | None]  # each account's egress proxy (None: direct)
    scrubbers: Mapping[int, Scrubber]  # each account's secrets, to keep out of errors
    headers: Mapping[str, str]  # the catalog's defaults, then the provider's own
    view: ProviderView
    capabilities: frozenset[str]  # what it serves (models may serve less)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def format(self) -> str:
        return self.record.format

    @property
    def auth_header(self) -> str | None:
        return self.catalog.auth_header if self.catalog else None

    @property
    def strip(self) -> tuple[str, ...]:
        """Answer fields this provider adds that strict SDKs refuse."""
        return self.catalog.strip if self.catalog else ()

    def offers(self, capability: str, model: str | None = None) -> bool:
        """Whether the provider (and ``model`` on it, when given) serves
        ``capability``. A model the catalog describes serves what it lists;
        any other model serves what its provider does."""
        if capability not in self.capabilities:
            return False
        found = self.catalog.model(model) if self.catalog and model is not None else None
        return found is None or found.capabilities is None or capability in found.capabilities

    def price(self, model: str) -> ModelPrice | None:
        found = self.catalog.model(model) if self.catalog else None
        return found.price if found else None

    @classmethod
    def build(
        cls, record: ProviderRecord, snapshot: ConfigSnapshot, catalog: Catalog, options: Options
    ) -> ProviderInfo:
        entry = catalog_entry(record, catalog)
        own = ProviderOptions.read(record.extra, f"provider {record.name!r}")
        accounts = tuple(a for a in snapshot.accounts_for(record.id) if a.enabled)
        headers = dict(entry.headers) if entry else {}
        headers.update(own.headers)
        account_options = {a.id: ProviderOptions.read(a.extra, f"account {a.id}") for a in accounts}
        proxies: dict[int, str | None] = {}
        scrubbers: dict[int, Scrubber] = {}
        for account in accounts:
            proxy = proxies[account.id] = egress_proxy(options, own, account_options[account.id])
            scrubbers[account.id] = Scrubber(
                (account.api_key, *proxy_secrets(proxy), *own.headers.values())
            )
        family = family_for(record.format, entry.dialect if entry else None)
        return cls(
            record=record,
            catalog=entry,
            family=family,
            options=own,
            accounts=accounts,
            account_options=MappingProxyType(account_options),
            proxies=MappingProxyType(proxies),
            scrubbers=MappingProxyType(scrubbers),
            headers=MappingProxyType(headers),
            view=provider_view(record, entry, bool(accounts)),
            capabilities=frozenset(
                served_capabilities(
                    record.format, entry.capabilities if entry else None, own.capabilities
                )
            ),
        )


_RESOLVED_KEPT = 1024  # model strings whose resolution is remembered per configuration


@dataclass(frozen=True, slots=True)
class Registry:
    snapshot: ConfigSnapshot
    catalog: Catalog
    options: Options
    view: RoutingView
    _providers: Mapping[str, ProviderInfo] = field(repr=False)
    # Resolutions depend only on this configuration, so each model string is
    # resolved once per configuration rather than once per request.
    _resolved: dict[str, Resolution] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, snapshot: ConfigSnapshot, catalog: Catalog) -> Registry:
        options = Options.read(snapshot.settings)
        providers = {
            p.name: ProviderInfo.build(p, snapshot, catalog, options) for p in snapshot.providers
        }
        view = view_of(tuple(p.view for p in providers.values()), snapshot)
        return cls(snapshot, catalog, options, view, MappingProxyType(providers))

    def provider(self, name: str) -> ProviderInfo:
        return self._providers[name]

    def providers(self) -> tuple[ProviderInfo, ...]:
        return tuple(self._providers.values())

    def resolve(self, model: str) -> Resolution:
        found = self._resolved.get(model)
        if found is None:
            found = resolve(model, self.view)
            if len(self._resolved) >= _RESOLVED_KEPT:
                self._resolved.clear()
            self._resolved[model] = found
        return found

    def proxy_for(self, provider: ProviderInfo, account: AccountRecord) -> str | None:
        """The egress proxy of one account (the most specific setting wins)."""
        if account.id in provider.proxies:
            return provider.proxies[account.id]
        mine = ProviderOptions.read(account.extra, f"account {account.id}")
        return egress_proxy(self.options, provider.options, mine)

    def system_prompt(self, target: Target) -> str | None:
        """The global system prompt, then the combo's own, before the client's."""
        parts = []
        if self.options.system_prompt:
            parts.append(self.options.system_prompt)
        if target.combo is not None:
            combo = self.view.combos.get(target.combo)
            if combo is not None and combo.system_prompt:
                parts.append(combo.system_prompt.strip())
        return "\n\n".join(parts) or None

    def price_of(self, ref: str) -> float | None:
        """Blended USD per 1M tokens of a model string (cost-optimized routing)."""
        try:
            target = resolve_model(ref, self.view)[0]
        except NotFound:
            return None
        price = self._providers[target.provider].price(target.model)
        return price.blended() if price else None

    def model_ids(self, capability: str | None = None) -> list[str]:
        """What ``/v1/models`` lists: enabled combos first, then ``prefix/model``
        for every provider that can serve (alias as prefix when it has one);
        with ``capability``, only what serves it (a combo when one of its
        targets does)."""
        combos = sorted(c.name for c in self.snapshot.combos if c.enabled)
        serving = sorted(
            (p for p in self._providers.values() if p.view.usable), key=lambda p: p.name
        )
        models = [
            f"{p.view.alias or p.name}/{m}"
            for p in serving
            for m in p.view.models
            if capability is None or p.offers(capability, m)
        ]
        if capability is not None:
            combos = [c for c in combos if self._combo_offers(c, capability)]
        return combos + models

    def _combo_offers(self, name: str, capability: str) -> bool:
        try:
            targets = self.resolve(name).targets
        except NotFound:
            return False
        return any(self.provider(t.provider).offers(capability, t.model) for t in targets)


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
        # The poller and a management change may load at once; one at a time,
        # so an older snapshot never replaces a newer one.
        self._loading = asyncio.Lock()

    async def load(self) -> Registry:
        """Read the configuration now and swap the registry (also called
        right after a management change, so it takes effect before the
        change is acknowledged)."""
        async with self._loading:
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
