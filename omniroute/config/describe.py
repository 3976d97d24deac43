"""The configuration as it is shown: plain JSON values of providers,
accounts, combos and aliases, every secret masked (``redact``).

The management API answers with these, the CLI prints its listings from
them and the audit log keeps them as the before and after of a change, so
all three tell the same story.
"""

from __future__ import annotations

from typing import Any

from omniroute.config.redact import mask, mask_headers, shown_proxy
from omniroute.config.routing import catalog_entry, target_problem
from omniroute.providers import served_capabilities
from omniroute.providers.accounts import KIND_PASS_THROUGH, account_kind
from omniroute.providers.catalog import Catalog
from omniroute.routing.model import RoutingView
from omniroute.store import AccountRecord, AliasRecord, ComboRecord, ConfigSnapshot, ProviderRecord

# Where a provider's model list comes from.
OWN, FROM_CATALOG, ANY = "provider", "catalog", "any"


def account_json(account: AccountRecord) -> dict[str, Any]:
    kind = account_kind(account)
    return {
        "id": account.id,
        "provider_id": account.provider_id,
        "priority": account.priority,
        "enabled": account.enabled,
        # "oauth" for a signed-in account (its key stands for who signed in;
        # the credential is the grant's token), "pass-through" for one whose
        # clients bring their own credential, "api_key" for the rest.
        "kind": account.extra.get("kind") or "api_key",
        # A pass-through account has no key: each client brings its own.
        "key": None if kind == KIND_PASS_THROUGH else mask(account.api_key),
        "proxy": shown_proxy(account.extra.get("proxy")),
        "limits": account.extra.get("limits"),
    }


def provider_json(
    record: ProviderRecord, snapshot: ConfigSnapshot, catalog: Catalog
) -> dict[str, Any]:
    entry = catalog_entry(record, catalog)
    own_alias = record.extra.get("alias")
    if record.models:
        models, source = list(record.models), OWN
    elif entry is not None and entry.models:
        models, source = list(entry.model_ids), FROM_CATALOG
    else:
        models, source = [], ANY
    return {
        "name": record.name,
        "format": record.format,
        "base_url": record.base_url,
        "enabled": record.enabled,
        "catalog": entry.id if entry else None,
        "tier": entry.tier if entry else "api",
        "alias": own_alias or (entry.alias if entry else None),
        "models": models,
        "models_from": source,
        "proxy": shown_proxy(record.extra.get("proxy")),
        "limits": record.extra.get("limits"),
        "headers": mask_headers(record.extra.get("headers")),
        "capabilities": list(
            served_capabilities(
                record.format, entry.capabilities if entry else None, _own_capabilities(record)
            )
        ),
        "accounts": [account_json(a) for a in snapshot.accounts_for(record.id)],
    }


def _own_capabilities(record: ProviderRecord) -> list[str] | None:
    own = record.extra.get("capabilities")
    return [str(c) for c in own] if isinstance(own, list) else None


def combo_json(combo: ComboRecord, view: RoutingView | None = None) -> dict[str, Any]:
    """A combo; given the routing view, each target also says why it can
    never be served (``problem``, None when it can)."""
    targets = []
    for t in combo.targets:
        target: dict[str, Any] = {"ref": t.ref, "weight": t.weight, "enabled": t.enabled}
        if view is not None:
            target["problem"] = target_problem(t.ref, view)
        targets.append(target)
    return {
        "name": combo.name,
        "strategy": combo.strategy,
        "enabled": combo.enabled,
        "system_prompt": combo.system_prompt,
        "targets": targets,
    }


def alias_json(alias: AliasRecord) -> dict[str, Any]:
    return {"pattern": alias.pattern, "target": alias.target, "position": alias.position}
