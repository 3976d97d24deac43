"""Changes to the options of providers and accounts (the ``extra`` columns)
and to global settings: merging and writing.

What the values mean, and the checks they pass before they get here, are in
``omniroute.config.options``; this module only keeps the stored JSON whole
and plain.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BadRequest, NotFound
from .crypto import Sealer
from .records import AccountRecord, ProviderRecord
from .repositories import (
    _PROVIDER_SELECT,
    _accounts,
    _check_models,
    _provider,
    bump_revision,
    set_setting,
)
from .sealed_options import open_setting, seal_extra


def merge_extra(current: Mapping[str, Any], patch: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``current`` with ``patch`` applied: a None value removes that key; the
    result must be plain JSON."""
    if not isinstance(patch, Mapping):
        raise BadRequest(f"{what}: extra must be an object")
    merged = dict(current)
    for key, value in patch.items():
        if not isinstance(key, str) or not key:
            raise BadRequest(f"{what}: extra keys must be non-empty strings")
        if value is None:
            merged.pop(key, None)
            continue
        merged[key] = value
    try:
        json.dumps(merged, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest(f"{what}: extra values must be plain JSON") from None
    return merged


def update_provider(
    conn: sqlite3.Connection,
    sealer: Sealer,
    name: str,
    *,
    base_url: str | None,
    models: tuple[str, ...] | None,
    extra: Mapping[str, Any] | None,
    enabled: bool | None = None,
) -> ProviderRecord:
    row = conn.execute(f"{_PROVIDER_SELECT} WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"unknown provider {name!r}")
    record = _provider(row, sealer)
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
    ):
        raise BadRequest(f"provider {name!r}: base_url must start with http:// or https://")
    merged = record.extra
    if extra is not None:
        merged = merge_extra(record.extra, extra, f"provider {name!r}")
    conn.execute(
        "UPDATE providers SET base_url = ?, models = ?, extra = ?, enabled = ?, updated_at = ? "
        "WHERE id = ?",
        (
            record.base_url if base_url is None else base_url.rstrip("/"),
            json.dumps(list(record.models) if models is None else _check_models(models)),
            json.dumps(seal_extra(sealer, "providers", record.id, merged)),
            int(record.enabled if enabled is None else bool(enabled)),
            time.time(),
            record.id,
        ),
    )
    bump_revision(conn)
    row = conn.execute(f"{_PROVIDER_SELECT} WHERE id = ?", (record.id,)).fetchone()
    return _provider(row, sealer)


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
        raise NotFound(f"unknown account id {account_id}")
    record = found[0]
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise BadRequest("an account priority must be a whole number")
    merged = record.extra
    if extra is not None:
        merged = merge_extra(record.extra, extra, f"account {account_id}")
    conn.execute(
        "UPDATE accounts SET priority = ?, enabled = ?, extra = ? WHERE id = ?",
        (
            record.priority if priority is None else priority,
            int(record.enabled if enabled is None else bool(enabled)),
            json.dumps(seal_extra(sealer, "accounts", account_id, merged)),
            account_id,
        ),
    )
    bump_revision(conn)
    (updated,) = _accounts(conn, sealer, "WHERE id = ?", (account_id,))
    return updated


# -- global settings -----------------------------------------------------------


def merge_setting(
    conn: sqlite3.Connection, key: str, patch: Mapping[str, Any], check: Callable[[Any], Any]
) -> Any:
    """Merge ``patch`` into the object stored under ``key`` (None removes a
    field; an object left empty removes the setting); ``check`` judges and
    normalises the merged object.  Returns the new value."""
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
    merged = check(merged)
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


def change_settings(
    conn: sqlite3.Connection,
    sealer: Sealer,
    values: Mapping[str, Any],
    fields: Mapping[str, Mapping[str, Any]],
    check: Callable[[str, Any], Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Several settings in one transaction: ``values`` replace whole settings
    (None removes one), ``fields`` are merged into object settings as in
    ``merge_setting``; ``check(key, value)`` judges each new value. One
    refusal and nothing is written. Returns (before, after) of every key
    touched, None where a setting is not stored."""
    touched = [*values, *(k for k in fields if k not in values)]
    before = {key: _read_setting(conn, sealer, key) for key in touched}
    for key, value in values.items():
        if value is None:
            delete_setting(conn, key)
        else:
            set_setting(conn, sealer, key, check(key, value))
    for key, patch in fields.items():
        merge_setting(conn, key, patch, functools.partial(check, key))
    after = {key: _read_setting(conn, sealer, key) for key in touched}
    return before, after


def _read_setting(conn: sqlite3.Connection, sealer: Sealer, key: str) -> Any:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else open_setting(sealer, key, json.loads(row[0]))
