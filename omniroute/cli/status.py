"""``omniroute status``: the running gateway's health, for a person (short
tables) or, with ``--json``, exactly as ``GET /api/status`` answers.

The gateway is found through the admin file it writes into its data dir, so
this must run as the user that owns that directory.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from omniroute import errors
from omniroute.api.status import call_running_gateway
from omniroute.cli.common import describe_limits
from omniroute.settings import Settings

Row = Sequence[str]


async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    url, status = ask_gateway(settings, "/api/status")
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print("\n".join(describe(status, url)))
    return 0


def ask_gateway(
    settings: Settings, path: str, *, method: str = "GET", body: Any = None, timeout: float = 10
) -> tuple[str, Any]:
    """``call_running_gateway`` for a command that needs the gateway running."""
    found = call_running_gateway(settings, path, method=method, body=body, timeout=timeout)
    if found is None:
        raise errors.BadRequest(f"no gateway is running for {settings.data_dir}; start it first")
    return found


def describe(status: Mapping[str, Any], url: str) -> list[str]:
    """The status as lines of text; fields the gateway did not send are left out."""
    lines = [
        f"omniroute {status.get('version', '?')} (Python {status.get('python', '?')}) "
        f"at {url}: {status.get('status', '?')}, up {duration(status.get('uptime_s'))}",
        f"memory {_number(status.get('memory_rss_mb'))} MB, "
        f"{_number(status.get('connections'))} connection(s), "
        f"{_number(status.get('active_requests'))} request(s) in progress, "
        f"config revision {_number(status.get('config_revision'))}",
    ]
    pool = status.get("upstream_pool")
    if isinstance(pool, Mapping):
        lines.append(
            f"upstream connections: {_number(pool.get('opened'))} opened, "
            f"{_number(pool.get('reused'))} reused, {_number(pool.get('idle'))} idle, "
            f"{_number(pool.get('in_use'))} in use"
        )
    dropped = status.get("log_rows_dropped")
    if dropped:
        lines.append(f"request-log rows dropped (queue full): {dropped}")
    lines += _section(
        "breakers",
        status.get("breakers"),
        ("KEY", "STATE", "FAILURES", "PROBE IN"),
        lambda b: (
            str(b.get("key")),
            str(b.get("state")).replace("_", "-"),
            _number(b.get("recent_failures")),
            duration(b.get("retry_in")) if b.get("state") == "open" else "-",
        ),
    )
    lines += _section(
        "cooldowns",
        status.get("cooldowns"),
        ("KEY", "LEFT", "STRIKES", "REASON"),
        lambda c: (
            str(c.get("key")),
            duration(c.get("remaining")),
            _number(c.get("strikes")),
            str(c.get("reason") or "-"),
        ),
    )
    lines += _section(
        "limiters",
        status.get("limiters"),
        ("KEY", "ACTIVE", "QUEUED", "HELD", "LIMITS"),
        lambda li: (
            str(li.get("key")),
            _number(li.get("active")),
            _number(li.get("queued")),
            duration(li.get("held_for")) if li.get("held_for") else "-",
            describe_limits(li.get("limits")) or "-",
        ),
    )
    health = status.get("health")
    lines += _section(
        "latency",
        [{"key": k, **v} for k, v in health.items()] if isinstance(health, Mapping) else None,
        ("KEY", "REQUESTS", "IN FLIGHT", "SUCCESS", "LATENCY"),
        lambda h: (
            str(h.get("key")),
            _number(h.get("total")),
            _number(h.get("in_flight")),
            _percent(h.get("success_ratio")),
            _millis(h.get("latency")),
        ),
    )
    return lines


def _section(
    title: str,
    items: Any,
    header: Row,
    row: Callable[[Mapping[str, Any]], Row],
) -> list[str]:
    if not isinstance(items, list):
        return []
    entries = [item for item in items if isinstance(item, Mapping)]
    if not entries:
        return [f"{title}: none"]
    return [f"{title}:", *table([header, *(row(item) for item in entries)], indent="  ")]


def table(rows: Iterable[Row], indent: str = "") -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def duration(seconds: Any) -> str:
    """``45s``, ``3m 05s``, ``2h 03m``, ``4d 01h``; ``?`` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _percent(ratio: Any) -> str:
    if isinstance(ratio, bool) or not isinstance(ratio, int | float):
        return "?"
    return f"{ratio * 100:.0f}%"


def _millis(seconds: Any) -> str:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return "-"
    return f"{seconds * 1000:.0f} ms"
