"""Pieces every ``omniroute`` subcommand shares: options, the store, masking."""

from __future__ import annotations

import argparse
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NoReturn

from omniroute.config.naming import Naming
from omniroute.config.providers import DEFAULT_LIMITS
from omniroute.config.redact import mask
from omniroute.settings import Settings
from omniroute.store import Store, check_proxy

__all__ = ["mask"]  # shown the same way as by the management API

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

NONE_WORDS = frozenset({"none", "null", "off", "unset"})
# What an option that takes "a number or none" gives for "none".
CLEAR = "none"
# Whole numbers the CLI accepts are kept far inside SQLite's 64-bit integers.
MAX_WHOLE = 1_000_000_000


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error shape: one line on stderr, exit status 2,
    named after the (sub)command that could not read its arguments."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        # A subcommand's parser is run with parse_known_args, and what it does
        # not know would otherwise be reported by the top-level parser, with
        # the top-level usage; refusing it here names the subcommand.
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def whole(low: int, high: int = MAX_WHOLE, *, none: bool = False) -> Callable[[str], Any]:
    """An argparse type: a whole number in [low, high] (or ``none``)."""

    def parse(text: str) -> int | str:
        if none and is_none(text):
            return CLEAR
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            also = " or 'none'" if none else ""
            raise argparse.ArgumentTypeError(
                f"needs a whole number from {low} to {high}{also}, got {text!r}"
            )
        return value

    parse.__name__ = "whole number"  # argparse names the type in some errors
    return parse


def number(low: float, high: float, *, none: bool = False) -> Callable[[str], Any]:
    """An argparse type: a finite number in [low, high] (or ``none``)."""

    def parse(text: str) -> float | str:
        if none and is_none(text):
            return CLEAR
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            also = " or 'none'" if none else ""
            raise argparse.ArgumentTypeError(
                f"needs a number from {_plain(low)} to {_plain(high)}{also}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    return parse


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def port_number(text: str) -> int:
    """0-65535; 0 lets the system pick a free port."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"a port is a whole number from 0 to 65535 (0: any free port), got {text!r}"
        )
    return value


ID = whole(1, 2**63 - 1)
PRIORITY = whole(-MAX_WHOLE, MAX_WHOLE)

# Rate-limit options shared by `provider set` and `account set`:
# flag -> (field, argparse type). The bounds are the rate limiter's own.
LIMIT_FLAGS: Mapping[str, tuple[str, Callable[[str], Any]]] = MappingProxyType(
    {
        "--rpm": ("rpm", whole(1, none=True)),
        "--min-gap": ("min_gap", number(0, 3600, none=True)),
        "--max-concurrent": ("max_concurrent", whole(1, none=True)),
        "--max-queue": ("max_queue", whole(0, none=True)),
    }
)
_LIMIT_HELP: Mapping[str, str] = MappingProxyType(
    {
        "rpm": "requests per minute (none: no limit)",
        "min_gap": "seconds between two request starts, 0-3600 (none: no gap)",
        "max_concurrent": "requests in progress at once (none: no limit)",
        "max_queue": "requests allowed to wait for a slot (default 64)",
    }
)
# Errors about an input name it as the command line spells it.
NAMING = Naming(
    field=lambda name: "--" + name.replace("_", "-"),
    catalog="`omniroute provider catalog`",
    option="option",
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
    for flag, (name, kind) in LIMIT_FLAGS.items():
        parser.add_argument(
            flag, dest=f"limit_{name}", metavar="N", type=kind, help=_LIMIT_HELP[name]
        )


def limits_given(args: argparse.Namespace) -> dict[str, Any] | None:
    """The limit options given, as a change (None: back to the default), or
    None when none was given."""
    given = {
        name: None if getattr(args, f"limit_{name}") == CLEAR else getattr(args, f"limit_{name}")
        for name, _kind in LIMIT_FLAGS.values()
        if getattr(args, f"limit_{name}") is not None
    }
    return given or None


def describe_limits(value: Any) -> str | None:
    """``rpm=60 min_gap=0.5 …`` for the limits that are set, or None."""
    if not isinstance(value, Mapping):
        return None
    parts = [
        f"{name}={value[name]:g}" if isinstance(value[name], float) else f"{name}={value[name]}"
        for name in DEFAULT_LIMITS
        if value.get(name) is not None and value.get(name) != DEFAULT_LIMITS[name]
    ]
    return " ".join(parts) or None
