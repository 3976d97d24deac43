"""``omniroute cache stats|clear``: the response cache.

``stats`` asks the running gateway (hits and misses are counted since it
started) and falls back to the database when none runs. ``clear`` empties
the database's entries and counts up a generation a running gateway reads
at its next configuration reload (within a second), emptying its memory.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from omniroute.api.status import call_running_gateway
from omniroute.cli.common import command, group, with_store
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store import response_cache as rows


def register(sub: Any) -> None:
    csub = group(sub, "cache", "the response cache: its numbers, or empty it")
    stats = command(csub, "stats", "entries, bytes, hit rate and saved cost", cmd_cache_stats)
    stats.add_argument("--json", action="store_true", help="machine-readable")
    command(csub, "clear", "forget every cached answer (a running gateway too)", cmd_cache_clear)


async def cmd_cache_stats(args: argparse.Namespace, settings: Settings) -> int:
    found = call_running_gateway(settings, "/api/health")
    if found is not None:
        stats: dict[str, Any] = dict(found[1].get("cache") or {})
        stats["source"] = "gateway"
    else:

        async def read(store: Store) -> int:
            now = time.time()
            totals = await store.read(lambda conn: rows.totals(conn, now))
            stats.update(
                entries=totals.entries, bytes=totals.bytes, stored_cost=round(totals.cost, 8)
            )
            return 0

        stats = {"source": "database"}
        await with_store(settings, read)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    for line in describe(stats):
        print(line)
    return 0


def describe(stats: dict[str, Any]) -> list[str]:
    if stats["source"] == "database":
        return [
            "no gateway is running: what the database holds",
            f"entries: {stats['entries']}",
            f"bytes: {stats['bytes']}",
        ]
    rate = stats.get("hit_rate")
    return [
        f"enabled: {'on' if stats.get('enabled') else 'off'}",
        f"entries: {stats.get('entries')}",
        f"bytes: {stats.get('bytes')} of {stats.get('max_bytes')}",
        f"hits: {stats.get('hits')}  misses: {stats.get('misses')}  "
        f"hit rate: {'-' if rate is None else f'{rate * 100:.1f}%'}",
        f"saved cost: ${stats.get('saved_cost', 0):.6f}",
    ]


async def cmd_cache_clear(args: argparse.Namespace, settings: Settings) -> int:
    async def clear(store: Store) -> int:
        gone = await store.write(rows.clear)
        print(f"cache cleared: {gone} stored answer(s) removed")
        return 0

    return await with_store(settings, clear)
