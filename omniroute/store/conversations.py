"""Responses conversations kept for ``previous_response_id``: their rows."""

from __future__ import annotations

import sqlite3


def save(
    conn: sqlite3.Connection, response_id: str, items_json: str, expires_at: float, now: float
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO response_memory(id, expires_at, items) VALUES (?, ?, ?)",
        (response_id, expires_at, items_json),
    )


def purge(conn: sqlite3.Connection, now: float) -> int:
    """Delete conversations past their expiry; how many went."""
    return conn.execute("DELETE FROM response_memory WHERE expires_at < ?", (now,)).rowcount


def load(conn: sqlite3.Connection, response_id: str, now: float) -> str | None:
    """The stored items (JSON text) of a conversation still kept, or None."""
    row = conn.execute(
        "SELECT items FROM response_memory WHERE id = ? AND expires_at >= ?", (response_id, now)
    ).fetchone()
    return None if row is None else str(row[0])
