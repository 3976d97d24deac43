"""``omniroute admin …`` and ``omniroute routes``: the management side from a
shell (over SSH on a headless box, say).

    admin password      set or change the admin password (prompted twice;
                        --stdin reads it from standard input, for scripts)
    admin logout-all    end every dashboard session
    routes              every route the gateway serves: METHOD PATH GUARD
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from omniroute import errors
from omniroute.cli.common import command, group, with_store
from omniroute.settings import Settings
from omniroute.store import Store


def register(sub: Any) -> None:
    asub = group(sub, "admin", "the dashboard's password and sessions")
    password = command(asub, "password", "set or change the admin password", cmd_password)
    password.add_argument(
        "--stdin", action="store_true", help="read the password from standard input"
    )
    command(asub, "logout-all", "end every dashboard session", cmd_logout_all)
    command(sub, "routes", "every route: METHOD PATH GUARD", cmd_routes)


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
