"""The response cache's rows (runs in the store's threads).

The running gateway keeps the cache in memory and hands its changes here in
batches (``apply``); at start it reads back what has not expired (``load``).
``clear`` is also run by the CLI against a gateway that may be running: it
counts up ``GENERATION`` so the gateway empties its memory too.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from .repositories import bump_revision, read_meta_json, write_meta_json

GENERATION = "response_cache_generation"


@dataclass(frozen=True, slots=True)
class CachedRow:
    key: str
    client_key_id: int | None
    model: str
    answer: str  # the whole answer, JSON
    bytes: int
    cost: float | None
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class CacheTotals:
    entries: int
    bytes: int
    cost: float  # what the kept answers cost when they were first served


_COLUMNS = "key, client_key_id, model, answer, bytes, cost, created_at, expires_at"
_UPSERT = f"INSERT OR REPLACE INTO response_cache ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608


def apply(
    conn: sqlite3.Connection, saved: Sequence[CachedRow], dropped: Sequence[str], now: float
) -> None:
    """Keep ``saved``, delete ``dropped`` and everything expired, in one go."""
    if dropped:
        conn.executemany("DELETE FROM response_cache WHERE key = ?", [(k,) for k in dropped])
    if saved:
        conn.executemany(_UPSERT, [dataclasses.astuple(r) for r in saved])
    conn.execute("DELETE FROM response_cache WHERE expires_at <= ?", (now,))


def load(conn: sqlite3.Connection, now: float, max_bytes: int) -> list[CachedRow]:
    """The entries not expired, newest first, as many as fit in ``max_bytes``."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM response_cache WHERE expires_at > ? "  # noqa: S608
        "ORDER BY created_at DESC",
        (now,),
    )
    out: list[CachedRow] = []
    total = 0
    for row in rows:
        size = int(row[4])
        if total + size > max_bytes:
            continue
        total += size
        out.append(
            CachedRow(
                key=str(row[0]),
                client_key_id=None if row[1] is None else int(row[1]),
                model=str(row[2]),
                answer=str(row[3]),
                bytes=size,
                cost=None if row[5] is None else float(row[5]),
                created_at=float(row[6]),
                expires_at=float(row[7]),
            )
        )
    return out


def totals(conn: sqlite3.Connection, now: float) -> CacheTotals:
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(bytes), 0), COALESCE(SUM(cost), 0) "
        "FROM response_cache WHERE expires_at > ?",
        (now,),
    ).fetchone()
    return CacheTotals(int(row[0]), int(row[1]), float(row[2]))


def clear(conn: sqlite3.Connection) -> int:
    """Delete every entry and tell a running gateway to forget its own
    (through the configuration revision it watches); how many rows went."""
    gone = conn.execute("DELETE FROM response_cache").rowcount
    write_meta_json(conn, GENERATION, generation(conn) + 1)
    bump_revision(conn)
    return int(gone)


def generation(conn: sqlite3.Connection) -> int:
    value = read_meta_json(conn, GENERATION)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
