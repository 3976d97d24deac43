"""The ``omniroute`` command.

    omniroute [serve] [--host H] [--port P] [--data-dir D]
    omniroute provider add|catalog|list|enable|disable|remove|set|discover …
    omniroute account set ID …
    omniroute combo add|list|remove|enable|disable …
    omniroute alias add|list|remove …
    omniroute config set KEY VALUE | show
    omniroute key create|list|revoke …
    omniroute export|import …, backup create|list|restore …, doctor
    omniroute --version | --help

``--data-dir`` is accepted on every command, before or after its options.
Errors are one line on stderr with exit status 2; secrets (API keys, proxy
passwords) are masked in every output.  A running server picks changes up
within a second (it polls the config revision).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from omniroute import __version__, errors
from omniroute.cli import admin as cli_admin
from omniroute.cli import doctor as cli_doctor
from omniroute.cli import provider as cli_provider
from omniroute.cli import routing as cli_routing
from omniroute.cli import status as cli_status
from omniroute.cli import transfer as cli_transfer
from omniroute.cli.common import (
    ID,
    Command,
    Parser,
    command,
    common,
    group,
    port_number,
    with_store,
)
from omniroute.settings import DEFAULT_PORT, Settings
from omniroute.store import Store

_OVERVIEW = """\
commands:
  serve                              run the gateway (the default)
  status [--json]                    health of the running gateway: uptime, memory, breakers…
  provider add NAME --api-key KEY    add a catalog provider (or custom: --format, --base-url)
  provider catalog [NAME] [--json]   the built-in providers, models, prices
  provider list                      providers and accounts, secrets masked
  provider enable|disable|remove NAME
  provider set NAME [options]        base URL, models, proxy, rate limits, headers
  provider discover NAME [--replace] add the models the upstream lists
  account set ID [options]           priority, on/off, proxy, rate limits
  combo add NAME TARGET... [options] | combo list | combo remove|enable|disable NAME
  alias add PATTERN TARGET | alias list | alias remove PATTERN
  config set KEY VALUE | config show
  key create [--name N] | key list | key revoke ID
  admin password [--stdin] | admin logout-all
  export [--secrets] [-o FILE]       the configuration as a file (secrets: encrypted)
  import FILE                        replace the configuration with an exported one
  backup create|list|restore NAME    copies of the whole database
  doctor [--json]                    check permissions, key, database, port, configuration
  routes                             every route the gateway serves, with its guard

`omniroute COMMAND ACTION --help` shows each one's options."""


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=argparse.SUPPRESS, help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=argparse.SUPPRESS,
        help=f"port, 0-65535 (default {DEFAULT_PORT}; 0: any free port)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="omniroute",
        description="Self-hosted AI gateway: one endpoint for OpenAI, Anthropic, Gemini clients.",
        epilog=_OVERVIEW,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"omniroute {__version__}")
    common(parser)
    _serve_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = command(sub, "serve", "run the gateway (the default)", cmd_serve)
    _serve_options(serve)
    status = command(sub, "status", "health of the running gateway", cli_status.cmd_status)
    status.add_argument(
        "--json", action="store_true", help="everything, as the gateway's /api/status answers"
    )
    cli_provider.register(sub)
    cli_routing.register(sub)
    cli_admin.register(sub)
    cli_transfer.register(sub)
    cli_doctor.register(sub)

    ksub = group(sub, "key", "manage client API keys")
    kcreate = command(ksub, "create", "create a client key (printed once)", cmd_key_create)
    kcreate.add_argument("--name", help="a label for the key")
    command(ksub, "list", "list client keys (prefixes only)", cmd_key_list)
    krevoke = command(ksub, "revoke", "revoke a client key", cmd_key_revoke)
    krevoke.add_argument("id", type=ID, help="the key id from `key list`")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir"):
        if hasattr(args, name):
            overrides[name] = getattr(args, name)
    return Settings.load(overrides)


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.app import serve

    await serve(settings)
    return 0


async def cmd_key_create(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        record, plaintext = await store.create_client_key(args.name)
        print(f"client key {record.id} created; it is shown only this once:", file=sys.stderr)
        print(plaintext)
        return 0

    return await with_store(settings, run)


async def cmd_key_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        keys = await store.list_client_keys()
        if not keys:
            print("no client keys yet: create one with `omniroute key create`")
        for k in keys:
            state = "revoked" if k.revoked else "active"
            used = _date(k.last_used_at) if k.last_used_at else "never"
            label = f"  name={k.name}" if k.name else ""
            print(
                f"key {k.id}  {k.prefix}…  {state}  created={_date(k.created_at)}  "
                f"last_used={used}{label}"
            )
        return 0

    return await with_store(settings, run)


async def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        if not await store.revoke_client_key(args.id):
            raise errors.BadRequest(f"no active client key with id {args.id}")
        print(f"client key {args.id} revoked")
        return 0

    return await with_store(settings, run)


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        args = build_parser().parse_args(argv)  # usage errors exit 2 from here
        run: Command = getattr(args, "run", cmd_serve)
        settings = settings_from(args)
        return asyncio.run(run(args, settings))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`… | head`): nothing to say
        return 1
    except errors.OmniError as err:
        return _fail(err.message)
    except ValueError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{err.strerror or err}: {err.filename or ''}".rstrip(": "))
    except sqlite3.Error as err:
        return _fail(f"database error: {err}")
    except Exception as err:  # a bug: still one line, never a traceback
        return _fail(f"unexpected error: {err.__class__.__name__}: {err}")


def _fail(message: str) -> int:
    """Every error is one line on stderr and exit status 2."""
    print(f"omniroute: {' '.join(message.split())}", file=sys.stderr)
    return 2
