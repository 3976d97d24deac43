"""``omniroute quota [--json]``: every account's usage windows, from the
running gateway (``GET /api/quota``), as a table for a person or, with
``--json``, exactly as the gateway answers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from omniroute.cli.common import command
from omniroute.cli.status import Row, ask_gateway, duration, table
from omniroute.settings import Settings

HEADER: Row = ("PROVIDER", "ACCOUNT", "WINDOW", "USED", "RESETS IN", "")


async def cmd_quota(args: argparse.Namespace, settings: Settings) -> int:
    _url, answer = ask_gateway(settings, "/api/quota")
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print("\n".join(describe(answer)))
    return 0


def describe(answer: Mapping[str, Any]) -> list[str]:
    accounts = answer.get("accounts")
    rows: list[Row] = [HEADER]
    for account in accounts if isinstance(accounts, list) else []:
        if not isinstance(account, Mapping):
            continue
        name = _account(account)
        provider = str(account.get("provider", "?"))
        windows = [w for w in account.get("windows") or [] if isinstance(w, Mapping)]
        if not windows:
            rows.append((provider, name, "-", "-", "-", "no usage known yet"))
        for window in windows:
            rows.append((provider, name, *_window(window)))
    if len(rows) == 1:
        return ["no accounts"]
    skip_at = answer.get("skip_at")
    lines = table(rows)
    if isinstance(skip_at, int | float) and not isinstance(skip_at, bool):
        lines.append(f"accounts are skipped at {skip_at * 100:g}% used until the window resets")
    return lines


def _account(account: Mapping[str, Any]) -> str:
    name = f"{account.get('account_id', '?')}"
    if account.get("label"):
        name += f" ({account['label']})"
    if account.get("client"):
        name += f" client {str(account['client'])[:8]}"
    return name


def _window(window: Mapping[str, Any]) -> Row:
    name = str(window.get("name", "?"))
    if window.get("scope") == "model" and window.get("model"):
        name += f" [{window['model']}]"
    used = window.get("used_percent")
    shown = f"{used:g}%" if isinstance(used, int | float) and not isinstance(used, bool) else "?"
    if window.get("estimated"):
        shown += " (est.)"
    resets = window.get("resets_in")
    return name, shown, "-" if resets is None else duration(resets), ""


def register(sub: Any) -> None:
    quota = command(sub, "quota", "usage windows of every account", cmd_quota)
    quota.add_argument(
        "--json", action="store_true", help="everything, as the gateway's /api/quota answers"
    )
