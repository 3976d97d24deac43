"""``omniroute key …``: client keys and what each may do.

key create [--name N] [--models a,b] [--providers p,q] [--expires 30d]
           [--rpm 60] [--max-concurrent 4]     the key is printed once
key list                                       scope, expiry and usage
key set ID [same options; 'none' removes a limit, --expires never]
key revoke ID
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from omniroute.cli.common import CLEAR, ID, command, group, is_none, split_list, whole, with_store
from omniroute.config.keys import KeyEditor, key_state
from omniroute.settings import Settings
from omniroute.store import ClientKeyRecord, Store
from omniroute.store.key_scope import MAX_CONCURRENT, MAX_RPM

_ACTOR = "cli"


def _names(text: str) -> list[str] | str:
    return CLEAR if is_none(text) else split_list(text)


def _options(parser: argparse.ArgumentParser, *, changing: bool) -> None:
    also = "; 'none' removes the limit" if changing else ""
    parser.add_argument(
        "--name", help="a label for the key" + ("; 'none' removes it" if changing else "")
    )
    parser.add_argument(
        "--models",
        type=_names,
        metavar="A,B",
        help="model names or patterns it may use: openai/*, gpt-4o, a combo's name" + also,
    )
    parser.add_argument(
        "--providers", type=_names, metavar="P,Q", help="providers it may be routed to" + also
    )
    parser.add_argument(
        "--expires",
        metavar="DURATION",
        help="expiry from now: 90m, 12h, 30d, 2w" + ("; 'never' removes it" if changing else ""),
    )
    parser.add_argument(
        "--rpm",
        type=whole(1, MAX_RPM, none=True),
        metavar="N",
        help="model calls per minute" + also,
    )
    parser.add_argument(
        "--max-concurrent",
        type=whole(1, MAX_CONCURRENT, none=True),
        metavar="N",
        help="model calls in progress at once" + also,
    )


def register(sub: Any) -> None:
    ksub = group(sub, "key", "manage client API keys and what each may do")
    create = command(ksub, "create", "create a client key (printed once)", cmd_key_create)
    _options(create, changing=False)
    command(ksub, "list", "list client keys: prefix, scope, expiry, usage", cmd_key_list)
    change = command(ksub, "set", "change a key's name or scope", cmd_key_set)
    change.add_argument("id", type=ID, help="the key id from `key list`")
    _options(change, changing=True)
    revoke = command(ksub, "revoke", "revoke a client key", cmd_key_revoke)
    revoke.add_argument("id", type=ID, help="the key id from `key list`")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """The options given, as the fields ``KeyEditor`` takes ('none': null)."""
    given = {
        "name": args.name,
        "models": args.models,
        "providers": args.providers,
        "expires": args.expires,
        "rpm": args.rpm,
        "max_concurrent": args.max_concurrent,
    }
    fields = {k: None if v == CLEAR else v for k, v in given.items() if v is not None}
    name = fields.get("name")
    if isinstance(name, str) and is_none(name):
        fields["name"] = None
    return fields


async def cmd_key_create(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        record, plaintext = await KeyEditor(store).create(_fields(args), actor=_ACTOR, address=None)
        print(f"client key {record.id} created; it is shown only this once:", file=sys.stderr)
        print(plaintext)
        return 0

    return await with_store(settings, run)


async def cmd_key_set(args: argparse.Namespace, settings: Settings) -> int:
    fields = _fields(args)

    async def run(store: Store) -> int:
        record = await KeyEditor(store).update(args.id, fields, actor=_ACTOR, address=None)
        print(_line(record))
        return 0

    return await with_store(settings, run)


async def cmd_key_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        keys = await KeyEditor(store).list()
        if not keys:
            print("no client keys yet: create one with `omniroute key create`")
        for k in keys:
            print(_line(k))
        return 0

    return await with_store(settings, run)


async def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        await KeyEditor(store).revoke(args.id, actor=_ACTOR, address=None)
        print(f"client key {args.id} revoked")
        return 0

    return await with_store(settings, run)


def _line(k: ClientKeyRecord) -> str:
    """One key on one line: the prefix only, never the key."""
    scope = k.scope
    parts = [
        f"key {k.id}",
        f"{k.prefix}…",
        key_state(k, time.time()),
        f"created={_date(k.created_at)}",
        f"last_used={_date(k.last_used_at) if k.last_used_at else 'never'}",
        f"requests={k.requests}",
        f"tokens={k.input_tokens}/{k.output_tokens}",
        f"expires={_date(scope.expires_at) if scope.expires_at else 'never'}",
    ]
    if scope.models:
        parts.append(f"models={','.join(scope.models)}")
    if scope.providers:
        parts.append(f"providers={','.join(scope.providers)}")
    if scope.rpm is not None:
        parts.append(f"rpm={scope.rpm}")
    if scope.max_concurrent is not None:
        parts.append(f"max_concurrent={scope.max_concurrent}")
    if k.name:
        parts.append(f"name={k.name}")
    return "  ".join(parts)


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
