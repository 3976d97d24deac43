"""One call in flight per key; concurrent callers share its outcome (SPEC D-06).

Used so that an expired OAuth token is refreshed once, and a half-open breaker
probed once, however many requests notice at the same moment:

    flights: SingleFlight[str, Token] = SingleFlight()
    token = await flights.do(account_id, lambda: refresh(account_id))

The first caller for a key starts ``fn()`` as a task; callers arriving while it
runs await the same task and get the same result or exception. Once it has
finished, the next call for that key starts afresh (nothing is cached). A
caller that is cancelled stops waiting without cancelling the shared work —
the others still need it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[K, asyncio.Task[T]] = {}

    async def do(self, key: K, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._calls.get(key)
        if task is None:
            task = asyncio.ensure_future(_run(fn))
            self._calls[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # shield: a cancelled caller must not cancel the work others await.
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[T]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: callers may all have gone away

    def in_flight(self, key: K) -> bool:
        return key in self._calls

    def __len__(self) -> int:
        return len(self._calls)


async def _run(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
