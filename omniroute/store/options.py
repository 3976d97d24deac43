"""Changes to the options of providers and accounts (the ``extra`` columns)
and to global settings: merging and writing.

What the values mean, and the checks they pass before they get here, are in
``omniroute.config.options``; this module only keeps the stored JSON whole
and plain.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BadRequest
from .crypto import Sealer
from .records import AccountRecord, ProviderRecord
from .repositories import (
    _PROVIDER_SELECT,
    _accounts,
    _check_models,
    _provider,
    bump_revision,
)
from .sealed_options import seal_extra


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
) -> ProviderRecord:
    row = conn.execute(f"{_PROVIDER_SELECT} WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise BadRequest(f"unknown provider {name!r}")
    record = _provider(row, sealer)
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
    ):
        raise BadRequest(f"provider {name!r}: base_url must start with http:// or https://")
    merged = record.extra
    if extra is not None:
        merged = merge_extra(record.extra, extra, f"provider {name!r}")
    conn.execute(
        "UPDATE providers SET base_url = ?, models = ?, extra = ?, updated_at = ? WHERE id = ?",
        (
            record.base_url if base_url is None else base_url.rstrip("/"),
            json.dumps(list(record.models) if models is None else _check_models(models)),
            json.dumps(seal_extra(sealer, "providers", record.id, merged)),
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
        raise BadRequest(f"unknown account id {account_id}")
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
