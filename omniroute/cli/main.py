"""The ``omniroute`` command.

    omniroute [serve] [--host H] [--port P] [--admin-port P] [--admin-host H] [--data-dir D]
    omniroute provider add|catalog|list|enable|disable|remove|set|discover …
    omniroute account set ID …
    omniroute combo add|list|remove|enable|disable …
    omniroute alias add|list|remove …
    omniroute config set KEY VALUE | show
    omniroute key create|list|set|revoke …
    omniroute price set|list|unset …, budget set|list|unset …, usage …
    omniroute admin password|logout-all|mcp-key, omniroute audit, omniroute routes
    omniroute mcp
    omniroute export|import …, backup create|list|restore …, doctor
    omniroute eval list | eval run SUITE --models A,B
    omniroute cache stats|clear
    omniroute tools setup TOOL …, tools copilot …
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
from typing import Any

from omniroute import __version__, errors
from omniroute.cli import admin as cli_admin
from omniroute.cli import cache as cli_cache
from omniroute.cli import doctor as cli_doctor
from omniroute.cli import evals as cli_evals
from omniroute.cli import keys as cli_keys
from omniroute.cli import logs as cli_logs
from omniroute.cli import mcp as cli_mcp
from omniroute.cli import oauth as cli_oauth
from omniroute.cli import provider as cli_provider
from omniroute.cli import quota as cli_quota
from omniroute.cli import routing as cli_routing
from omniroute.cli import spending as cli_spending
from omniroute.cli import status as cli_status
from omniroute.cli import tools as cli_tools
from omniroute.cli import transfer as cli_transfer
from omniroute.cli.common import (
    Command,
    Parser,
    command,
    common,
    port_number,
)
from omniroute.settings import DEFAULT_PORT, Settings

_OVERVIEW = """\
commands:
  serve                              run the gateway (the default)
  status [--json]                    health of the running gateway: uptime, memory, breakers…
  quota [--json]                     every account's usage windows: used %, resets in
  provider add NAME --api-key KEY    add a catalog provider (or custom: --format, --base-url)
  login chatgpt [--name N] [--paste] sign in with a ChatGPT plan (Plus/Pro)
  logout ACCOUNT_ID                  sign a subscription account out
  provider catalog [NAME] [--json]   the built-in providers, models, prices
  provider list                      providers and accounts, secrets masked
  provider enable|disable|remove NAME
  provider set NAME [options]        base URL, models, proxy, rate limits, headers
  provider discover NAME [--replace] add the models the upstream lists
  account set ID [options]           priority, on/off, proxy, rate limits
  combo add NAME TARGET... [options] | combo list | combo remove|enable|disable NAME
  alias add PATTERN TARGET | alias list | alias remove PATTERN
  config set KEY VALUE | config show
  key create [--name N] [--models A,B] [--providers P,Q] [--expires 30d] [--rpm N]
             [--max-concurrent N]    a client key (printed once) and what it may do
  key list | key set ID [options] | key revoke ID
  price set PROVIDER/MODEL --input X --output Y [--cached Z] [--reasoning W]
                                     override a price (USD per 1M tokens)
  price list | price unset PROVIDER/MODEL
  budget set provider:NAME|key:ID|combo:NAME/STEP [--daily USD] [--monthly USD]
  budget list | budget unset SCOPE   spending ceilings per UTC day and month
  usage [--by provider|model|key|day] [--since 7d] [--csv]
                                     requests, tokens and cost from the request log
  admin password [--stdin] | admin logout-all
  admin mcp-key [--revoke]           an admin key for MCP clients of /mcp (printed once)
  mcp                                the MCP server on stdin/stdout, for an MCP client
  audit [--limit N] [--json]         who changed what, newest first
  logs [--follow] [--status 5xx] [--model M] [--limit N] [--json]
                                     the request log, newest last
  export [--secrets] [-o FILE]       the configuration as a file (secrets: encrypted)
  import FILE                        replace the configuration with an exported one
  backup create|list|restore NAME    copies of the whole database
  doctor [--json]                    check permissions, key, database, port, configuration
  routes                             every route the gateway serves, with its guard
  eval list | eval run SUITE --models A,B [--json]
                                     run an eval suite through the running gateway and
                                     compare the models side by side
  cache stats [--json] | cache clear the response cache: hit rate, bytes, saved cost; empty it
  tools setup TOOL [--model M] [--key K] [--dry-run|--undo]
                                     point claude|codex|gemini|opencode|cline|kilo|openclaw
                                     at the gateway (its own settings file, backed up first)
  tools copilot [--model M]...       VS Code Copilot's chatLanguageModels.json

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
    parser.add_argument(
        "--admin-port",
        type=port_number,
        default=argparse.SUPPRESS,
        help="serve the dashboard and /api only on this port (the client API stays on --port)",
    )
    parser.add_argument(
        "--admin-host",
        default=argparse.SUPPRESS,
        help="address the admin port binds (default: the --host address)",
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
    cli_quota.register(sub)
    cli_provider.register(sub)
    cli_routing.register(sub)
    cli_spending.register(sub)
    cli_admin.register(sub)
    cli_transfer.register(sub)
    cli_doctor.register(sub)

    cli_keys.register(sub)
    cli_logs.register(sub)
    cli_oauth.register(sub)
    cli_mcp.register(sub)
    cli_evals.register(sub)
    cli_cache.register(sub)
    cli_tools.register(sub)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "admin_port", "admin_host", "data_dir"):
        if hasattr(args, name):
            overrides[name] = getattr(args, name)
    return Settings.load(overrides)


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.app import serve

    await serve(settings)
    return 0


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
