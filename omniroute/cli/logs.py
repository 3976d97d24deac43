"""``omniroute logs``: the request log from a shell, newest last.

    omniroute logs [--status 5xx] [--model M] [--provider P] [--limit N] [--json]
    omniroute logs --follow        keep printing rows as they are written
                                   (looks again every second; Ctrl-C stops)

Rows are read from the database (the same queries as
``GET /api/logs/requests``), so this works whether or not the gateway runs;
a running gateway writes its rows within about a second. ``--json`` prints
one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from omniroute.cli.common import command, whole, with_store
from omniroute.settings import Settings
from omniroute.store import Store

MAX_ROWS = 500
FOLLOW_EVERY = 1.0  # seconds between two looks at the log while following


def register(sub: Any) -> None:
    logs = command(sub, "logs", "the request log, newest last", cmd_logs)
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new rows")
    logs.add_argument("--status", help="2xx, 4xx, 5xx (any class) or one status code")
    logs.add_argument("--model", help="as requested, as resolved, or provider/model")
    logs.add_argument("--provider", help="only rows this provider served")
    logs.add_argument(
        "--limit",
        type=whole(1, MAX_ROWS),
        default=20,
        help=f"how many rows to show first (default 20, at most {MAX_ROWS})",
    )
    logs.add_argument("--json", action="store_true", help="one JSON object per line")


async def cmd_logs(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.api.admin.logs import logged_json, status_range
    from omniroute.store.request_log import RequestFilter

    wanted = RequestFilter(
        limit=args.limit,
        status=status_range(args.status),
        model=args.model or None,
        provider=args.provider or None,
    )

    def show(rows: list[dict[str, Any]]) -> None:
        for row in reversed(rows):  # oldest first, as a log reads
            print(json.dumps(row, ensure_ascii=False) if args.json else line(row), flush=True)

    async def run(store: Store) -> int:
        found = [logged_json(r) for r in await store.find_requests(wanted)]
        if not found and not args.follow and not args.json:
            print("no logged requests match")
        show(found)
        last = found[0]["id"] if found else await _newest_id(store)
        while args.follow:  # until Ctrl-C
            await asyncio.sleep(FOLLOW_EVERY)
            page = dataclasses.replace(wanted, limit=MAX_ROWS, after=last)
            found = [logged_json(r) for r in await store.find_requests(page)]
            show(found)
            if found:
                last = found[0]["id"]
        return 0

    return await with_store(settings, run)


async def _newest_id(store: Store) -> int:
    """Following a log with no matching row yet starts after everything there."""
    from omniroute.store.request_log import RequestFilter

    newest = await store.find_requests(RequestFilter(limit=1))
    return newest[0].id if newest else 0


def line(row: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(row["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    served = f"{row['provider']}/{row['resolved_model']}" if row["provider"] else "-"
    ttft = f" ttft {row['ttft_ms']:.0f}ms" if row["ttft_ms"] is not None else ""
    error = f" {row['error_kind']}" if row["error_kind"] else ""
    key = f" key {row['key_name']}" if row["key_name"] else ""
    return (
        f"{when} {row['status']}{error} {row['model'] or '-'} -> {served} "
        f"{row['latency_ms']:.0f}ms{ttft} in {row['input_tokens']} out {row['output_tokens']}"
        f"{key} [{row['request_id']}]"
    )
