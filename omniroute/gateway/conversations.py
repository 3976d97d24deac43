"""Responses API conversation memory (``previous_response_id``).

When a Responses client continues a conversation by id, the gateway must
know that conversation even if the upstream that answered was not a
Responses upstream (or was another account). After each Responses answer we
keep ``input items + output items`` under the response id the client saw,
for a bounded time; a later request naming it gets that history put in front
of its own input.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from omniroute.errors import BadRequest
from omniroute.formats.common import dump_json
from omniroute.store import Store

# Rows past their expiry are deleted at most this often (on a save).
_PURGE_EVERY = 300.0


class ConversationMemory:
    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._last_purge = 0.0

    async def save(self, response_id: str, items: list[dict[str, Any]]) -> None:
        now = time.time()
        payload = dump_json(items)
        purge = now - self._last_purge > _PURGE_EVERY
        if purge:
            self._last_purge = now

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO response_memory(id, expires_at, items) VALUES (?, ?, ?)",
                (response_id, now + self._ttl, payload),
            )
            if purge:
                conn.execute("DELETE FROM response_memory WHERE expires_at < ?", (now,))

        await self._store.write(write)

    async def load(self, response_id: str) -> list[dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT items FROM response_memory WHERE id = ? AND expires_at >= ?",
                (response_id, time.time()),
            ).fetchone()
            return None if row is None else str(row[0])

        payload = await self._store.read(read)
        if payload is None:
            raise BadRequest(
                f"Previous response with id {response_id!r} not found (unknown or expired)."
            )
        items: list[dict[str, Any]] = json.loads(payload)
        return items
