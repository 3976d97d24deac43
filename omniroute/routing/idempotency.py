"""Idempotency-Key handling: one upstream execution per key (SPEC D-09).

Requests from the same client key carrying the same ``Idempotency-Key`` share
one execution: the first caller runs it; callers arriving while it runs, and
for ``ttl`` seconds after it succeeded, get the same value.

    cache: IdempotencyCache[bytes] = IdempotencyCache(ttl=5.0, max_entries=1024)
    body = await cache.run(client_key_id, idempotency_key, lambda: call_upstream())

- Generic over the value: for streams the pipeline stores the full byte
  sequence it sent, and replays it.
- A failed or cancelled execution is not kept: concurrent callers see the same
  exception, but the next request with that key runs again (a client retrying
  after an error wants a retry).
- If every caller waiting on an execution goes away, it is cancelled — nobody
  is left to receive what it would cost.
- At most ``max_entries`` keys are held; expired ones are dropped first, then
  the oldest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Entry(Generic[T]):
    __slots__ = ("task", "expires", "waiters")

    def __init__(self, task: asyncio.Task[T]) -> None:
        self.task = task
        self.expires: float | None = None  # set when the execution succeeded
        self.waiters = 0


class IdempotencyCache(Generic[T]):
    __slots__ = ("_ttl", "_max", "_clock", "_entries")

    def __init__(
        self,
        *,
        ttl: float = 5.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("need ttl > 0 and max_entries >= 1")
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry[T]] = {}

    async def run(self, client: str, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        slot = (client, key)
        entry = self._live(slot)
        if entry is None:
            entry = self._start(slot, fn)
        entry.waiters += 1
        try:
            return await asyncio.shield(entry.task)
        finally:
            entry.waiters -= 1
            if entry.waiters == 0 and not entry.task.done():
                entry.task.cancel()

    def __len__(self) -> int:
        return len(self._entries)

    def purge(self) -> None:
        """Drop every expired entry."""
        now = self._clock()
        for slot in [s for s, e in self._entries.items() if _expired(e, now)]:
            del self._entries[slot]

    # --- internals --------------------------------------------------------------------

    def _live(self, slot: tuple[str, str]) -> _Entry[T] | None:
        entry = self._entries.get(slot)
        if entry is not None and _expired(entry, self._clock()):
            del self._entries[slot]
            return None
        return entry

    def _start(self, slot: tuple[str, str], fn: Callable[[], Awaitable[T]]) -> _Entry[T]:
        if len(self._entries) >= self._max:
            self.purge()
        while len(self._entries) >= self._max:
            # Oldest first; losing an entry only loses de-duplication for it.
            del self._entries[next(iter(self._entries))]
        entry: _Entry[T] = _Entry(asyncio.ensure_future(_call(fn)))
        self._entries[slot] = entry
        entry.task.add_done_callback(lambda task: self._finished(slot, entry, task))
        return entry

    def _finished(self, slot: tuple[str, str], entry: _Entry[T], task: asyncio.Task[T]) -> None:
        failed = task.cancelled() or task.exception() is not None
        if self._entries.get(slot) is not entry:
            return
        if failed:
            del self._entries[slot]
        else:
            entry.expires = self._clock() + self._ttl


def _expired(entry: _Entry[T], now: float) -> bool:
    return entry.expires is not None and entry.expires <= now


async def _call(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
