"""Per-provider and per-account options (the ``extra`` columns) and the global
settings the request path reads: checks, merging, and display of secrets.

The keys are listed in ``records.py``.  Every write goes through a check here
so a running server never meets a value it cannot use; proxy URLs may carry a
password, so they are only ever shown through ``mask_proxy``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import BadRequest
from ..routing.ratelimit import Limits
from ..routing.strategies import STRATEGIES
from .crypto import Sealer
from .proxies import check_proxy
from .records import AccountRecord, ProviderRecord
from .repositories import (
    _PROVIDER_NAME,
    _PROVIDER_SELECT,
    _accounts,
    _check_models,
    _provider,
    bump_revision,
)

# RFC 9110 section 5.1: a field name is a token.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_MAX_HEADER_VALUE = 8192


# -- extra columns -------------------------------------------------------------


def _check_limits(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequest("limits must be an object: {rpm, min_gap, max_concurrent, max_queue}")
    return Limits.from_dict(value).to_dict()


def _check_headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise BadRequest("headers must be an object of name: value")
    checked: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise BadRequest(f"invalid header name {name!r}")
        if not isinstance(text, str) or len(text) > _MAX_HEADER_VALUE:
            raise BadRequest(f"header {name!r}: the value must be text")
        if any(ch in text for ch in "\r\n\0"):
            raise BadRequest(f"header {name!r}: the value must not contain line breaks")
        checked[name] = text
    return checked


def _check_alias(value: Any) -> str:
    if not isinstance(value, str) or not _PROVIDER_NAME.fullmatch(value):
        raise BadRequest("a provider alias must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def _check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("a catalog id must be a non-empty string")
    return value.strip()


_PROVIDER_KEYS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "catalog": _check_text,
        "proxy": check_proxy,
        "limits": _check_limits,
        "headers": _check_headers,
        "alias": _check_alias,
    }
)
_ACCOUNT_KEYS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "proxy": check_proxy,
        "limits": _check_limits,
    }
)


def merge_extra(
    current: Mapping[str, Any],
    patch: Mapping[str, Any],
    checks: Mapping[str, Callable[[Any], Any]],
    what: str,
) -> dict[str, Any]:
    """``current`` with ``patch`` applied: a None value removes that key, known
    keys are checked (and normalised), others must be plain JSON."""
    if not isinstance(patch, Mapping):
        raise BadRequest(f"{what}: extra must be an object")
    merged = dict(current)
    for key, value in patch.items():
        if not isinstance(key, str) or not key:
            raise BadRequest(f"{what}: extra keys must be non-empty strings")
        if value is None:
            merged.pop(key, None)
            continue
        check = checks.get(key)
        merged[key] = check(value) if check is not None else value
    try:
        json.dumps(merged, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest(f"{what}: extra values must be plain JSON") from None
    return merged


def update_provider(
    conn: sqlite3.Connection,
    name: str,
    *,
    base_url: str | None,
    models: tuple[str, ...] | None,
    extra: Mapping[str, Any] | None,
) -> ProviderRecord:
    row = conn.execute(f"{_PROVIDER_SELECT} WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise BadRequest(f"unknown provider {name!r}")
    record = _provider(row)
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
    ):
        raise BadRequest(f"provider {name!r}: base_url must start with http:// or https://")
    merged = record.extra
    if extra is not None:
        merged = merge_extra(record.extra, extra, _PROVIDER_KEYS, f"provider {name!r}")
    conn.execute(
        "UPDATE providers SET base_url = ?, models = ?, extra = ?, updated_at = ? WHERE id = ?",
        (
            record.base_url if base_url is None else base_url.rstrip("/"),
            json.dumps(list(record.models) if models is None else _check_models(models)),
            json.dumps(dict(merged)),
            time.time(),
            record.id,
        ),
    )
    bump_revision(conn)
    return _provider(conn.execute(f"{_PROVIDER_SELECT} WHERE id = ?", (record.id,)).fetchone())


def update_account(
    conn: sqlite3.Connection,
    sealer: Sealer,
    account_id: int,
    *,
    priority: int | None,
    enabled: bool | None,
    extra: Mapping[str, Any] | None,
) -> AccountRecord:
    found = _accounts(conn, sealer, "WHERE id = ?", (account_id,))
    if not found:
        raise BadRequest(f"unknown account id {account_id}")
    record = found[0]
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise BadRequest("an account priority must be a whole number")
    merged = record.extra
    if extra is not None:
        merged = merge_extra(record.extra, extra, _ACCOUNT_KEYS, f"account {account_id}")
    conn.execute(
        "UPDATE accounts SET priority = ?, enabled = ?, extra = ? WHERE id = ?",
        (
            record.priority if priority is None else priority,
            int(record.enabled if enabled is None else bool(enabled)),
            json.dumps(dict(merged)),
            account_id,
        ),
    )
    bump_revision(conn)
    (updated,) = _accounts(conn, sealer, "WHERE id = ?", (account_id,))
    return updated


# -- global settings -----------------------------------------------------------


def _number(key: str, name: str, value: Any, *, minimum: float, whole: bool) -> int | float:
    ok = not isinstance(value, bool) and isinstance(value, int if whole else int | float)
    if not ok or not value >= minimum:
        kind = "a whole number" if whole else "a number"
        raise BadRequest(f"setting {key}.{name} must be {kind} >= {minimum:g}")
    return int(value) if whole else float(value)


def _group(fields: Mapping[str, tuple[float, bool]]) -> Callable[[str, Any], dict[str, Any]]:
    def check(key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise BadRequest(f"setting {key!r} must be an object with {', '.join(fields)}")
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise BadRequest(f"setting {key!r}: unknown fields {', '.join(unknown)}")
        return {
            name: _number(key, name, v, minimum=fields[name][0], whole=fields[name][1])
            for name, v in value.items()
        }

    return check


def _proxy_setting(key: str, value: Any) -> str:
    return check_proxy(value)


def _prompt_setting(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest("setting 'system_prompt' must be text")
    return value


def _strategy_setting(key: str, value: Any) -> str:
    if value not in STRATEGIES:
        raise BadRequest(f"unknown strategy {value!r}; known: {', '.join(STRATEGIES)}")
    return str(value)


def _cooldown_setting(key: str, value: Any) -> dict[str, Any]:
    checked = _cooldown_fields(key, value)
    base, cap = checked.get("base", 1.0), checked.get("cap")
    if cap is not None and cap < base:
        raise BadRequest(f"setting cooldown.cap ({cap:g}) must not be below cooldown.base")
    return checked


# Per field: (minimum, whole number?).  The running components refuse values
# below these, so they are refused here, where the user can still be told.
_cooldown_fields = _group({"base": (0.001, False), "factor": (1, False), "cap": (0.001, False)})

SETTING_CHECKS: Mapping[str, Callable[[str, Any], Any]] = MappingProxyType(
    {
        "proxy": _proxy_setting,
        "system_prompt": _prompt_setting,
        "account_strategy": _strategy_setting,
        "breaker": _group(
            {"failure_threshold": (1, True), "window": (0.001, False), "cooldown": (0, False)}
        ),
        "cooldown": _cooldown_setting,
        "fallback": _group({"max_attempts": (1, True), "max_seconds": (0.001, False)}),
    }
)


def check_setting(key: str, value: Any) -> Any:
    """A known setting's value, checked; others pass unchanged.  None is
    always allowed (it is how a value is cleared)."""
    check = SETTING_CHECKS.get(key)
    if value is None or check is None:
        return value
    return check(key, value)


def merge_setting(conn: sqlite3.Connection, key: str, patch: Mapping[str, Any]) -> Any:
    """Merge ``patch`` into the object stored under ``key`` (None removes a
    field; an object left empty removes the setting).  Returns the new value."""
    if not isinstance(patch, Mapping):
        raise BadRequest(f"setting {key!r}: the change must be an object")
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    current = json.loads(row[0]) if row is not None else {}
    merged = dict(current) if isinstance(current, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if not merged:
        delete_setting(conn, key)
        return None
    merged = check_setting(key, merged)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(merged, allow_nan=False)),
    )
    bump_revision(conn)
    return merged


def delete_setting(conn: sqlite3.Connection, key: str) -> bool:
    cursor = conn.execute("DELETE FROM settings WHERE key = ?", (key,))
    if cursor.rowcount == 0:
        return False
    bump_revision(conn)
    return True
