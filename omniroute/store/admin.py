"""The management side's rows: the admin password, login sessions, the audit
log. Plain functions over a connection, like ``repositories``; none of them
is configuration, so none bumps the config revision.

Only a hash of each session token is stored: a stolen database file opens
no session. The password is stored as its scrypt hash (``omniroute.api.
admin.passwords`` makes and checks it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .store import Store

_MAX_DETAIL = 16_384  # characters of an audit row's detail
# How long audit rows are kept: the ``audit_retention_days`` setting, checked
# where settings are (``omniroute.config.options``); read here as stored.
AUDIT_RETENTION_SETTING = "audit_retention_days"
DEFAULT_AUDIT_RETENTION_DAYS = 90


@dataclass(frozen=True, slots=True)
class SessionRecord:
    token_hash: str
    csrf: str
    created_at: float
    seen_at: float
    expires_at: float
    address: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    ts: float
    actor: str  # session, cli, import, system, or who failed to log in
    action: str
    target: str | None
    detail: Mapping[str, Any]
    address: str | None


# -- password --------------------------------------------------------------------------


def read_password(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT hash FROM admin_password WHERE id = 1").fetchone()
    return None if row is None else str(row[0])


def write_password(conn: sqlite3.Connection, hashed: str, now: float) -> None:
    conn.execute(
        "INSERT INTO admin_password (id, hash, set_at) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at",
        (hashed, now),
    )


# -- the MCP admin key ------------------------------------------------------------------


def read_mcp_key(conn: sqlite3.Connection) -> tuple[str, str, float] | None:
    """(hash, prefix, created_at) of the MCP admin key, or None."""
    row = conn.execute("SELECT hash, prefix, created_at FROM mcp_key WHERE id = 1").fetchone()
    return None if row is None else (str(row[0]), str(row[1]), float(row[2]))


def write_mcp_key(conn: sqlite3.Connection, hashed: str, prefix: str, now: float) -> None:
    conn.execute(
        "INSERT INTO mcp_key (id, hash, prefix, created_at) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, prefix = excluded.prefix, "
        "created_at = excluded.created_at",
        (hashed, prefix, now),
    )


def delete_mcp_key(conn: sqlite3.Connection) -> bool:
    return conn.execute("DELETE FROM mcp_key").rowcount > 0


# -- sessions --------------------------------------------------------------------------


def create_session(conn: sqlite3.Connection, record: SessionRecord) -> None:
    conn.execute(
        "INSERT INTO admin_sessions (token_hash, csrf, created_at, seen_at, expires_at, address) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            record.token_hash,
            record.csrf,
            record.created_at,
            record.seen_at,
            record.expires_at,
            record.address,
        ),
    )


def read_session(conn: sqlite3.Connection, token_hash: str, now: float) -> SessionRecord | None:
    """The session, if it exists and has not expired."""
    row = conn.execute(
        "SELECT token_hash, csrf, created_at, seen_at, expires_at, address "
        "FROM admin_sessions WHERE token_hash = ? AND expires_at > ?",
        (token_hash, now),
    ).fetchone()
    if row is None:
        return None
    return SessionRecord(str(row[0]), str(row[1]), row[2], row[3], row[4], row[5])


def touch_session(conn: sqlite3.Connection, token_hash: str, now: float, expires_at: float) -> None:
    conn.execute(
        "UPDATE admin_sessions SET seen_at = ?, expires_at = ? WHERE token_hash = ?",
        (now, expires_at, token_hash),
    )


def delete_session(conn: sqlite3.Connection, token_hash: str) -> bool:
    cursor = conn.execute("DELETE FROM admin_sessions WHERE token_hash = ?", (token_hash,))
    return cursor.rowcount > 0


def delete_sessions(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Every session (``now`` given: only the expired ones); how many went."""
    if now is None:
        return conn.execute("DELETE FROM admin_sessions").rowcount
    return conn.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", (now,)).rowcount


# -- audit -----------------------------------------------------------------------------


def append_audit(
    conn: sqlite3.Connection,
    ts: float,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any],
    address: str | None,
) -> int:
    text = json.dumps(dict(detail), default=str, allow_nan=False)[:_MAX_DETAIL]
    cursor = conn.execute(
        "INSERT INTO audit_log (ts, actor, action, target, detail, address) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (ts, actor[:200], action[:200], None if target is None else target[:500], text, address),
    )
    return int(cursor.lastrowid or 0)


def read_audit(
    conn: sqlite3.Connection, limit: int, before_id: int | None = None
) -> list[AuditRecord]:
    """Newest first; ``before_id`` pages back."""
    where, params = ("WHERE id < ?", (before_id,)) if before_id is not None else ("", ())
    rows = conn.execute(
        "SELECT id, ts, actor, action, target, detail, address FROM audit_log "  # noqa: S608
        f"{where} ORDER BY id DESC LIMIT ?",
        (*params, max(0, int(limit))),
    )
    return [_audit(row) for row in rows]


def prune_audit(conn: sqlite3.Connection, older_than: float) -> int:
    return conn.execute("DELETE FROM audit_log WHERE ts < ?", (older_than,)).rowcount


def audit_retention_days(conn: sqlite3.Connection) -> int:
    """The stored retention, or the default when unset or not a whole number >= 1."""
    row = conn.execute(
        "SELECT value FROM settings WHERE key = ?", (AUDIT_RETENTION_SETTING,)
    ).fetchone()
    try:
        days = json.loads(row[0]) if row is not None else None
    except ValueError:
        days = None
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        return DEFAULT_AUDIT_RETENTION_DAYS
    return days


def _audit(row: tuple[Any, ...]) -> AuditRecord:
    id_, ts, actor, action, target, detail, address = row
    try:
        parsed = json.loads(detail) if detail else {}
    except ValueError:
        parsed = {"text": str(detail)}
    return AuditRecord(
        int(id_),
        float(ts),
        str(actor),
        str(action),
        None if target is None else str(target),
        parsed if isinstance(parsed, dict) else {"value": parsed},
        None if address is None else str(address),
    )


class AdminRows:
    """The asyncio face of these rows, over an open ``Store`` (reads in its
    reader thread, writes in its writer thread, acknowledged after commit)."""

    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    async def password(self) -> str | None:
        return await self._store.read(read_password)

    async def set_password(self, hashed: str, now: float) -> None:
        """Store a new password hash and end every session, in one transaction."""

        def write(conn: sqlite3.Connection) -> None:
            write_password(conn, hashed, now)
            delete_sessions(conn)

        await self._store.write(write)

    async def mcp_key(self) -> tuple[str, str, float] | None:
        return await self._store.read(read_mcp_key)

    async def set_mcp_key(self, hashed: str, prefix: str, now: float) -> None:
        await self._store.write(lambda conn: write_mcp_key(conn, hashed, prefix, now))

    async def remove_mcp_key(self) -> bool:
        return await self._store.write(delete_mcp_key)

    async def create_session(self, record: SessionRecord) -> None:
        await self._store.write(lambda conn: create_session(conn, record))

    async def session(self, token_hash: str, now: float) -> SessionRecord | None:
        return await self._store.read(lambda conn: read_session(conn, token_hash, now))

    async def touch_session(self, token_hash: str, now: float, expires_at: float) -> None:
        await self._store.write(lambda conn: touch_session(conn, token_hash, now, expires_at))

    async def end_session(self, token_hash: str) -> bool:
        return await self._store.write(lambda conn: delete_session(conn, token_hash))

    async def end_all_sessions(self) -> int:
        return await self._store.write(lambda conn: delete_sessions(conn))

    async def audit(
        self,
        ts: float,
        actor: str,
        action: str,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        """One row; rows older than the retention go in the same
        transaction (pruning on write keeps the table bounded without a
        timer, and the index on ts makes it cheap)."""
        given = dict(detail or {})

        def write(conn: sqlite3.Connection) -> None:
            append_audit(conn, ts, actor, action, target, given, address)
            prune_audit(conn, ts - audit_retention_days(conn) * 86_400)

        await self._store.write(write)

    async def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditRecord]:
        return await self._store.read(lambda conn: read_audit(conn, limit, before_id))
