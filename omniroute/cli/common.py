"""Pieces every ``omniroute`` subcommand shares: options, the store, masking."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any

from omniroute import errors
from omniroute.settings import Settings
from omniroute.store import Store, check_proxy

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

NONE_WORDS = frozenset({"none", "null", "off", "unset"})
# Rate-limit options shared by `provider set` and `account set`: flag -> (field, type).
LIMIT_FLAGS: Mapping[str, tuple[str, type]] = MappingProxyType(
    {
        "--rpm": ("rpm", int),
        "--min-gap": ("min_gap", float),
        "--max-concurrent": ("max_concurrent", int),
        "--max-queue": ("max_queue", int),
    }
)
_LIMIT_HELP: Mapping[str, str] = MappingProxyType(
    {
        "rpm": "requests per minute (none: no limit)",
        "min_gap": "seconds between two request starts (none: no gap)",
        "max_concurrent": "requests in progress at once (none: no limit)",
        "max_queue": "requests allowed to wait for a slot (default 64)",
    }
)
_DEFAULT_LIMITS: Mapping[str, Any] = MappingProxyType(
    {"rpm": None, "min_gap": None, "max_concurrent": None, "max_queue": 64}
)


def common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: the subcommand's copy must not overwrite one given before it.
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where the database and key live (default: $DATA_DIR or ~/.omniroute)",
    )


def command(
    sub: Any, name: str, help_text: str, run: Command | None = None
) -> argparse.ArgumentParser:
    """A subcommand parser that accepts --data-dir and runs ``run``."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    common(parser)
    if run is not None:
        parser.set_defaults(run=run)
    return parser


def group(sub: Any, name: str, help_text: str) -> Any:
    """A command with its own actions (``provider add``, ``combo list``...)."""
    parser = command(sub, name, help_text)
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


async def with_store(settings: Settings, fn: Callable[[Store], Awaitable[int]]) -> int:
    store = Store(settings)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


def mask(secret: str) -> str:
    return "…" + secret[-4:] if len(secret) >= 16 else "****"


def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def is_none(text: str) -> bool:
    return text.strip().lower() in NONE_WORDS


def proxy_option(text: str | None) -> tuple[bool, str | None]:
    """(given?, value): ``none`` clears the proxy, ``direct`` forces none."""
    if text is None:
        return False, None
    if is_none(text):
        return True, None
    return True, check_proxy(text)


def add_proxy_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--proxy",
        metavar="URL",
        help=f"egress proxy for {what}: http(s)://, socks4(a)://, socks5(h)://host:port; "
        "'direct' forces no proxy, 'none' removes the setting",
    )


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    for flag, (name, _kind) in LIMIT_FLAGS.items():
        parser.add_argument(flag, dest=f"limit_{name}", metavar="N", help=_LIMIT_HELP[name])


def limits_patch(args: argparse.Namespace, current: Any) -> tuple[bool, dict[str, Any] | None]:
    """(given?, new limits) from the limit options merged into ``current``;
    None when nothing but defaults is left (the key is then removed)."""
    given = {
        name: (flag, kind, getattr(args, f"limit_{name}"))
        for flag, (name, kind) in LIMIT_FLAGS.items()
        if getattr(args, f"limit_{name}") is not None
    }
    if not given:
        return False, None
    merged = dict(_DEFAULT_LIMITS)
    if isinstance(current, Mapping):
        merged.update(current)
    for name, (flag, kind, text) in given.items():
        if is_none(text):
            merged[name] = _DEFAULT_LIMITS[name]
            continue
        try:
            merged[name] = kind(text)
        except ValueError:
            raise errors.BadRequest(f"{flag} needs a number or 'none', got {text!r}") from None
    return True, (None if merged == dict(_DEFAULT_LIMITS) else merged)


def describe_limits(value: Any) -> str | None:
    """``rpm=60 min_gap=0.5 …`` for the limits that are set, or None."""
    if not isinstance(value, Mapping):
        return None
    parts = [
        f"{name}={value[name]:g}" if isinstance(value[name], float) else f"{name}={value[name]}"
        for name in _DEFAULT_LIMITS
        if value.get(name) is not None and value.get(name) != _DEFAULT_LIMITS[name]
    ]
    return " ".join(parts) or None
