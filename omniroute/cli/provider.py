"""``omniroute provider …`` and ``omniroute account …``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from omniroute import errors
from omniroute.cli.common import (
    ID,
    PRIORITY,
    add_limit_options,
    add_proxy_option,
    command,
    describe_limits,
    group,
    is_none,
    limits_patch,
    mask,
    proxy_option,
    split_list,
    with_store,
)
from omniroute.config.editor import ConfigEditor
from omniroute.formats.wire import WIRE_FORMATS
from omniroute.providers.catalog import Catalog, CatalogProvider, ModelPrice
from omniroute.settings import Settings
from omniroute.store import ConfigSnapshot, ProviderRecord, Store, mask_proxy

# Keyless local servers (Ollama, LM Studio…) still need an account row to be
# routable; this stands in for the key they do not check.
KEYLESS_ACCOUNT_KEY = "no-key"


def register(sub: Any) -> None:
    psub = group(sub, "provider", "manage providers and their accounts")
    add = command(psub, "add", "add a provider, or another account to an existing one", cmd_add)
    add.add_argument(
        "name", help="a catalog id or alias (see `provider catalog`), or a custom provider's name"
    )
    add.add_argument("--format", choices=WIRE_FORMATS, help="the upstream's wire format")
    add.add_argument("--base-url", help="API base URL including its version, e.g. https://host/v1")
    add.add_argument("--api-key", help="the account's API key (stored encrypted)")
    add.add_argument("--models", help="comma-separated model ids this provider serves")
    add.add_argument("--priority", type=PRIORITY, help="account priority (lower is tried first)")
    add_proxy_option(add, "this account")

    catalog = command(
        psub, "catalog", "the built-in providers and their models' prices", cmd_catalog
    )
    catalog.add_argument("name", nargs="?", help="show only this provider (id or alias)")
    catalog.add_argument("--json", action="store_true", help="everything, machine-readable")
    command(psub, "list", "list providers and accounts (secrets masked)", cmd_list)
    for action, verb in (("enable", "enable"), ("disable", "disable"), ("remove", "remove")):
        p = command(psub, action, f"{verb} a provider", cmd_toggle_or_remove)
        p.add_argument("name")
    pset = command(psub, "set", "change a provider's URL, models, proxy, limits, headers", cmd_set)
    pset.add_argument("name")
    pset.add_argument("--base-url", help="API base URL including its version")
    pset.add_argument("--models", help="comma-separated model ids ('' : use the catalog's)")
    pset.add_argument("--alias", help="a short model prefix for a custom provider ('none' clears)")
    add_proxy_option(pset, "every account of this provider")
    add_limit_options(pset)
    pset.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K=V",
        help="extra request header (repeatable; 'K=' removes it)",
    )
    discover = command(
        psub,
        "discover",
        "add the models the provider's API lists to its model list",
        cmd_discover,
    )
    discover.add_argument("name")
    discover.add_argument(
        "--replace",
        action="store_true",
        help="make the model list exactly what the API lists (models it does not list go)",
    )

    asub = group(sub, "account", "change one account (ids from `provider list`)")
    aset = command(asub, "set", "change an account's priority, state, proxy or limits", cmd_account)
    aset.add_argument("id", type=ID, help="the account id")
    aset.add_argument("--priority", type=PRIORITY, help="lower is tried first")
    state = aset.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True)
    state.add_argument("--disable", dest="enabled", action="store_const", const=False)
    add_proxy_option(aset, "this account")
    add_limit_options(aset)


# -- add -----------------------------------------------------------------------


def _check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.BadRequest(f"--base-url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


async def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    entry = Catalog.load().get(args.name)
    if entry is not None and entry.auth == "oauth":
        raise errors.BadRequest(f"OAuth sign-in for {entry.name} comes in a later release")
    base_url = _check_base_url(args.base_url) if args.base_url else None
    models = split_list(args.models) if args.models else None
    _, proxy = proxy_option(args.proxy)
    api_key = (args.api_key or "").strip()
    if not api_key and args.api_key is not None:
        raise errors.BadRequest("--api-key must not be empty")

    async def run(store: Store) -> int:
        snap = await store.snapshot()
        name = entry.id if entry is not None else args.name
        existing = snap.provider(name)
        if not api_key and (entry is None or entry.auth != "none"):
            raise errors.BadRequest("--api-key is required")
        provider_extra: dict[str, Any] | None = None
        if existing is not None:
            given = args.format is not None or base_url is not None or models is not None
            shape = (
                (args.format or existing.format, base_url or existing.base_url, models)
                if given
                else None
            )
        elif entry is not None:
            shape = (args.format or entry.format, base_url or entry.base_url, models)
            provider_extra = {"catalog": entry.id}
        else:
            if args.format is None or base_url is None:
                raise errors.BadRequest(
                    f"{args.name!r} is not in the catalog (see `omniroute provider catalog`): "
                    "a custom provider needs --format and --base-url"
                )
            shape = (args.format, base_url, models)
        provider, account = await ConfigEditor(store).add_account(
            name,
            api_key or KEYLESS_ACCOUNT_KEY,
            provider=shape,
            provider_extra=provider_extra,
            priority=args.priority,
            account_extra=None if proxy is None else {"proxy": proxy},
        )
        count = len((await store.snapshot()).accounts_for(provider.id))
        print(
            f"provider {provider.name} ({provider.format}, {provider.base_url}): "
            f"account {account.id} added, {count} account(s) in all"
        )
        return 0

    return await with_store(settings, run)


# -- catalog and list ----------------------------------------------------------


_CATALOG_LEGEND = (
    "ctx: context window, out: longest answer, in tokens; "
    "price: USD per 1M tokens, input/output (cached input)"
)


async def cmd_catalog(args: argparse.Namespace, settings: Settings) -> int:
    catalog = Catalog.load()
    entries = catalog.all()
    if args.name is not None:
        entry = catalog.get(args.name)
        if entry is None:
            raise errors.BadRequest(
                f"{args.name!r} is not in the catalog (see `omniroute provider catalog`)"
            )
        entries = (entry,)
    if args.json:
        print(json.dumps([_catalog_json(p) for p in entries], indent=2))
        return 0
    header = ("ID", "ALIAS", "TIER", "FORMAT", "AUTH", "BASE URL", "MODELS")
    rows = [
        (p.id, p.alias, p.tier, p.format, p.auth, p.base_url, str(len(p.models))) for p in entries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(_CATALOG_LEGEND)
    for row, entry in zip([header, *rows], [None, *entries], strict=True):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if entry is not None:
            for line in _model_lines(entry):
                print(line)
    return 0


def _model_lines(entry: CatalogProvider) -> list[str]:
    """One compact line per model: id, context, max output, price."""
    rows = [
        (
            m.id,
            f"ctx {_tokens(m.context)}",
            f"out {_tokens(m.max_output)}",
            _price(m.price),
        )
        for m in entry.models
    ]
    if entry.wildcard:
        rows.append(("(any other model id)", "", "", ""))
    if not rows:
        return ["    (no fixed model list: name the models with --models)"]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return [
        "    " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def _tokens(count: int | None) -> str:
    """``128K`` for 128000 and for 131072 (vendors quote both so), ``1M``,
    ``400K``; the largest unit that divides the count, else three digits."""
    if count is None:
        return "?"
    for unit, size in (("M", 1_000_000), ("M", 1 << 20), ("K", 1_000), ("K", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size}{unit}"
    for unit, size in (("M", 1_000_000), ("K", 1_000)):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


def _price(price: ModelPrice | None) -> str:
    if price is None:
        return "price ?"
    if price.input == 0 and price.output == 0:
        return "free"
    text = f"${price.input:g}/${price.output:g}"
    if price.cached_input is not None:
        text += f" (${price.cached_input:g})"
    return text


def _catalog_json(p: CatalogProvider) -> dict[str, Any]:
    return {
        "id": p.id,
        "alias": p.alias,
        "name": p.name,
        "tier": p.tier,
        "format": p.format,
        "dialect": p.dialect,
        "auth": p.auth,
        "flow": p.flow,
        "auth_header": p.auth_header,
        "base_url": p.base_url,
        "headers": dict(p.headers),
        "wildcard": p.wildcard,
        "docs": p.docs,
        "models": [dataclasses.asdict(m) for m in p.models],
    }


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    catalog = Catalog.load()

    async def run(store: Store) -> int:
        snap = await store.snapshot()
        if not snap.providers:
            print("no providers yet: add one with `omniroute provider add`")
        for p in snap.providers:
            _print_provider(snap, p, catalog)
        return 0

    return await with_store(settings, run)


def _print_provider(snap: ConfigSnapshot, p: ProviderRecord, catalog: Catalog) -> None:
    entry_id = p.extra.get("catalog")
    entry = catalog.get(entry_id) if isinstance(entry_id, str) else None
    state = "enabled" if p.enabled else "disabled"
    tier = entry.tier if entry else "api"
    alias = p.extra.get("alias") or (entry.alias if entry else None)
    head = f"{p.name}  format={p.format}  base_url={p.base_url}  {state}  tier={tier}"
    print(head + (f"  alias={alias}" if alias else "") + (f"  catalog={entry_id}" if entry else ""))
    if p.models:
        print(f"  models: {', '.join(p.models)}")
    elif entry and entry.models:
        print(f"  models: {', '.join(entry.model_ids)} (from the catalog)")
    else:
        print("  models: (any)")
    if "proxy" in p.extra:
        print(f"  proxy: {mask_proxy(p.extra['proxy'])}")
    limits = describe_limits(p.extra.get("limits"))
    if limits:
        print(f"  limits: {limits}")
    headers = p.extra.get("headers")
    if isinstance(headers, dict) and headers:
        # Names only: a header value may be a credential.
        print(f"  headers: {', '.join(sorted(headers))}")
    for a in snap.accounts_for(p.id):
        flag = "on" if a.enabled else "off"
        line = f"  account {a.id}  priority={a.priority}  {flag}  key={mask(a.api_key)}"
        if "proxy" in a.extra:
            line += f"  proxy={mask_proxy(a.extra['proxy'])}"
        account_limits = describe_limits(a.extra.get("limits"))
        if account_limits:
            line += f"  limits: {account_limits}"
        print(line)


# -- enable / disable / remove / set -------------------------------------------


async def cmd_toggle_or_remove(args: argparse.Namespace, settings: Settings) -> int:
    action = args.provider_command

    async def run(store: Store) -> int:
        if action == "remove":
            naming = await ConfigEditor(store).remove_provider(args.name)
            print(f"provider {args.name} removed, with its accounts")
            for combo, refs in naming.items():
                print(
                    f"omniroute: warning: combo {combo} still names {args.name}: "
                    f"{', '.join(refs)} (change it with `omniroute combo add {combo} ...`)",
                    file=sys.stderr,
                )
            return 0
        await store.set_provider_enabled(args.name, action == "enable")
        print(f"provider {args.name} {action}d")
        return 0

    return await with_store(settings, run)


async def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    base_url = _check_base_url(args.base_url) if args.base_url else None
    models = None if args.models is None else split_list(args.models)
    proxy_given, proxy = proxy_option(args.proxy)

    async def run(store: Store) -> int:
        current = (await store.snapshot()).provider(args.name)
        if current is None:
            raise errors.BadRequest(f"unknown provider {args.name!r}")
        extra = _proxy_and_limits(args, current.extra, proxy_given, proxy)
        if args.header:
            extra["headers"] = _headers_patch(args.header, current.extra.get("headers")) or None
        if args.alias is not None:
            extra["alias"] = None if is_none(args.alias) else args.alias.strip()
        if base_url is None and models is None and not extra:
            raise errors.BadRequest("nothing to change: give at least one option")
        updated = await ConfigEditor(store).update_provider(
            args.name, base_url=base_url, models=models, extra=extra or None
        )
        print(f"provider {updated.name} updated")
        return 0

    return await with_store(settings, run)


def _proxy_and_limits(
    args: argparse.Namespace, current: Mapping[str, Any], proxy_given: bool, proxy: str | None
) -> dict[str, Any]:
    """The proxy and rate-limit part of a change to a provider or an account."""
    extra: dict[str, Any] = {}
    if proxy_given:
        extra["proxy"] = proxy
    limits_given, limits = limits_patch(args, current.get("limits"))
    if limits_given:
        extra["limits"] = limits
    return extra


def _headers_patch(given: list[str], current: Any) -> dict[str, str]:
    headers = dict(current) if isinstance(current, dict) else {}
    for item in given:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise errors.BadRequest("--header needs NAME=VALUE")
        if value:
            headers[name.strip()] = value
        else:
            headers.pop(name.strip(), None)
    return headers


async def cmd_account(args: argparse.Namespace, settings: Settings) -> int:
    proxy_given, proxy = proxy_option(args.proxy)

    async def run(store: Store) -> int:
        snap = await store.snapshot()
        current = next((a for a in snap.accounts if a.id == args.id), None)
        if current is None:
            raise errors.BadRequest(f"unknown account id {args.id}")
        extra = _proxy_and_limits(args, current.extra, proxy_given, proxy)
        if args.priority is None and args.enabled is None and not extra:
            raise errors.BadRequest("nothing to change: give at least one option")
        updated = await ConfigEditor(store).update_account(
            args.id, priority=args.priority, enabled=args.enabled, extra=extra or None
        )
        state = "on" if updated.enabled else "off"
        print(f"account {updated.id} updated: priority={updated.priority} {state}")
        return 0

    return await with_store(settings, run)


async def cmd_discover(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.cli.discover import discover  # httpx is only needed here

    return await with_store(
        settings, lambda store: discover(store, settings, args.name, replace=args.replace)
    )
