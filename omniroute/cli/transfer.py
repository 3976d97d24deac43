"""``omniroute export``, ``import`` and ``backup …``: the same functions the
management API calls, run on the database directly.

    export [--secrets] [-o FILE] [--passphrase-stdin]
    import FILE [--passphrase-stdin]
    backup create | list [--json] | restore NAME

A restore (or an import) works whether or not a gateway is running on the
data dir: it is one SQLite transaction, and a running gateway picks the new
configuration up within a second, as it does any CLI change.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniroute import errors
from omniroute.cli.common import command, group, with_store
from omniroute.settings import Settings
from omniroute.store import Store


def register(sub: Any) -> None:
    export = command(sub, "export", "write the configuration to a file (or stdout)", cmd_export)
    export.add_argument(
        "--secrets",
        action="store_true",
        help="include API keys, proxy passwords and header values, encrypted under a passphrase",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here (mode 0600)")
    _passphrase_option(export)
    imp = command(sub, "import", "replace the configuration with an exported file", cmd_import)
    imp.add_argument("file", metavar="FILE", help="a file from `omniroute export` ('-': stdin)")
    _passphrase_option(imp)

    bsub = group(sub, "backup", "copies of the whole database in <data dir>/backups")
    command(bsub, "create", "write a backup now", cmd_backup_create)
    blist = command(bsub, "list", "list backups, newest first", cmd_backup_list)
    blist.add_argument("--json", action="store_true", help="as GET /api/backups answers")
    restore = command(bsub, "restore", "restore a backup (a running gateway follows)", cmd_restore)
    restore.add_argument("name", metavar="NAME", help="a name from `omniroute backup list`")


def _passphrase_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-stdin",
        action="store_true",
        help="read the passphrase from the first line of standard input (else it is asked for)",
    )


def _passphrase(args: argparse.Namespace, *, twice: bool) -> str:
    if args.passphrase_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("passphrase: ")
    if twice and getpass.getpass("once more: ") != first:
        raise errors.BadRequest("the two passphrases differ; nothing was exported")
    return first


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.config.export_secrets import check_passphrase
    from omniroute.config.transfer import export_config

    passphrase = check_passphrase(_passphrase(args, twice=True)) if args.secrets else None

    async def run(store: Store) -> int:
        document = await export_config(
            store, secrets=args.secrets, passphrase=passphrase, actor="cli"
        )
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if args.output:
            _write_private(Path(args.output), text)
        else:
            sys.stdout.write(text)
        where = args.output or "standard output"
        how = (
            "secrets encrypted under the passphrase"
            if args.secrets
            else "secrets withheld (--secrets includes them, encrypted)"
        )
        print(f"configuration exported to {where}; {how}", file=sys.stderr)
        return 0

    return await with_store(settings, run)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all, readable by its owner only."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.config.transfer import import_config

    if args.file == "-" and args.passphrase_stdin:
        raise errors.BadRequest("the file and the passphrase cannot both come from stdin")
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise errors.BadRequest(f"{args.file} is not valid JSON ({exc}); nothing changed") from None
    encrypted = isinstance(document, dict) and document.get("encryption") is not None
    passphrase = _passphrase(args, twice=False) if encrypted else None

    async def run(store: Store) -> int:
        summary = await import_config(store, document, passphrase=passphrase, actor="cli")
        counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in summary.counts().items())
        print(f"configuration replaced from {args.file}: {counts}")
        for item in summary.left_out:
            print(f"  left out: {item}")
        if summary.left_out:
            print("  (export with --secrets to carry secrets; add keys again with `provider add`)")
        return 0

    return await with_store(settings, run)


async def cmd_backup_create(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.config.backups import make_backup

    async def run(store: Store) -> int:
        made = await make_backup(store, actor="cli")
        print(f"backup {made.name} written ({_size(made.size)}) in {store.backup_dir}")
        return 0

    return await with_store(settings, run)


async def cmd_backup_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        backups = await store.list_backups()
        if args.json:
            print(json.dumps({"backups": [b.to_json() for b in backups]}, indent=2))
            return 0
        if not backups:
            print("no backups yet: write one with `omniroute backup create`")
        for b in backups:
            print(f"{b.name}  {b.kind}  {_size(b.size)}  {_date(b.created_at)}")
        return 0

    return await with_store(settings, run)


async def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.config.backups import restore_backup

    async def run(store: Store) -> int:
        result = await restore_backup(store, args.name, actor="cli")
        print(f"restored {result.restored}; the state it replaced is in {result.previous}")
        return 0

    return await with_store(settings, run)


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
