"""``omniroute combo …``, ``alias …`` and ``config …``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from omniroute import errors
from omniroute.cli.common import (
    CLEAR,
    MAX_WHOLE,
    command,
    group,
    is_none,
    number,
    split_list,
    whole,
    with_store,
)
from omniroute.config.editor import ConfigEditor
from omniroute.config.options import SETTING_DEFAULTS
from omniroute.config.routing import routing_view, target_problem
from omniroute.providers.catalog import Catalog
from omniroute.routing.strategies import STRATEGIES
from omniroute.settings import Settings
from omniroute.store import ComboTargetRecord, Store, mask_proxy

# `config set` keys -> (setting, field inside it or None, value type).
CONFIG_KEYS: Mapping[str, tuple[str, str | None, type]] = MappingProxyType(
    {
        "proxy": ("proxy", None, str),
        "system-prompt": ("system_prompt", None, str),
        "account-strategy": ("account_strategy", None, str),
        "breaker.failure-threshold": ("breaker", "failure_threshold", int),
        "breaker.window": ("breaker", "window", float),
        "breaker.cooldown": ("breaker", "cooldown", float),
        "cooldown.base": ("cooldown", "base", float),
        "cooldown.factor": ("cooldown", "factor", float),
        "cooldown.cap": ("cooldown", "cap", float),
        "fallback.max-attempts": ("fallback", "max_attempts", int),
        "fallback.max-seconds": ("fallback", "max_seconds", float),
        "public-hosts": ("public_hosts", None, list),
        "trusted-proxies": ("trusted_proxies", None, list),
        "backup-retention": ("backup_retention", None, int),
        "backup-interval-hours": ("backup_interval_hours", None, float),
        "allow-link-local-base-urls": ("allow_link_local_base_urls", None, str),
    }
)
_PROMPT_SHOWN = 60
_MAX_WEIGHT = 1_000_000
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
        _setting, _field, kind = CONFIG_KEYS[namespace.key]
        parse = _VALUE_TYPES.get(kind)
        if parse is None:
            setattr(namespace, self.dest, CLEAR if is_none(text) else text)
            return
        try:
            setattr(namespace, self.dest, parse(text))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument VALUE: {namespace.key} {exc}")


def _weights(text: str) -> list[int]:
    parse = whole(0, _MAX_WEIGHT)
    try:
        return [parse(item) for item in split_list(text)]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"needs whole numbers from 0 to {_MAX_WEIGHT}, e.g. 3,1; got {text!r}"
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
        "key", choices=sorted(CONFIG_KEYS), metavar="KEY", help=", ".join(CONFIG_KEYS)
    )
    cset.add_argument("value", action=_ConfigValue, help="'none' restores the default")
    command(gsub, "show", "show the global settings", cmd_config_show)


# -- combos --------------------------------------------------------------------


async def cmd_combo_add(args: argparse.Namespace, settings: Settings) -> int:
    weights: list[int] = [1] * len(args.targets) if args.weights is None else args.weights
    if len(weights) != len(args.targets):
        raise errors.BadRequest(
            f"--weights has {len(weights)} value(s) for {len(args.targets)} target(s)"
        )
    targets = [ComboTargetRecord(t, w) for t, w in zip(args.targets, weights, strict=True)]

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
        for c in snap.combos:
            state = "enabled" if c.enabled else "disabled"
            print(f"{c.name}  strategy={c.strategy}  {state}")
            for i, t in enumerate(c.targets, start=1):
                off = "" if t.enabled else "  (off)"
                problem = target_problem(t.ref, view)
                # A provider removed since the combo was saved leaves a target
                # that is skipped on every request: say so where it is listed.
                flag = f"  ({problem})" if problem else ""
                print(f"  {i}. {t.ref}  weight={t.weight}{off}{flag}")
            if c.system_prompt:
                print(f"  system prompt: {_short(c.system_prompt)}")
        return 0

    return await with_store(settings, run)


async def cmd_combo_change(args: argparse.Namespace, settings: Settings) -> int:
    action = args.combo_command

    async def run(store: Store) -> int:
        if action == "remove":
            if not await store.delete_combo(args.name):
                raise errors.BadRequest(f"unknown combo {args.name!r}")
        else:
            await store.set_combo_enabled(args.name, action == "enable")
        print(f"combo {args.name} {action.removesuffix('e')}ed")
        return 0

    return await with_store(settings, run)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PROMPT_SHOWN else flat[: _PROMPT_SHOWN - 1] + "…"


# -- aliases -------------------------------------------------------------------


async def cmd_alias_add(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        alias = await store.add_alias(args.pattern, args.target)
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
        if not await store.remove_alias(args.pattern):
            raise errors.BadRequest(f"unknown alias {args.pattern!r}")
        print(f"alias {args.pattern} removed")
        return 0

    return await with_store(settings, run)


# -- config --------------------------------------------------------------------


async def cmd_config_set(args: argparse.Namespace, settings: Settings) -> int:
    setting, field, _kind = CONFIG_KEYS[args.key]
    value: Any = None if args.value == CLEAR else args.value

    async def run(store: Store) -> int:
        editor = ConfigEditor(store)
        if field is not None:
            await editor.merge_setting(setting, {field: value})
        elif value is None:
            await editor.delete_setting(setting)
        else:
            await editor.set_setting(setting, value)
        shown = _default(args.key) if value is None else _shown(args.key, value)
        print(f"{args.key} = {shown}")
        return 0

    return await with_store(settings, run)


async def cmd_config_show(args: argparse.Namespace, settings: Settings) -> int:
    async def run(store: Store) -> int:
        snap = await store.snapshot()
        for key, (setting, field, _kind) in CONFIG_KEYS.items():
            stored = snap.settings.get(setting)
            if field is not None:
                stored = stored.get(field) if isinstance(stored, dict) else None
            shown = _default(key) if stored is None else _shown(key, stored)
            print(f"{key} = {shown}")
        return 0

    return await with_store(settings, run)


def _default(key: str) -> str:
    """``5 (default)``: the value the gateway uses while the key is not set."""
    setting, field, _kind = CONFIG_KEYS[key]
    value = SETTING_DEFAULTS[setting]
    if field is not None:
        value = value[field]
    return f"{'none' if value is None else _shown(key, value)} (default)"


def _shown(key: str, value: Any) -> str:
    if key == "proxy":
        return mask_proxy(value)
    if key == "system-prompt":
        return json.dumps(_short(str(value)), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
