"""``omniroute mcp``: the MCP server on stdio, for an MCP client that starts
it (Claude Desktop, Claude Code…), working on the data directory's store like
the other commands; and ``omniroute admin mcp-key``, the key an MCP client
sends to a running gateway's ``/mcp``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from omniroute.cli.common import command, with_store
from omniroute.settings import Settings
from omniroute.store import Store


def register(sub: Any) -> None:
    command(sub, "mcp", "the MCP server on stdin/stdout (for an MCP client to start)", cmd_mcp)


def register_key(admin: Any) -> None:
    """``admin mcp-key``, among the other ``admin`` actions."""
    key = command(
        admin,
        "mcp-key",
        "a new admin key for MCP clients over HTTP (printed once; replaces the old one)",
        cmd_mcp_key,
    )
    key.add_argument("--revoke", action="store_true", help="end the key, making no new one")


async def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.api.mcp.context import LocalContext
    from omniroute.api.mcp.stdio import serve_stdio, stdin_reader, stdout_writer

    async def run(store: Store) -> int:
        context = LocalContext(store, settings)
        try:
            await serve_stdio(context, await stdin_reader(), stdout_writer())
        finally:
            await context.aclose()
        return 0

    return await with_store(settings, run)


async def cmd_mcp_key(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.api.mcp.keys import create_key, revoke_key
    from omniroute.config.audit import CLI

    async def run(store: Store) -> int:
        if args.revoke:
            revoked = await revoke_key(store, CLI)
            print("MCP admin key revoked" if revoked else "there was no MCP admin key")
            return 0
        key = await create_key(store, CLI)
        print(key)
        print(
            "Shown once. MCP clients send it to /mcp as 'Authorization: Bearer <key>'; "
            "any key made before no longer works.",
            file=sys.stderr,
        )
        return 0

    return await with_store(settings, run)
