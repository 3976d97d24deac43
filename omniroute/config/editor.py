"""Every change to the configuration that has rules to pass goes through
here: checked first, then written by the store, acknowledged after commit.

The CLI and the management API both use this one place, so they cannot
disagree about what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omniroute.config.base_urls import check_base_url
from omniroute.config.options import check_extra, check_setting
from omniroute.config.routing import combo_check, combos_naming
from omniroute.errors import BadRequest
from omniroute.providers.catalog import Catalog
from omniroute.store import AccountRecord, ComboRecord, ComboTargetRecord, ProviderRecord, Store


class ConfigEditor:
    __slots__ = ("store", "_catalog")

    def __init__(self, store: Store, catalog: Catalog | None = None) -> None:
        self.store = store
        self._catalog = catalog  # loaded on first need (checking combo targets)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.load()
        return self._catalog

    # -- settings

    async def set_setting(self, key: str, value: Any) -> None:
        await self.store.set_setting(key, check_setting(key, value))

    async def merge_setting(self, key: str, patch: Mapping[str, Any]) -> Any:
        """Merge ``patch`` into the object setting ``key`` (None removes a
        field; nothing left removes the setting); returns the new value."""
        return await self.store.merge_setting(key, patch, lambda v: check_setting(key, v))

    async def delete_setting(self, key: str) -> bool:
        return await self.store.delete_setting(key)

    # -- providers and accounts

    async def add_account(
        self,
        name: str,
        api_key: str,
        *,
        provider: tuple[str, str, Sequence[str] | None] | None = None,
        provider_extra: Mapping[str, Any] | None = None,
        priority: int | None = None,
        account_extra: Mapping[str, Any] | None = None,
    ) -> tuple[ProviderRecord, AccountRecord]:
        """Add an account to provider ``name``, creating or changing the
        provider first when ``provider`` (format, base_url, models) is given;
        one transaction."""
        what = f"provider {name!r}"
        await check_base_url(self.store, None if provider is None else provider[1])
        return await self.store.add_provider_account(
            name,
            api_key,
            provider=provider,
            provider_extra=None
            if provider_extra is None
            else check_extra(provider_extra, account=False, what=what),
            priority=priority,
            account_extra=None
            if account_extra is None
            else check_extra(account_extra, account=True, what=f"the new account of {what}"),
        )

    async def update_provider(
        self,
        name: str,
        *,
        base_url: str | None = None,
        models: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ProviderRecord:
        patch = (
            None if extra is None else check_extra(extra, account=False, what=f"provider {name!r}")
        )
        await check_base_url(self.store, base_url)
        return await self.store.update_provider(name, base_url=base_url, models=models, extra=patch)

    async def remove_provider(self, name: str) -> dict[str, list[str]]:
        """Remove a provider with its accounts; returns the combos whose
        targets still name it (combo -> those targets), which now route
        elsewhere or nowhere. BadRequest when there is no such provider."""
        naming = combos_naming(await self.store.snapshot(), name, self.catalog)
        if not await self.store.delete_provider(name):
            raise BadRequest(f"unknown provider {name!r}")
        return naming

    async def update_account(
        self,
        account_id: int,
        *,
        priority: int | None = None,
        enabled: bool | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AccountRecord:
        patch = (
            None
            if extra is None
            else check_extra(extra, account=True, what=f"account {account_id}")
        )
        return await self.store.update_account(
            account_id, priority=priority, enabled=enabled, extra=patch
        )

    # -- combos

    async def upsert_combo(
        self,
        name: str,
        targets: Sequence[ComboTargetRecord],
        *,
        strategy: str = "fill-first",
        system_prompt: str | None = None,
        enabled: bool = True,
    ) -> ComboRecord:
        """Create or replace a combo; refused (BadRequest) when it names an
        unknown strategy, would make a cycle, or a target routes nowhere."""
        return await self.store.upsert_combo(
            name,
            targets,
            strategy=strategy,
            system_prompt=system_prompt,
            enabled=enabled,
            check=combo_check(self.catalog),
        )
