"""``omniroute tools …``: point coding tools at this gateway.

tools setup TOOL [--model M] [--key K] [--url U] [--home DIR]
                 [--dry-run | --undo]     write the tool's own settings file
tools copilot [--model M]… [--api T] [--key K] [--url U] [-o FILE]
                                          VS Code Copilot's chatLanguageModels.json

Without --key a new client key named after the tool is created and written
into the file; it is never printed. --dry-run shows the diff (the key
masked) and creates and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from omniroute.cli.common import command, group, with_store
from omniroute.config.audit import CLI
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.tools import setup
from omniroute.tools.copilot import API_PATHS, chat_language_models


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tsub = group(
        sub, "tools", "point coding tools (Claude Code, Codex, Gemini CLI…) at the gateway"
    )
    s = command(tsub, "setup", "write a tool's own settings file to use this gateway", cmd_setup)
    s.add_argument(
        "tool",
        choices=setup.tool_names(),
        metavar="TOOL",
        help=f"one of: {', '.join(setup.tool_names())}",
    )
    s.add_argument(
        "--model",
        help="the tool's default model (default: the first combo or model the gateway serves)",
    )
    s.add_argument("--key", help="the client key to write (default: create one for the tool)")
    _url_home(s)
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    mode.add_argument(
        "--undo", action="store_true", help="put the file back as it was before the last setup"
    )
    c = command(tsub, "copilot", "print VS Code Copilot's chatLanguageModels.json", cmd_copilot)
    c.add_argument(
        "--model",
        action="append",
        metavar="M",
        help="a model to offer (repeatable; default: every model served)",
    )
    c.add_argument(
        "--api",
        choices=tuple(API_PATHS),
        default="chat-completions",
        help="the API type Copilot calls (default chat-completions)",
    )
    c.add_argument("--key", help="put this key in the file (default: VS Code asks for it)")
    c.add_argument("--url", help="the gateway's URL (default: from --host/--port settings)")
    c.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")


def _url_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help="the gateway's URL as the tool reaches it "
        "(default: http://HOST:PORT from the settings)",
    )
    parser.add_argument(
        "--home", type=Path, help="the home directory whose files are written (default: $HOME)"
    )


def _url(args: argparse.Namespace, settings: Settings) -> str:
    if args.url:
        return setup.check_url(args.url)
    return setup.gateway_url(settings.host, settings.port)


async def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    home: Path = args.home or Path.home()
    if args.undo:
        for r in setup.undo_tool(args.tool, home):
            what = "removed (it did not exist before)" if r.deleted else "restored"
            print(f"{r.path}: {what} from {r.backup.name}")
        return 0

    async def run(store: Store) -> int:
        url = _url(args, settings)
        done = await setup.set_up(
            store,
            args.tool,
            home,
            url,
            model=args.model,
            key=args.key,
            dry_run=args.dry_run,
            **CLI.as_kwargs(),
            no_model="the gateway serves no model yet: add a provider or pass --model",
        )
        if args.dry_run:
            sys.stdout.write(done.plan.diff() or "nothing to change\n")
            return 0
        for path, backup in done.written:
            print(f"{path}: written (backup {backup.name})")
        if not done.written:
            print("already set up: nothing changed")
        if done.key_created is not None:
            print(f"a new client key (id {done.key_created}) is in the file; it is not shown here")
        print(f"{args.tool} now uses {url} with model {done.model}")
        return 0

    return await with_store(settings, run)


async def cmd_copilot(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        models = args.model or setup.served_models(await store.snapshot())
        text = (
            json.dumps(
                chat_language_models(_url(args, settings), models, api=args.api, key=args.key),
                indent=2,
            )
            + "\n"
        )
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"written to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0

    return await with_store(settings, run)
