"""The live monitor: what requests do right now, for whoever watches.

A request publishes three events (it started, its first token arrived, it
ended) with its id, model, provider, status, latency and tokens, never a
body. Each watcher has a queue of at most ``QUEUE_MAX`` events; a watcher
that falls that far behind is dropped (its stream ends) rather than ever
slowing a request down: publishing only appends to in-memory queues. Events
are published from the event loop only.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

QUEUE_MAX = 256
MAX_WATCHERS = 32


class Watcher:
    __slots__ = ("_queue", "_limit", "_wake", "dropped")

    def __init__(self, limit: int) -> None:
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.dropped = False

    def offer(self, event: dict[str, Any]) -> bool:
        """Queue an event; False when the queue is full (the watcher is dropped)."""
        if self.dropped or len(self._queue) >= self._limit:
            self.end()
            return False
        self._queue.append(event)
        self._wake.set()
        return True

    def end(self) -> None:
        self.dropped = True
        self._wake.set()

    def __len__(self) -> int:
        return len(self._queue)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None after ``timeout`` seconds without one (or
        once dropped, when ``dropped`` says so)."""
        if not self._queue and not self.dropped:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
        if self.dropped:
            return None
        return self._queue.popleft() if self._queue else None


class Monitor:
    def __init__(self, queue_max: int = QUEUE_MAX, max_watchers: int = MAX_WATCHERS) -> None:
        self._queue_max = queue_max
        self._max_watchers = max_watchers
        self._watchers: list[Watcher] = []
        self.dropped = 0  # watchers dropped for falling behind, since the start
        self.closed = False  # the gateway stops: live streams end now, not after its grace

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    def queued(self) -> int:
        return sum(len(w) for w in self._watchers)

    def close(self) -> None:
        """End every watcher's stream (the gateway is stopping)."""
        self.closed = True
        for watcher in self._watchers:
            watcher.end()
        self._watchers.clear()

    def watch(self) -> Watcher | None:
        """A new watcher, or None when there are already ``max_watchers``
        (or the gateway is stopping)."""
        if self.closed or len(self._watchers) >= self._max_watchers:
            return None
        watcher = Watcher(self._queue_max)
        self._watchers.append(watcher)
        return watcher

    def leave(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def publish(self, event: dict[str, Any]) -> None:
        if not self._watchers:
            return
        for watcher in list(self._watchers):
            if not watcher.offer(event):
                self._watchers.remove(watcher)
                self.dropped += 1

    async def stream(
        self, watcher: Watcher, keepalive: float
    ) -> AsyncIterator[dict[str, Any] | None]:
        """The watcher's events in order; None now and then while it is quiet
        (for a keep-alive); ends when the watcher is dropped."""
        try:
            while not watcher.dropped:
                yield await watcher.next(keepalive)
        finally:
            self.leave(watcher)
