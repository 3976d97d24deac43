"""Responses API conversation memory (``previous_response_id``).

When a Responses client continues a conversation by id, the gateway must
know that conversation even if the upstream that answered was not a
Responses upstream (or was another account). After each Responses answer we
keep ``input items + output items`` under the response id the client saw,
for a bounded time; a later request naming it gets that history put in front
of its own input.

Saving never delays an answer: ``remember`` hands the write to the store in
the background and keeps the conversation in memory until the write has
committed, so a follow-up request that arrives first still finds it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from omniroute.errors import BadRequest
from omniroute.formats.common import dump_json
from omniroute.store import Store
from omniroute.store import conversations as rows

log = logging.getLogger("omniroute.conversations")

# Rows past their expiry are deleted at most this often (on a save).
_PURGE_EVERY = 300.0


class ConversationMemory:
    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._last_purge = 0.0
        self._pending: dict[str, list[dict[str, Any]]] = {}  # not yet committed
        self._writes: set[asyncio.Task[None]] = set()

    def remember(self, response_id: str, items: list[dict[str, Any]]) -> None:
        """Keep a conversation; returns at once (the write runs in the background)."""
        self._pending[response_id] = items
        task = asyncio.get_running_loop().create_task(self._write(response_id, items))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def save(self, response_id: str, items: list[dict[str, Any]]) -> None:
        """Keep a conversation, returning once it is on disk."""
        now = time.time()
        payload = dump_json(items)
        purge = now - self._last_purge > _PURGE_EVERY
        if purge:
            self._last_purge = now

        def write(conn: Any) -> None:
            rows.save(conn, response_id, payload, now + self._ttl, now)
            if purge:
                rows.purge(conn, now)

        await self._store.write(write)

    async def load(self, response_id: str) -> list[dict[str, Any]]:
        pending = self._pending.get(response_id)
        if pending is not None:
            return pending
        now = time.time()
        payload = await self._store.read(lambda conn: rows.load(conn, response_id, now))
        if payload is None:
            raise BadRequest(
                f"Previous response with id {response_id!r} not found (unknown or expired)."
            )
        items: list[dict[str, Any]] = json.loads(payload)
        return items

    async def drain(self) -> None:
        """Wait for the writes under way (on shutdown, before the store closes)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _write(self, response_id: str, items: list[dict[str, Any]]) -> None:
        try:
            await self.save(response_id, items)
        except Exception:
            log.exception("could not keep conversation %s", response_id)
        finally:
            # A newer save of the same id may have replaced the pending one.
            if self._pending.get(response_id) is items:
                del self._pending[response_id]
