"""Idempotency-Key handling: one upstream execution per key.

Requests from the same client key carrying the same ``Idempotency-Key`` share
one execution: the first caller runs it; callers arriving while it runs, and
for ``ttl`` seconds after it succeeded, get the same value.

    cache: IdempotencyCache[bytes] = IdempotencyCache(ttl=5.0, max_entries=1024)
    body = await cache.run(client_key_id, idempotency_key, lambda: call_upstream())

- Generic over the value: for streams the pipeline keeps a recording of the
  bytes it sends, and every caller replays it.
- While it runs, the execution is a ``SingleFlight``: concurrent callers see
  the same result or exception, and if every one of them goes away it is
  cancelled (nobody is left to receive what it would cost).
- A failed or cancelled execution is not kept: the next request with that
  key runs again (a client retrying after an error wants a retry).
- At most ``max_entries`` results are held; expired ones are dropped first,
  then the oldest.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from omniroute.routing.singleflight import SingleFlight

T = TypeVar("T")

Slot = tuple[str, str]


class IdempotencyCache(Generic[T]):
    __slots__ = ("_ttl", "_max", "_clock", "_flights", "_kept")

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
        self._flights: SingleFlight[Slot, T] = SingleFlight(cancel_abandoned=True)
        self._kept: dict[Slot, tuple[float, T]] = {}  # slot -> (expires, value)

    async def run(self, client: str, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        slot = (client, key)
        kept = self._kept.get(slot)
        if kept is not None:
            if kept[0] > self._clock():
                return kept[1]
            del self._kept[slot]
        value = await self._flights.do(slot, fn)
        if slot not in self._kept:  # every waiter gets here; the first one keeps it
            self._keep(slot, value)
        return value

    def __len__(self) -> int:
        return len(self._kept) + len(self._flights)

    def purge(self) -> None:
        """Drop every expired result."""
        now = self._clock()
        for slot in [s for s, (expires, _) in self._kept.items() if expires <= now]:
            del self._kept[slot]

    def _keep(self, slot: Slot, value: T) -> None:
        if len(self._kept) >= self._max:
            self.purge()
            while len(self._kept) >= self._max:
                # Oldest first; losing an entry only loses de-duplication for it.
                del self._kept[next(iter(self._kept))]
        self._kept[slot] = (self._clock() + self._ttl, value)
