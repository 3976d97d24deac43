"""``omniroute provider …`` and ``omniroute account …``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from omniroute import errors
from omniroute.cli.common import (
    ID,
    NAMING,
    PRIORITY,
    add_limit_options,
    add_proxy_option,
    command,
    describe_limits,
    group,
    is_none,
    limits_given,
    proxy_option,
    split_list,
    with_store,
)
from omniroute.config.describe import ANY, FROM_CATALOG, provider_json
from omniroute.config.editor import ConfigEditor
from omniroute.config.providers import (
    KEEP,
    AccountChange,
    NewAccount,
    ProviderChange,
    add_provider,
    change_account,
    change_provider,
    pass_through_notice,
)
from omniroute.config.routing import catalog_entry
from omniroute.formats.wire import WIRE_FORMATS
from omniroute.providers.accounts import KIND_PASS_THROUGH, is_pass_through
from omniroute.providers.catalog import Catalog, CatalogProvider, ModelPrice
from omniroute.providers.family import CAPABILITIES, check_capabilities
from omniroute.settings import Settings, local_url
from omniroute.store import Store, sign_ins

_CAPABILITIES_HELP = (
    f"what the provider serves, comma-separated ({', '.join(CAPABILITIES)}); by default "
    "the catalog's, or for a custom OpenAI-compatible server everything"
)


def _capabilities(given: str) -> list[str]:
    return check_capabilities(split_list(given))


def register(sub: Any) -> None:
    psub = group(sub, "provider", "manage providers and their accounts")
    add = command(psub, "add", "add a provider, or another account to an existing one", cmd_add)
    add.add_argument(
        "name", help="a catalog id or alias (see `provider catalog`), or a custom provider's name"
    )
    add.add_argument("--format", choices=WIRE_FORMATS, help="the upstream's wire format")
    add.add_argument("--base-url", help="API base URL including its version, e.g. https://host/v1")
    add.add_argument("--api-key", help="the account's API key (stored encrypted)")
    add.add_argument(
        "--pass-through",
        action="store_true",
        help="an account with no key of its own: each client's own credential "
        "(Authorization, x-api-key or x-goog-api-key) is forwarded for its request "
        "only, never stored; clients send their OmniRoute key in X-OmniRoute-Key",
    )
    add.add_argument("--models", help="comma-separated model ids this provider serves")
    add.add_argument("--priority", type=PRIORITY, help="account priority (lower is tried first)")
    add.add_argument("--capabilities", help=_CAPABILITIES_HELP)
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
    pset.add_argument("--capabilities", help=_CAPABILITIES_HELP + " ('none': the default)")
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


async def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    _, proxy = proxy_option(args.proxy)
    account = NewAccount(args.api_key, args.priority, proxy, pass_through=args.pass_through)
    models = split_list(args.models) if args.models else None

    async def run(store: Store) -> int:
        editor = ConfigEditor(store)
        provider, added = await add_provider(
            editor,
            args.name,
            account,
            format=args.format,
            base_url=args.base_url or None,
            models=models,
            capabilities=None if args.capabilities is None else _capabilities(args.capabilities),
            naming=NAMING,
        )
        count = len((await store.snapshot()).accounts_for(provider.id))
        pass_through = is_pass_through(added)
        print(
            f"provider {provider.name} ({provider.format}, {provider.base_url}): "
            f"{'pass-through ' if pass_through else ''}account {added.id} added, "
            f"{count} account(s) in all"
        )
        if pass_through:
            entry = catalog_entry(provider, editor.catalog)
            print()
            print(pass_through_notice(provider, entry, local_url(settings.host, settings.port)))
        return 0

    return await with_store(settings, run)


# -- catalog and list ----------------------------------------------------------


_CATALOG_LEGEND = (
    "ctx: context window, out: longest answer, in tokens; "
    "price: USD per 1M tokens, input/output (cached input); overrides: `omniroute price list`"
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
        print(json.dumps([p.to_json() for p in entries], indent=2))
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
            for line in [*_model_lines(entry), *_quota_line(entry)]:
                print(line)
    return 0


def _quota_line(entry: CatalogProvider) -> list[str]:
    """Whether the plan's remaining usage can be read, and by which reader."""
    if entry.quota is None:
        return []
    return [f"    remaining quota: readable ({entry.quota} reader)"]


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
    if price.reasoning is not None and price.reasoning != price.output:
        text += f" reasoning ${price.reasoning:g}"
    return text


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    catalog = Catalog.load()

    async def run(store: Store) -> int:
        snap = await store.snapshot()
        grants = {g.account_id: g for g in await store.read_sealed(sign_ins.read_grants)}
        if not snap.providers:
            print("no providers yet: add one with `omniroute provider add`")
        for p in snap.providers:
            _print_provider(provider_json(p, snap, catalog), grants)
        return 0

    return await with_store(settings, run)


def _print_provider(p: dict[str, Any], grants: Mapping[int, sign_ins.Grant]) -> None:
    state = "enabled" if p["enabled"] else "disabled"
    head = f"{p['name']}  format={p['format']}  base_url={p['base_url']}  {state}  tier={p['tier']}"
    alias = f"  alias={p['alias']}" if p["alias"] else ""
    print(head + alias + (f"  catalog={p['catalog']}" if p["catalog"] else ""))
    if p["models_from"] == ANY:
        print("  models: (any)")
    else:
        tail = " (from the catalog)" if p["models_from"] == FROM_CATALOG else ""
        print(f"  models: {', '.join(p['models'])}{tail}")
    if p["proxy"] is not None:
        print(f"  proxy: {p['proxy']}")
    limits = describe_limits(p["limits"])
    if limits:
        print(f"  limits: {limits}")
    print(f"  capabilities: {', '.join(p['capabilities'])}")
    if p["headers"]:
        # Names only: a header value may be a credential.
        print(f"  headers: {', '.join(sorted(p['headers']))}")
    for a in p["accounts"]:
        flag = "on" if a["enabled"] else "off"
        # A signed-in or pass-through account has no key to show: it says
        # who signed in, or that it is pass-through, instead.
        grant = grants.get(a["id"])
        if grant is not None:
            held = _signed_in(grant)
        elif a["kind"] == KIND_PASS_THROUGH:
            held = "pass-through"
        else:
            held = f"key={a['key']}"
        line = f"  account {a['id']}  priority={a['priority']}  {flag}  {held}"
        if a["proxy"] is not None:
            line += f"  proxy={a['proxy']}"
        account_limits = describe_limits(a["limits"])
        if account_limits:
            line += f"  limits: {account_limits}"
        print(line)


def _signed_in(grant: sign_ins.Grant) -> str:
    who = f"signed in as {grant.email}" if grant.email else "signed in"
    if grant.status == sign_ins.NEEDS_LOGIN:
        return f"{who}: needs a new sign-in (omniroute login {grant.provider})"
    if grant.status == sign_ins.EXPIRED:
        return f"{who}: token refresh refused, retrying"
    return who


# -- enable / disable / remove / set -------------------------------------------


async def cmd_toggle_or_remove(args: argparse.Namespace, settings: Settings) -> int:
    action = args.provider_command

    async def run(store: Store) -> int:
        editor = ConfigEditor(store)
        if action == "remove":
            naming = await editor.remove_provider(args.name)
            print(f"provider {args.name} removed, with its accounts")
            for combo, refs in naming.items():
                print(
                    f"omniroute: warning: combo {combo} still names {args.name}: "
                    f"{', '.join(refs)} (change it with `omniroute combo add {combo} ...`)",
                    file=sys.stderr,
                )
            return 0
        change = ProviderChange(enabled=action == "enable")
        await change_provider(editor, args.name, change, naming=NAMING)
        print(f"provider {args.name} {action}d")
        return 0

    return await with_store(settings, run)


async def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    proxy_given, proxy = proxy_option(args.proxy)
    change = ProviderChange(
        base_url=args.base_url or None,
        models=None if args.models is None else split_list(args.models),
        alias=KEEP if args.alias is None else None if is_none(args.alias) else args.alias.strip(),
        proxy=proxy if proxy_given else KEEP,
        limits=limits_given(args),
        headers=_headers(args.header) if args.header else None,
        capabilities=KEEP
        if args.capabilities is None
        else None
        if is_none(args.capabilities)
        else _capabilities(args.capabilities),
    )

    async def run(store: Store) -> int:
        updated = await change_provider(ConfigEditor(store), args.name, change, naming=NAMING)
        print(f"provider {updated.name} updated")
        return 0

    return await with_store(settings, run)


def _headers(given: list[str]) -> dict[str, str | None]:
    """``K=V`` options as a change: an empty value removes the header."""
    headers: dict[str, str | None] = {}
    for item in given:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise errors.BadRequest("--header needs NAME=VALUE")
        headers[name.strip()] = value or None
    return headers


async def cmd_account(args: argparse.Namespace, settings: Settings) -> int:
    proxy_given, proxy = proxy_option(args.proxy)
    change = AccountChange(
        priority=args.priority,
        enabled=args.enabled,
        proxy=proxy if proxy_given else KEEP,
        limits=limits_given(args),
    )

    async def run(store: Store) -> int:
        updated = await change_account(ConfigEditor(store), args.id, change, naming=NAMING)
        state = "on" if updated.enabled else "off"
        print(f"account {updated.id} updated: priority={updated.priority} {state}")
        return 0

    return await with_store(settings, run)


async def cmd_discover(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.gateway.discovery import discover  # httpx is only needed here

    async def run(store: Store) -> int:
        found = await discover(ConfigEditor(store), settings, args.name, replace=args.replace)
        if found.listed is None:
            print(
                f"provider {found.provider}: no /models endpoint; a test call to "
                f"{found.probe_model} worked (HTTP {found.probe_status}); "
                "the model list was not changed"
            )
            return 0
        print(
            f"provider {found.provider}: the upstream lists {len(found.listed)} model(s); "
            f"{len(found.added)} added, {len(found.removed)} removed, {found.unchanged} unchanged"
        )
        for model in found.added:
            print(f"  + {model}")
        for model in found.removed:
            print(f"  - {model}")
        if found.kept:
            print(
                f"  ({found.kept} model(s) the upstream does not list were kept; "
                "--replace drops them)"
            )
        return 0

    return await with_store(settings, run)
