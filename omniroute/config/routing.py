"""The configuration as the routing rules see it, and the check a combo
passes before it is saved.

``routing_view`` turns a stored snapshot plus the catalog into the routing's
own frozen values (``omniroute.routing.model``); the live registry and the
combo check both use it, so what is checked is what will be routed.
"""

from __future__ import annotations

import dataclasses

from omniroute.errors import BadRequest, NotFound
from omniroute.providers.catalog import Catalog, CatalogProvider
from omniroute.routing.model import Combo, ComboTarget, ProviderView, RoutingView
from omniroute.routing.resolve import resolve_model, validate_combos
from omniroute.routing.strategies import STRATEGIES
from omniroute.store.records import ComboRecord, ConfigSnapshot, ProviderRecord
from omniroute.store.routing_tables import ComboCheck


def catalog_entry(record: ProviderRecord, catalog: Catalog) -> CatalogProvider | None:
    """The catalog entry a provider was added from (None for custom ones)."""
    entry = record.extra.get("catalog")
    return catalog.get(entry) if isinstance(entry, str) else None


def provider_view(
    record: ProviderRecord, entry: CatalogProvider | None, has_account: bool
) -> ProviderView:
    own_alias = record.extra.get("alias")
    alias = own_alias if isinstance(own_alias, str) and own_alias else None
    return ProviderView(
        name=record.name,
        alias=alias or (entry.alias if entry else None),
        models=record.models or (entry.model_ids if entry else ()),
        enabled=record.enabled,
        has_account=has_account,
        wildcard=bool(entry and entry.wildcard),
        tier=entry.tier if entry else "api",
    )


def combo_of(record: ComboRecord) -> Combo:
    return Combo(
        name=record.name,
        targets=tuple(ComboTarget(t.ref, t.weight, t.enabled) for t in record.targets),
        strategy=record.strategy,
        enabled=record.enabled,
        system_prompt=record.system_prompt,
    )


def routing_view(snapshot: ConfigSnapshot, catalog: Catalog) -> RoutingView:
    return view_of(
        tuple(
            provider_view(
                p,
                catalog_entry(p, catalog),
                any(a.enabled for a in snapshot.accounts_for(p.id)),
            )
            for p in snapshot.providers
        ),
        snapshot,
    )


def view_of(providers: tuple[ProviderView, ...], snapshot: ConfigSnapshot) -> RoutingView:
    """The routing view from provider views already made, and the snapshot's
    combos and aliases."""
    return RoutingView(
        providers=providers,
        combos={c.name: combo_of(c) for c in snapshot.combos},
        aliases=tuple((a.pattern, a.target) for a in snapshot.aliases),
    )


def combo_check(catalog: Catalog, *, resolve_targets: bool = True) -> ComboCheck:
    """The check ``Store.upsert_combo`` runs: a known strategy, no cycle over
    all combos, and every direct target of the changed combo resolvable.

    Targets of the other combos are not re-checked against the providers: a
    provider removed since they were saved must not block every later edit.
    An import passes ``resolve_targets=False``: what was saved may name such
    a provider, and restoring it must not be refused for that.
    """

    def check(snapshot: ConfigSnapshot, candidate: ComboRecord) -> None:
        if candidate.strategy not in STRATEGIES:
            raise BadRequest(
                f"unknown strategy {candidate.strategy!r}; known: {', '.join(STRATEGIES)}"
            )
        view = routing_view(snapshot, catalog)
        combos = dict(view.combos)
        combo = combos[candidate.name] = combo_of(candidate)
        validate_combos(combos)
        direct = tuple(t for t in combo.targets if t.ref not in combos)
        if direct and resolve_targets:
            validate_combos(
                {combo.name: dataclasses.replace(combo, targets=direct)}, view.providers
            )

    return check


def combos_naming(
    snapshot: ConfigSnapshot, provider: str, catalog: Catalog
) -> dict[str, list[str]]:
    """Combo name -> its targets addressed to ``provider`` by name or alias
    (``deepseek/…``, ``ds/…``), in the order the combos are stored."""
    view = routing_view(snapshot, catalog)
    naming: dict[str, list[str]] = {}
    for combo in snapshot.combos:
        for target in combo.targets:
            prefix, slash, _rest = target.ref.partition("/")
            named = view.provider(prefix) if slash else None
            if named is not None and named.name == provider:
                naming.setdefault(combo.name, []).append(target.ref)
    return naming


def target_problem(ref: str, view: RoutingView) -> str | None:
    """Why a combo target can never be served, or None when it can be (now
    or once its provider is enabled again or has an account): it names a
    provider that does not exist, or no provider serves the model."""
    if ref in view.combos:
        return None
    every = tuple(dataclasses.replace(p, enabled=True, has_account=True) for p in view.providers)
    try:
        resolve_model(ref, RoutingView(every))
    except NotFound:
        prefix, slash, rest = ref.partition("/")
        if slash and rest and view.provider(prefix) is None:
            return "no such provider"
        return "no provider serves it"
    return None
