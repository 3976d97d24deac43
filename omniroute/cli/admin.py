"""``omniroute admin …`` and ``omniroute routes``: the management side from a
shell (over SSH on a headless box, say).

    admin password      set or change the admin password (prompted twice;
                        --stdin reads it from standard input, for scripts)
    admin logout-all    end every dashboard session
    admin mcp-key       a new key for MCP clients over HTTP (``--revoke`` ends it)
    audit               the audit log: who changed what, newest first
    routes              every route the gateway serves: METHOD PATH GUARD
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from omniroute import errors
from omniroute.cli.common import ID, command, group, whole, with_store
from omniroute.cli.mcp import register_key as register_mcp_key
from omniroute.settings import Settings
from omniroute.store import Store


def register(sub: Any) -> None:
    asub = group(sub, "admin", "the dashboard's password and sessions")
    password = command(asub, "password", "set or change the admin password", cmd_password)
    password.add_argument(
        "--stdin", action="store_true", help="read the password from standard input"
    )
    command(asub, "logout-all", "end every dashboard session", cmd_logout_all)
    register_mcp_key(asub)
    audit = command(sub, "audit", "the audit log of changes, newest first", cmd_audit)
    audit.add_argument(
        "--limit", type=whole(1, MAX_AUDIT_ROWS), default=50, help="how many entries (default 50)"
    )
    audit.add_argument("--before", type=ID, help="only entries older than this id (paging)")
    audit.add_argument("--json", action="store_true", help="every field, machine-readable")
    command(sub, "routes", "every route: METHOD PATH GUARD", cmd_routes)


MAX_AUDIT_ROWS = 1000


def _read_password(args: argparse.Namespace) -> str:
    if args.stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new admin password: ")
    if getpass.getpass("once more: ") != first:
        raise errors.BadRequest("the two passwords differ; nothing was changed")
    return first


async def cmd_password(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.api.admin.passwords import check_strength
    from omniroute.api.admin.sessions import AdminAuth
    from omniroute.store.admin import AdminRows

    password = _read_password(args)
    check_strength(password)  # before the store opens: a weak one changes nothing

    async def run(store: Store) -> int:
        auth = AdminAuth(AdminRows(store), settings.admin_session_ttl)
        replacing = await auth.has_password()
        await auth.set_password(password, actor="cli", address=None)
        print("admin password changed; every session ended" if replacing else "admin password set")
        return 0

    return await with_store(settings, run)


async def cmd_logout_all(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.api.admin.sessions import AdminAuth
    from omniroute.store.admin import AdminRows

    async def run(store: Store) -> int:
        auth = AdminAuth(AdminRows(store), settings.admin_session_ttl)
        ended = await auth.logout_all(actor="cli", address=None)
        print(f"{ended} session(s) ended")
        return 0

    return await with_store(settings, run)


async def cmd_routes(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.app import Gateway

    # Built, not started: the router is all this needs.
    for method, pattern, guard in Gateway(settings).routes():
        print(f"{method:7} {pattern:40} {guard}")
    return 0


async def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.cli.status import table
    from omniroute.config.audit import audit_json
    from omniroute.store.admin import AdminRows

    async def run(store: Store) -> int:
        rows = await AdminRows(store).audit_log(args.limit, args.before)
        entries = [audit_json(row) for row in rows]
        if args.json:
            print(json.dumps(entries, indent=2, ensure_ascii=False))
            return 0
        if not entries:
            print("no audit entries yet")
            return 0
        header = ("ID", "TIME", "ACTOR", "ACTION", "TARGET", "CHANGED")
        print("\n".join(table([header, *(_audit_row(e) for e in entries)])))
        return 0

    return await with_store(settings, run)


def _audit_row(entry: dict[str, Any]) -> tuple[str, ...]:
    when = datetime.fromtimestamp(entry["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    actor = entry["actor"] + (f"@{entry['address']}" if entry["address"] else "")
    before, after = entry["detail"].get("before"), entry["detail"].get("after")
    # What a change touched; the values are in --json.
    changed = "-"
    if isinstance(before, dict) and isinstance(after, dict):
        changed = ", ".join(dict.fromkeys([*before, *after])) or "-"
    return (str(entry["id"]), when, actor, entry["action"], entry["target"] or "-", changed)
