"""The configuration as the routing rules see it, and the check a combo
passes before it is saved.

``routing_view`` turns a stored snapshot plus the catalog into the routing's
own frozen values (``omniroute.routing.model``); the live registry and the
combo check both use it, so what is checked is what will be routed.
"""

from __future__ import annotations

import dataclasses

from omniroute.errors import BadRequest
from omniroute.providers.catalog import Catalog, CatalogProvider
from omniroute.routing.model import Combo, ComboTarget, ProviderView, RoutingView
from omniroute.routing.resolve import validate_combos
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


def combo_check(catalog: Catalog) -> ComboCheck:
    """The check ``Store.upsert_combo`` runs: a known strategy, no cycle over
    all combos, and every direct target of the changed combo resolvable.

    Targets of the other combos are not re-checked against the providers: a
    provider removed since they were saved must not block every later edit.
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
        if direct:
            validate_combos(
                {combo.name: dataclasses.replace(combo, targets=direct)}, view.providers
            )

    return check
