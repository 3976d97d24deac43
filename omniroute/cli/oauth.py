"""``omniroute login`` and ``logout``: subscription sign-ins from a shell.

    login chatgpt [--name N] [--paste] [--port P]
    logout ACCOUNT_ID

``login`` prints the sign-in address and waits for the browser to come back
to this machine's loopback address. On a server without a browser, ``--paste``
asks for the address the browser ended on instead (or forward the port:
``ssh -L 1455:127.0.0.1:1455 server``). A running gateway picks the new
account up within a second. Names of sign-ins we do not offer (``cc``,
``gc``, ``gh``, …) get one line saying why and what to use instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import webbrowser
from typing import Any

from omniroute import errors
from omniroute.cli.common import command, port_number, with_store
from omniroute.config.audit import CLI, Auditor
from omniroute.config.options import Options, ProviderOptions, egress_proxy
from omniroute.providers.oauth.chatgpt import PORT
from omniroute.providers.oauth.flows import DONE, FLOW_LIFETIME, LoginFlow
from omniroute.providers.oauth.http import OAuthHttp
from omniroute.providers.oauth.service import SUPPORTED, SignIns, ssh_hint
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.upstream import UpstreamClient


def register(sub: Any) -> None:
    login = command(sub, "login", "sign in to a subscription (chatgpt)", cmd_login)
    login.add_argument("provider", metavar="PROVIDER", help=f"one of: {', '.join(SUPPORTED)}")
    login.add_argument("--name", help="a name for the account (default: its e-mail)")
    login.add_argument(
        "--paste",
        action="store_true",
        help="paste the address the browser ended on (a server without a browser)",
    )
    login.add_argument(
        "--port", type=port_number, default=PORT, help=f"loopback port (default {PORT})"
    )
    login.add_argument("--no-browser", action="store_true", help="do not open a browser")
    logout = command(sub, "logout", "sign a subscription account out", cmd_logout)
    logout.add_argument("account", type=int, metavar="ACCOUNT_ID")


async def cmd_login(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        upstream = UpstreamClient(settings)
        sign_ins = SignIns(store, OAuthHttp(upstream))
        try:
            flow = await sign_ins.start(
                args.provider,
                name=args.name,
                proxy=await _proxy(store),
                listen=not args.paste,
                port=args.port,
            )
            print(f"Open this address in a browser and sign in:\n\n  {flow.url}\n")
            if args.paste:
                flow = await _pasted(sign_ins, flow)
            else:
                flow = await _redirected(sign_ins, flow, args)
        finally:
            await sign_ins.close()
            await upstream.aclose()
        if flow.status == DONE and flow.account_id is not None:
            await Auditor(store, CLI).record(
                "oauth.sign_in",
                f"account {flow.account_id}",
                {"provider": flow.provider, "new": flow.created},
            )
        return _report(flow)

    return await with_store(settings, work)


async def _pasted(sign_ins: SignIns, flow: LoginFlow) -> LoginFlow:
    print(
        "After signing in, the browser ends on a page that cannot be reached.\n"
        "Copy that page's whole address and paste it here, then press Enter:"
    )
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line.strip():
        raise errors.BadRequest("nothing was pasted; run the command again")
    return await sign_ins.complete(flow.id, url=line)


async def _redirected(sign_ins: SignIns, flow: LoginFlow, args: argparse.Namespace) -> LoginFlow:
    port = int(flow.redirect_uri.rsplit(":", 1)[1].split("/", 1)[0])
    if not args.no_browser and _has_display():
        # No browser after all is fine: the address is printed above.
        with contextlib.suppress(Exception):
            webbrowser.open(flow.url)
    print(f"Waiting for the browser to come back to {flow.redirect_uri} …")
    print(f"  ({ssh_hint(port)}; or run this command with --paste)")
    await sign_ins.wait(flow, FLOW_LIFETIME)
    return flow


def _has_display() -> bool:
    """A graphical session to open a browser in. Without one, a text browser
    could take over this terminal, so the address is only printed."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _report(flow: LoginFlow) -> int:
    if flow.status != DONE or flow.account_id is None:
        raise errors.BadRequest(flow.error or "the sign-in did not complete in time")
    who = f" as {flow.email}" if flow.email else ""
    what = "new account" if flow.created else "signed in again"
    print(f"Signed in{who}: account {flow.account_id} ({what}).")
    if flow.warning:
        print(f"warning: {flow.warning}", file=sys.stderr)
    return 0


async def cmd_logout(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        upstream = UpstreamClient(settings)
        try:
            revoked = await SignIns(store, OAuthHttp(upstream)).sign_out(
                args.account, await _proxy(store)
            )
        finally:
            await upstream.aclose()
        await Auditor(store, CLI).record(
            "oauth.sign_out", f"account {args.account}", {"revoked": revoked}
        )
        print(f"Signed out of account {args.account}; it is turned off until you sign in again.")
        if not revoked:
            print(
                "warning: the sign-in server did not confirm; disconnect the app in your "
                "account's settings to be sure",
                file=sys.stderr,
            )
        return 0

    return await with_store(settings, work)


async def _proxy(store: Store) -> str | None:
    """The gateway's egress proxy, which sign-ins take like requests do."""
    options = Options.read((await store.snapshot()).settings)
    return egress_proxy(options, ProviderOptions(), ProviderOptions())
