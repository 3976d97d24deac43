"""``omniroute combo …``, ``alias …`` and ``config …``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from omniroute.cli.common import (
    CLEAR,
    MAX_WHOLE,
    NAMING,
    command,
    group,
    is_none,
    number,
    split_list,
    whole,
    with_store,
)
from omniroute.config.combos import MAX_WEIGHT, weighted_targets
from omniroute.config.describe import combo_json
from omniroute.config.editor import ConfigEditor
from omniroute.config.routing import routing_view
from omniroute.config.setting_keys import SETTING_KEYS, settings_json
from omniroute.providers.catalog import Catalog
from omniroute.routing.strategies import STRATEGIES
from omniroute.settings import Settings
from omniroute.store import Store

_PROMPT_SHOWN = 60
# Parse-time checks of a `config set` value by its type; the setting's own
# check (minimums, relations between fields) runs when it is written.
_VALUE_TYPES: Mapping[type, Any] = MappingProxyType(
    {
        int: whole(0, none=True),
        float: number(0, MAX_WHOLE, none=True),
        list: lambda text: CLEAR if is_none(text) else split_list(text),
    }
)


class _ConfigValue(argparse.Action):
    """Reads VALUE by the type of the KEY before it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        text = str(values)
        _setting, _field, kind = SETTING_KEYS[namespace.key]
        parse = _VALUE_TYPES.get(kind)
        if parse is None:
            setattr(namespace, self.dest, CLEAR if is_none(text) else text)
            return
        try:
            setattr(namespace, self.dest, parse(text))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument VALUE: {namespace.key} {exc}")


def _weights(text: str) -> list[int]:
    parse = whole(0, MAX_WEIGHT)
    try:
        return [parse(item) for item in split_list(text)]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"needs whole numbers from 0 to {MAX_WEIGHT}, e.g. 3,1; got {text!r}"
        ) from None


def register(sub: Any) -> None:
    csub = group(sub, "combo", "manage combos: named, ordered lists of targets with fallback")
    add = command(csub, "add", "create a combo, or replace the one with this name", cmd_combo_add)
    add.add_argument("name", help="the combo's name; clients send it as the model")
    add.add_argument(
        "targets", nargs="+", metavar="TARGET", help="model strings or other combos' names"
    )
    add.add_argument("--strategy", default="fill-first", help=f"one of: {', '.join(STRATEGIES)}")
    add.add_argument(
        "--weights", type=_weights, help="comma-separated whole weights, one per target"
    )
    add.add_argument("--system-prompt", help="text put before the client's system prompt")
    command(csub, "list", "list combos", cmd_combo_list)
    for action in ("remove", "enable", "disable"):
        p = command(csub, action, f"{action} a combo", cmd_combo_change)
        p.add_argument("name")

    asub = group(sub, "alias", "manage model aliases: PATTERN (with *) routed to TARGET")
    aadd = command(asub, "add", "add an alias (tried after the existing ones)", cmd_alias_add)
    aadd.add_argument("pattern", help="model id pattern; * matches any text, e.g. 'claude-*'")
    aadd.add_argument("target", help="a combo name or model string; * is the captured text")
    command(asub, "list", "list aliases in the order they are tried", cmd_alias_list)
    arm = command(asub, "remove", "remove an alias", cmd_alias_remove)
    arm.add_argument("pattern")

    gsub = group(sub, "config", "global routing settings")
    cset = command(gsub, "set", "set one setting ('none' restores its default)", cmd_config_set)
    cset.add_argument(
        "key", choices=sorted(SETTING_KEYS), metavar="KEY", help=", ".join(SETTING_KEYS)
    )
    cset.add_argument("value", action=_ConfigValue, help="'none' restores the default")
    command(gsub, "show", "show the global settings", cmd_config_show)


# -- combos --------------------------------------------------------------------


async def cmd_combo_add(args: argparse.Namespace, settings: Settings) -> int:
    targets = weighted_targets(args.targets, args.weights, NAMING)

    async def run(store: Store) -> int:
        combo = await ConfigEditor(store).upsert_combo(
            args.name, targets, strategy=args.strategy, system_prompt=args.system_prompt
        )
        print(f"combo {combo.name} saved: {len(combo.targets)} target(s), {combo.strategy}")
        return 0

    return await with_store(settings, run)


async def cmd_combo_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        snap = await store.snapshot()
        if not snap.combos:
            print("no combos yet: add one with `omniroute combo add NAME TARGET...`")
        view = routing_view(snap, Catalog.load())
        for combo in snap.combos:
            c = combo_json(combo, view)
            state = "enabled" if c["enabled"] else "disabled"
            print(f"{c['name']}  strategy={c['strategy']}  {state}")
            for i, t in enumerate(c["targets"], start=1):
                off = "" if t["enabled"] else "  (off)"
                # A provider removed since the combo was saved leaves a target
                # that is skipped on every request: say so where it is listed.
                flag = f"  ({t['problem']})" if t["problem"] else ""
                print(f"  {i}. {t['ref']}  weight={t['weight']}{off}{flag}")
            if c["system_prompt"]:
                print(f"  system prompt: {_short(c['system_prompt'])}")
        return 0

    return await with_store(settings, run)


async def cmd_combo_change(args: argparse.Namespace, settings: Settings) -> int:
    action = args.combo_command

    async def run(store: Store) -> int:
        editor = ConfigEditor(store)
        if action == "remove":
            await editor.delete_combo(args.name)
        else:
            await editor.set_combo_enabled(args.name, action == "enable")
        print(f"combo {args.name} {action.removesuffix('e')}ed")
        return 0

    return await with_store(settings, run)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PROMPT_SHOWN else flat[: _PROMPT_SHOWN - 1] + "…"


# -- aliases -------------------------------------------------------------------


async def cmd_alias_add(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        alias = await ConfigEditor(store).add_alias(args.pattern, args.target)
        print(f"alias {alias.pattern} -> {alias.target} saved")
        return 0

    return await with_store(settings, run)


async def cmd_alias_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        aliases = (await store.snapshot()).aliases
        if not aliases:
            print("no aliases yet: add one with `omniroute alias add PATTERN TARGET`")
        for position, a in enumerate(aliases, start=1):
            print(f"{position}. {a.pattern} -> {a.target}")
        return 0

    return await with_store(settings, run)


async def cmd_alias_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        await ConfigEditor(store).remove_alias(args.pattern)
        print(f"alias {args.pattern} removed")
        return 0

    return await with_store(settings, run)


# -- config --------------------------------------------------------------------


async def cmd_config_set(args: argparse.Namespace, settings: Settings) -> int:
    value: Any = None if args.value == CLEAR else args.value

    async def run(store: Store) -> int:
        await ConfigEditor(store).change_settings({args.key: value})
        shown = settings_json((await store.snapshot()).settings)[args.key]
        print(f"{args.key} = {_shown(args.key, shown)}")
        return 0

    return await with_store(settings, run)


async def cmd_config_show(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        for key, shown in settings_json((await store.snapshot()).settings).items():
            print(f"{key} = {_shown(key, shown)}")
        return 0

    return await with_store(settings, run)


def _shown(key: str, setting: Mapping[str, Any]) -> str:
    """The stored value, or ``5 (default)``: the value the gateway uses
    while the key is not set."""
    if setting["value"] is None:
        default = setting["default"]
        return f"{'none' if default is None else _text(key, default)} (default)"
    return _text(key, setting["value"])


def _text(key: str, value: Any) -> str:
    if key == "system-prompt":
        return json.dumps(_short(str(value)), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
