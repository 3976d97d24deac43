"""One call in flight per key; concurrent callers share its outcome.

Used so that identical requests with one Idempotency-Key reach the upstream
once (``idempotency``), and so that an expired OAuth token is refreshed once
however many requests notice at the same moment:

    flights: SingleFlight[str, Token] = SingleFlight()
    token = await flights.do(account_id, lambda: refresh(account_id))

The first caller for a key starts ``fn()`` as a task; callers arriving while it
runs await the same task and get the same result or exception. Once it has
finished, the next call for that key starts afresh (nothing is cached). A
caller that is cancelled stops waiting without cancelling the shared work,
which the others still need; with ``cancel_abandoned=True`` the work is
cancelled once every caller has gone (nobody is left to receive what it
would cost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[T]) -> None:
        self.task = task
        self.waiters = 0


class SingleFlight(Generic[K, T]):
    __slots__ = ("_calls", "_cancel_abandoned")

    def __init__(self, *, cancel_abandoned: bool = False) -> None:
        self._calls: dict[K, _Flight[T]] = {}
        self._cancel_abandoned = cancel_abandoned

    async def do(self, key: K, fn: Callable[[], Awaitable[T]]) -> T:
        flight = self._calls.get(key)
        if flight is None:
            flight = self._calls[key] = _Flight(asyncio.ensure_future(_run(fn)))
            flight.task.add_done_callback(lambda done: self._finished(key, done))
        flight.waiters += 1
        try:
            # shield: one cancelled caller must not cancel the work others await.
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if self._cancel_abandoned and flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()

    def _finished(self, key: K, task: asyncio.Task[T]) -> None:
        flight = self._calls.get(key)
        if flight is not None and flight.task is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: callers may all have gone away

    def in_flight(self, key: K) -> bool:
        return key in self._calls

    def __len__(self) -> int:
        return len(self._calls)


async def _run(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
