"""Secrets inside option JSON, sealed at rest like API keys.

A proxy URL may carry a password and a custom header may carry a token, so
these values are stored sealed (AES-256-GCM, bound to their row and field)
inside the JSON columns: ``{"sealed": "v1:…"}`` in place of the text. They
are sealed on write and opened on read here, and nowhere else; code above
the store sees plain values. Rows written before this existed are sealed by
``seal_plain_values`` when the store opens.

    providers.extra   proxy, headers (each value)
    accounts.extra    proxy
    settings          proxy
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from .crypto import Sealer

_SEALED = "sealed"


def _aad(table: str, row: int | str, field: str) -> str:
    return f"{table}|{row}|{field}"


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SEALED} and isinstance(value[_SEALED], str)


def _seal(sealer: Sealer, value: Any, aad: str) -> Any:
    if isinstance(value, str):
        return {_SEALED: sealer.seal(value, aad)}
    return value  # already sealed, or not text (left for the checks above to refuse)


def _open(sealer: Sealer, value: Any, aad: str) -> Any:
    return sealer.unseal(value[_SEALED], aad) if _is_sealed(value) else value


def seal_extra(sealer: Sealer, table: str, row: int, extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` with its secret fields sealed, ready to be written."""
    out = dict(extra)
    if "proxy" in out:
        out["proxy"] = _seal(sealer, out["proxy"], _aad(table, row, "extra.proxy"))
    headers = out.get("headers")
    if table == "providers" and isinstance(headers, Mapping):
        out["headers"] = {
            name: _seal(sealer, value, _aad(table, row, f"extra.headers.{name}"))
            for name, value in headers.items()
        }
    return out


def open_extra(sealer: Sealer, table: str, row: int, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Stored ``extra`` with its secret fields opened."""
    out = dict(extra)
    if "proxy" in out:
        out["proxy"] = _open(sealer, out["proxy"], _aad(table, row, "extra.proxy"))
    headers = out.get("headers")
    if isinstance(headers, Mapping):
        out["headers"] = {
            name: _open(sealer, value, _aad(table, row, f"extra.headers.{name}"))
            for name, value in headers.items()
        }
    return out


def seal_setting(sealer: Sealer, key: str, value: Any) -> Any:
    return _seal(sealer, value, _aad("settings", key, "value")) if key == "proxy" else value


def open_setting(sealer: Sealer, key: str, value: Any) -> Any:
    return _open(sealer, value, _aad("settings", key, "value")) if key == "proxy" else value


def seal_plain_values(conn: sqlite3.Connection, sealer: Sealer) -> int:
    """Seal secrets that older versions stored as plain text; how many rows
    changed. Idempotent: sealed values are left alone."""
    changed = 0
    for table in ("providers", "accounts"):
        rows = conn.execute(f"SELECT id, extra FROM {table}").fetchall()  # noqa: S608 (fixed names)
        for row_id, text in rows:
            extra = json.loads(text) if text else {}
            if not isinstance(extra, dict):
                continue
            sealed = seal_extra(sealer, table, int(row_id), extra)
            if sealed != extra:
                conn.execute(
                    f"UPDATE {table} SET extra = ? WHERE id = ?",  # noqa: S608 (fixed names)
                    (json.dumps(sealed), row_id),
                )
                changed += 1
    row = conn.execute("SELECT value FROM settings WHERE key = 'proxy'").fetchone()
    if row is not None:
        value = json.loads(row[0])
        sealed_value = seal_setting(sealer, "proxy", value)
        if sealed_value != value:
            conn.execute(
                "UPDATE settings SET value = ? WHERE key = 'proxy'", (json.dumps(sealed_value),)
            )
            changed += 1
    return changed
