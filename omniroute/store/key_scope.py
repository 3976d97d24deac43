"""What a client key may do, kept as a JSON object in ``client_keys.scope``.

    models          model names or patterns the key may ask for (``*`` matches
                    any text, case-insensitive, as in aliases); none: any
    providers       provider names it may be routed to; none: any
    expires_at      unix time after which it is refused (401); none: never
    rpm             model calls per minute; none: no limit
    max_concurrent  model calls in progress at once; none: no limit

A field that is absent (or null) sets no limit. Writing is strict
(``check_scope`` names the bad field); reading is lenient, so a value
another version stored that no longer passes is ignored with a warning and
the key keeps working with its other limits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import BadRequest

log = logging.getLogger("omniroute.store")

MAX_PATTERNS = 256
MAX_PATTERN_CHARS = 300
MAX_RPM = 1_000_000
MAX_CONCURRENT = 100_000


@dataclass(frozen=True, slots=True)
class KeyScope:
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    expires_at: float | None = None
    rpm: int | None = None
    max_concurrent: int | None = None

    @property
    def restricted(self) -> bool:
        """Whether the key may use only some models or providers."""
        return bool(self.models or self.providers)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The stored form: only the fields that set a limit."""
        out: dict[str, Any] = {}
        if self.models:
            out["models"] = list(self.models)
        if self.providers:
            out["providers"] = list(self.providers)
        for name in ("expires_at", "rpm", "max_concurrent"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def read(cls, stored: Mapping[str, Any], what: str) -> KeyScope:
        values: dict[str, Any] = {}
        for name, value in stored.items():
            check = _CHECKS.get(name)
            if check is None or value is None:
                continue
            try:
                checked = check(value)
            except BadRequest as exc:
                log.warning("ignoring stored %s of %s: %s", name, what, exc.message)
                continue
            values[name] = tuple(checked) if isinstance(checked, list) else checked
        return cls(**values)


def check_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """A scope as it will be stored, checked field by field; an empty list
    or None removes a limit. BadRequest names the field."""
    if not isinstance(scope, Mapping):
        raise BadRequest("a key's scope must be an object")
    unknown = sorted(set(scope) - set(_CHECKS))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}")
    checked = {name: _CHECKS[name](value) for name, value in scope.items() if value is not None}
    return {name: value for name, value in checked.items() if value != []}


def _names(field: str, what: str) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"'{field}' must be a list of {what}")
        if len(value) > MAX_PATTERNS:
            raise BadRequest(f"'{field}' takes at most {MAX_PATTERNS} entries")
        out: list[str] = []
        for item in (v.strip() for v in value):
            if not item or len(item) > MAX_PATTERN_CHARS or not item.isprintable():
                raise BadRequest(f"'{field}': {item[:40]!r} is not one of the {what}")
            if item not in out:
                out.append(item)
        return out

    return check


def _whole(field: str, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise BadRequest(f"'{field}' must be a whole number from 1 to {high}")
        return value

    return check


def _moment(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise BadRequest("'expires_at' must be a time in seconds since 1970 (UTC)")
    return float(value)


_CHECKS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "models": _names("models", "model names or patterns"),
        "providers": _names("providers", "provider names"),
        "expires_at": _moment,
        "rpm": _whole("rpm", MAX_RPM),
        "max_concurrent": _whole("max_concurrent", MAX_CONCURRENT),
    }
)
