"""``omniroute price …``, ``budget …`` and ``usage``: what requests cost.

    price set PROVIDER/MODEL --input X --output Y [--cached Z] [--reasoning W]
    price list | price unset PROVIDER/MODEL
    budget set provider:NAME|key:ID|combo:NAME/STEP [--daily USD] [--monthly USD]
    budget list | budget unset SCOPE
    usage [--by provider|model|key|day] [--since 7d] [--csv]

Prices are USD per 1M tokens; budgets USD per UTC day and month. ``usage``
reads the same totals as ``GET /api/usage``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from typing import Any

from omniroute import errors
from omniroute.cli.common import command, group, number, with_store
from omniroute.config import spending
from omniroute.config.editor import ConfigEditor
from omniroute.gateway.costs import spent_now
from omniroute.routing.budgets import PERIODS
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.usage_hourly import USAGE_NUMBERS

_USD = number(0, 1e9)
_BY = ("provider", "model", "key", "day")
_SPAN = re.compile(r"(\d{1,6})([hd])")
_UNIT = {"h": 3600, "d": 86_400}
_MAX_SPAN = 3660 * 86_400


def register(sub: Any) -> None:
    psub = group(sub, "price", "price overrides: USD per 1M tokens, winning over the catalog")
    pset = command(psub, "set", "set the price of provider/model", cmd_price_set)
    pset.add_argument("model", metavar="PROVIDER/MODEL")
    pset.add_argument("--input", type=_USD, required=True, help="USD per 1M input tokens")
    pset.add_argument("--output", type=_USD, required=True, help="USD per 1M output tokens")
    pset.add_argument("--cached", type=_USD, help="USD per 1M cached input tokens")
    pset.add_argument("--reasoning", type=_USD, help="USD per 1M reasoning tokens")
    plist = command(psub, "list", "the price overrides", cmd_price_list)
    plist.add_argument("--json", action="store_true", help="machine-readable")
    punset = command(psub, "unset", "back to the catalog's price", cmd_price_unset)
    punset.add_argument("model", metavar="PROVIDER/MODEL")

    bsub = group(sub, "budget", "spending ceilings per provider, client key or combo step")
    bset = command(bsub, "set", "set a daily and/or monthly ceiling in USD", cmd_budget_set)
    bset.add_argument("scope", metavar="provider:NAME|key:ID|combo:NAME/STEP")
    bset.add_argument("--daily", type=_USD, help="USD per UTC day")
    bset.add_argument("--monthly", type=_USD, help="USD per UTC month")
    blist = command(bsub, "list", "the budgets and what each has spent", cmd_budget_list)
    blist.add_argument("--json", action="store_true", help="machine-readable")
    bunset = command(bsub, "unset", "remove a budget", cmd_budget_unset)
    bunset.add_argument("scope", metavar="SCOPE")

    usage = command(sub, "usage", "requests, tokens and cost from the request log", cmd_usage)
    usage.add_argument("--by", choices=_BY, default="provider", help="group by (default provider)")
    usage.add_argument(
        "--since", type=_since, default="7d", help="a span before now: 24h, 7d, 30d (default 7d)"
    )
    usage.add_argument("--csv", action="store_true", help="comma-separated, with a header row")


def _since(text: str) -> str:
    found = _SPAN.fullmatch(text.strip())
    if found is None or not 0 < int(found[1]) * _UNIT[found[2]] <= _MAX_SPAN:
        raise argparse.ArgumentTypeError("a span before now such as 24h, 7d or 30d")
    return text.strip()


def _seconds(span: str) -> int:
    found = _SPAN.fullmatch(span)
    assert found is not None  # checked by _since
    return int(found[1]) * _UNIT[found[2]]


# -- prices ------------------------------------------------------------------------


async def cmd_price_set(args: argparse.Namespace, settings: Settings) -> int:
    price = {"input": args.input, "output": args.output}
    if args.cached is not None:
        price["cached_input"] = args.cached
    if args.reasoning is not None:
        price["reasoning"] = args.reasoning

    async def run(store: Store) -> int:
        stored = await ConfigEditor(store).set_price(args.model, price)
        print(f"{args.model}: {_price_text(stored)}")
        return 0

    return await with_store(settings, run)


async def cmd_price_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        prices = (await store.snapshot()).settings.get(spending.PRICES) or {}
        if args.json:
            print(json.dumps({"prices": prices}, indent=2, sort_keys=True))
        elif not prices:
            print("no price overrides: the catalog's prices apply (`omniroute provider catalog`)")
        for ref in sorted(prices) if not args.json else ():
            print(f"{ref}  {_price_text(prices[ref])}")
        return 0

    return await with_store(settings, run)


async def cmd_price_unset(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        if not await ConfigEditor(store).unset_price(args.model):
            raise errors.NotFound(f"{args.model!r} has no price override")
        print(f"{args.model}: back to the catalog's price")
        return 0

    return await with_store(settings, run)


def _price_text(price: dict[str, Any]) -> str:
    parts = [f"input ${price['input']:g}", f"output ${price['output']:g}"]
    if price.get("cached_input") is not None:
        parts.append(f"cached ${price['cached_input']:g}")
    if price.get("reasoning") is not None:
        parts.append(f"reasoning ${price['reasoning']:g}")
    return ", ".join(parts) + " per 1M tokens"


# -- budgets -----------------------------------------------------------------------


async def cmd_budget_set(args: argparse.Namespace, settings: Settings) -> int:
    budget = {p: getattr(args, p) for p in PERIODS if getattr(args, p) is not None}
    if not budget:
        raise errors.BadRequest("give --daily USD, --monthly USD or both")

    async def run(store: Store) -> int:
        stored = await ConfigEditor(store).set_budget(args.scope, budget)
        print(f"{args.scope}: {_budget_text(stored)}")
        return 0

    return await with_store(settings, run)


async def cmd_budget_unset(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        if not await ConfigEditor(store).unset_budget(args.scope):
            raise errors.NotFound(f"{args.scope!r} has no budget")
        print(f"{args.scope}: budget removed")
        return 0

    return await with_store(settings, run)


async def cmd_budget_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        budgets = (await store.snapshot()).settings.get(spending.BUDGETS) or {}
        spent = await spent_now(store, time.time())
        listing = [
            {"scope": scope, **budgets[scope], "spent": spent.get(scope, _NOTHING)}
            for scope in sorted(budgets)
        ]
        if args.json:
            print(json.dumps({"budgets": listing}, indent=2))
            return 0
        if not listing:
            print("no budgets: set one with `omniroute budget set provider:NAME --daily USD`")
        for entry in listing:
            print(f"{entry['scope']}  {_budget_text(entry, entry['spent'])}")
        return 0

    return await with_store(settings, run)


_NOTHING = {"daily": 0.0, "monthly": 0.0}


def _budget_text(budget: dict[str, Any], spent: dict[str, float] | None = None) -> str:
    parts = []
    for period in PERIODS:
        limit = budget.get(period)
        if limit is None:
            continue
        used = f"${spent[period]:.4f} of " if spent is not None else ""
        parts.append(f"{period} {used}${limit:g}")
    return ", ".join(parts)


# -- usage -------------------------------------------------------------------------


async def cmd_usage(args: argparse.Namespace, settings: Settings) -> int:
    now = time.time()
    since = now - _seconds(args.since)

    async def run(store: Store) -> int:
        rows, totals = await store.usage(args.by, None, since, now)
        print_usage(args.by, rows, totals, as_csv=args.csv)
        return 0

    return await with_store(settings, run)


_SHOWN = ("requests", "errors", "input_tokens", "output_tokens", "cached_tokens", "cost")


def print_usage(
    by: str, rows: list[dict[str, Any]], totals: dict[str, Any], *, as_csv: bool
) -> None:
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow([by, *USAGE_NUMBERS])
        for row in rows:
            out.writerow([_name(row), *("" if row[n] is None else row[n] for n in USAGE_NUMBERS)])
        return
    header = (by.upper(), *(n.upper().replace("_TOKENS", "").replace("_", " ") for n in _SHOWN))
    lines = [[_name(r), *(_cell(n, r[n]) for n in _SHOWN)] for r in rows]
    lines.append(["total", *(_cell(n, totals[n]) for n in _SHOWN)])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=True)]
    for line in [list(header), *lines]:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def _name(row: dict[str, Any]) -> str:
    name = row.get("name")
    if row.get("key_id") is not None:
        return f"{name or 'key'} (#{row['key_id']})"
    return "—" if name is None else str(name)


def _cell(name: str, value: Any) -> str:
    if name == "cost":
        return "—" if value is None else f"${value:.4f}"
    return str(value)
