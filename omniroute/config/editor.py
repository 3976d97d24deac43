"""Every change to the configuration that has rules to pass goes through
here: checked first, then written by the store, acknowledged after commit,
then written to the audit log in the name of whoever made it.

The CLI and the management API both use this one place, so they cannot
disagree about what is allowed, and a change from either is audited alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omniroute.config import spending
from omniroute.config.audit import CLI, Actor, Auditor, difference
from omniroute.config.base_urls import check_base_url
from omniroute.config.describe import account_json, alias_json, combo_json, provider_json
from omniroute.config.options import check_extra, check_setting
from omniroute.config.routing import combo_check, combos_naming
from omniroute.config.setting_keys import SettingError, split_changes
from omniroute.errors import BadRequest, Conflict, NotFound
from omniroute.providers.catalog import Catalog
from omniroute.store import (
    AccountRecord,
    AliasRecord,
    ComboRecord,
    ComboTargetRecord,
    ConfigSnapshot,
    ProviderRecord,
    Store,
)
from omniroute.store.routing_tables import ComboCheck


class ConfigEditor:
    __slots__ = ("store", "_catalog", "audit")

    def __init__(self, store: Store, catalog: Catalog | None = None, *, actor: Actor = CLI) -> None:
        self.store = store
        self._catalog = catalog  # loaded on first need (checking combo targets)
        self.audit = Auditor(store, actor)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.load()
        return self._catalog

    # -- settings

    async def set_setting(self, key: str, value: Any) -> None:
        before = (await self.store.snapshot()).settings.get(key)
        await self.store.set_setting(key, check_setting(key, value))
        await self._settings_changed({key: before}, {key: value}, key)

    async def merge_setting(self, key: str, patch: Mapping[str, Any]) -> Any:
        """Merge ``patch`` into the object setting ``key`` (None removes a
        field; nothing left removes the setting); returns the new value."""
        before = (await self.store.snapshot()).settings.get(key)
        after = await self.store.merge_setting(key, patch, lambda v: check_setting(key, v))
        await self._settings_changed({key: before}, {key: after}, key)
        return after

    async def delete_setting(self, key: str) -> bool:
        before = (await self.store.snapshot()).settings.get(key)
        deleted = await self.store.delete_setting(key)
        if deleted:
            await self._settings_changed({key: before}, {key: None}, key)
        return deleted

    async def change_settings(self, changes: Mapping[str, Any]) -> None:
        """Settings by their names (``breaker.window``: see ``setting_keys``),
        all in one transaction: one refusal (SettingError, naming the key)
        and nothing changes. None restores a setting's default."""
        values, fields, names = split_changes(changes)

        def check(setting: str, value: Any) -> Any:
            try:
                return check_setting(setting, value)
            except BadRequest as exc:
                given = names[setting]
                raise SettingError(given[0] if len(given) == 1 else setting, exc.message) from None

        before, after = await self.store.change_settings(values, fields, check)
        await self._settings_changed(before, after, ", ".join(changes))

    async def _settings_changed(
        self, before: Mapping[str, Any], after: Mapping[str, Any], target: str
    ) -> None:
        await self.audit.record("settings.update", target, difference(before, after))

    # -- prices and budgets (one entry of the ``prices`` / ``budgets`` settings)

    async def set_price(self, ref: str, price: Mapping[str, Any]) -> dict[str, Any]:
        """Override the price of ``provider/model``; returns it as stored."""
        ref = spending.check_model_ref(ref)
        checked = spending.check_price(ref, price)
        before = (await self.store.snapshot()).settings.get(spending.PRICES) or {}
        await self.store.merge_setting(
            spending.PRICES, {ref: checked}, lambda v: check_setting(spending.PRICES, v)
        )
        await self.audit.record("price.set", ref, difference(before.get(ref) or {}, checked))
        return checked

    async def unset_price(self, ref: str) -> bool:
        """Back to the catalog's price; False if ``ref`` had no override."""
        before = (await self.store.snapshot()).settings.get(spending.PRICES) or {}
        if ref not in before:
            return False
        await self.store.merge_setting(
            spending.PRICES, {ref: None}, lambda v: check_setting(spending.PRICES, v)
        )
        await self.audit.record("price.unset", ref, {"before": before[ref]})
        return True

    async def set_budget(self, scope: str, budget: Mapping[str, Any]) -> dict[str, Any]:
        """Set the daily and/or monthly ceiling of a scope; returns it as stored."""
        scope = spending.check_scope(scope)
        checked = spending.check_budget(scope, budget)
        before = (await self.store.snapshot()).settings.get(spending.BUDGETS) or {}
        await self.store.merge_setting(
            spending.BUDGETS, {scope: checked}, lambda v: check_setting(spending.BUDGETS, v)
        )
        await self.audit.record("budget.set", scope, difference(before.get(scope) or {}, checked))
        return checked

    async def unset_budget(self, scope: str) -> bool:
        before = (await self.store.snapshot()).settings.get(spending.BUDGETS) or {}
        if scope not in before:
            return False
        await self.store.merge_setting(
            spending.BUDGETS, {scope: None}, lambda v: check_setting(spending.BUDGETS, v)
        )
        await self.audit.record("budget.unset", scope, {"before": before[scope]})
        return True

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
        new_provider: bool = False,
    ) -> tuple[ProviderRecord, AccountRecord]:
        """Add an account to provider ``name``, creating or changing the
        provider first when ``provider`` (format, base_url, models) is given;
        one transaction. ``new_provider``: Conflict when it exists."""
        what = f"provider {name!r}"
        await check_base_url(self.store, None if provider is None else provider[1])
        existed = (await self.store.snapshot()).provider(name) is not None
        record, account = await self.store.add_provider_account(
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
            new_provider=new_provider,
        )
        snapshot = await self.store.snapshot()
        if existed:
            detail = {"provider": record.name, "after": account_json(account)}
            await self.audit.record("account.add", str(account.id), detail)
        else:
            after = provider_json(record, snapshot, self.catalog)
            await self.audit.record("provider.add", record.name, {"after": after})
        return record, account

    async def update_provider(
        self,
        name: str,
        *,
        base_url: str | None = None,
        models: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> ProviderRecord:
        patch = (
            None if extra is None else check_extra(extra, account=False, what=f"provider {name!r}")
        )
        await check_base_url(self.store, base_url)
        before = await self._provider_json(name)
        updated = await self.store.update_provider(
            name, base_url=base_url, models=models, extra=patch, enabled=enabled
        )
        after = await self._provider_json(name)
        await self.audit.record("provider.update", name, difference(before or {}, after or {}))
        return updated

    async def remove_provider(self, name: str) -> dict[str, list[str]]:
        """Remove a provider with its accounts; returns the combos whose
        targets still name it (combo -> those targets), which now route
        elsewhere or nowhere. NotFound when there is no such provider."""
        snapshot = await self.store.snapshot()
        naming = combos_naming(snapshot, name, self.catalog)
        record = snapshot.provider(name)
        if record is None or not await self.store.delete_provider(name):
            raise NotFound(f"unknown provider {name!r}")
        before = provider_json(record, snapshot, self.catalog)
        await self.audit.record("provider.delete", name, {"before": before, "combos": naming})
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
        before = account_of(await self.store.snapshot(), account_id)
        updated = await self.store.update_account(
            account_id, priority=priority, enabled=enabled, extra=patch
        )
        await self.audit.record(
            "account.update",
            str(account_id),
            difference(account_json(before), account_json(updated)),
        )
        return updated

    async def delete_account(self, account_id: int) -> None:
        before = account_of(await self.store.snapshot(), account_id)
        if not await self.store.delete_account(account_id):
            raise NotFound(f"unknown account id {account_id}")
        await self.audit.record("account.delete", str(account_id), {"before": account_json(before)})

    async def _provider_json(self, name: str) -> dict[str, Any] | None:
        snapshot = await self.store.snapshot()
        record = snapshot.provider(name)
        return None if record is None else provider_json(record, snapshot, self.catalog)

    # -- combos

    async def upsert_combo(
        self,
        name: str,
        targets: Sequence[ComboTargetRecord],
        *,
        strategy: str = "fill-first",
        system_prompt: str | None = None,
        enabled: bool = True,
        exists: bool | None = None,
    ) -> ComboRecord:
        """Create or replace a combo; refused (BadRequest) when it names an
        unknown strategy, would make a cycle, or a target routes nowhere.
        ``exists``: True only changes one (NotFound), False only creates
        (Conflict); checked in the same transaction as the write."""
        before = (await self.store.snapshot()).combo(name)
        combo = await self.store.upsert_combo(
            name,
            targets,
            strategy=strategy,
            system_prompt=system_prompt,
            enabled=enabled,
            check=_existing(exists, combo_check(self.catalog)),
        )
        if before is None:
            await self.audit.record("combo.add", name, {"after": combo_json(combo)})
        else:
            change = difference(combo_json(before), combo_json(combo))
            await self.audit.record("combo.update", name, change)
        return combo

    async def set_combo_enabled(self, name: str, enabled: bool) -> None:
        before = (await self.store.snapshot()).combo(name)
        await self.store.set_combo_enabled(name, enabled)
        was = before.enabled if before is not None else None
        change = difference({"enabled": was}, {"enabled": enabled})
        await self.audit.record("combo.update", name, change)

    async def delete_combo(self, name: str) -> None:
        """Refused (Conflict) while another combo or an alias routes to it."""
        before = (await self.store.snapshot()).combo(name)
        if before is None or not await self.store.delete_combo(name):
            raise NotFound(f"unknown combo {name!r}")
        await self.audit.record("combo.delete", name, {"before": combo_json(before)})

    # -- aliases

    async def add_alias(self, pattern: str, target: str, *, replace: bool = True) -> AliasRecord:
        alias = await self.store.add_alias(pattern, target, replace=replace)
        await self.audit.record("alias.add", pattern, {"after": alias_json(alias)})
        return alias

    async def remove_alias(self, pattern: str) -> None:
        if not await self.store.remove_alias(pattern):
            raise NotFound(f"unknown alias {pattern!r}")
        await self.audit.record("alias.delete", pattern)


def account_of(snapshot: ConfigSnapshot, account_id: int) -> AccountRecord:
    found = next((a for a in snapshot.accounts if a.id == account_id), None)
    if found is None:
        raise NotFound(f"unknown account id {account_id}")
    return found


def _existing(exists: bool | None, check: ComboCheck) -> ComboCheck:
    if exists is None:
        return check

    def checked(snapshot: ConfigSnapshot, candidate: ComboRecord) -> None:
        found = snapshot.combo(candidate.name) is not None
        if exists and not found:
            raise NotFound(f"unknown combo {candidate.name!r}")
        if not exists and found:
            raise Conflict(f"combo {candidate.name!r} exists already")
        check(snapshot, candidate)

    return checked
