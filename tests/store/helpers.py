"""Small helpers shared by the store tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def raw_query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the database file directly, outside the store."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def raw_execute(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def all_bytes(directory: Path) -> bytes:
    """Every byte of every file under ``directory`` (db, -wal, -shm, backups)."""
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())
