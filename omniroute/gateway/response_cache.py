"""The response cache: whole answers to deterministic requests, served again.

In memory: least recently used first out, within a byte cap, each entry for
its TTL. Persisted: every change goes to the store's writer in a batch about
once a second (a request never waits on the disk), and what has not expired
is read back at start, so answers survive a restart. ``omniroute cache
clear`` run elsewhere empties the table and counts up a generation the
gateway reads after each configuration reload.

What is cached and under which key is ``cache_key``'s call; how a hit is
answered and a miss kept is ``gateway/cached.py``'s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from omniroute.config.options import CacheOptions
from omniroute.formats.common import dump_json
from omniroute.formats.ir_json import asks_unkeepable, canonical_request
from omniroute.gateway.call import Call
from omniroute.providers.family import Operation
from omniroute.store import Store
from omniroute.store import response_cache as rows
from omniroute.store.response_cache import CachedRow

log = logging.getLogger("omniroute.cache")

FLUSH_INTERVAL = 1.0  # seconds between batches of changes to the database
NO_CACHE_HEADER = "x-omniroute-no-cache"
CACHE_HEADER = "x-omniroute-cache"


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cacheable request: its key, and whether it may be served from the
    cache (not when the client asked to bypass it)."""

    key: str
    may_hit: bool


def cache_key(call: Call, options: CacheOptions, combo: str | None) -> Lookup | None:
    """The request's cache key, or None when it is not cacheable: caching
    off (globally or for its combo), not a chat request, not deterministic
    (no temperature 0 and no seed), tools offered without ``cache.tools``, a
    pinned account, or an answer part the cache cannot keep."""
    if call.operation is not Operation.CHAT or not options.on_for(combo):
        return None
    if call.pinned_account is not None:
        return None
    req = call.ir_request()
    if req.temperature != 0 and req.seed is None:
        return None
    if req.tools and not options.tools:
        return None
    if asks_unkeepable(req):
        return None
    form = canonical_request(req, call.model)
    # Each client key has its own entries; its scope is part of the key so a
    # key whose limits change never gets an answer it would now be refused.
    scope = call.scope.to_json() if call.scope is not None else None
    text = dump_json({"key": call.client_key_id, "scope": scope, "ask": form})
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Lookup(digest, may_hit=not _bypass(call.client_headers))


def _bypass(headers: dict[str, str]) -> bool:
    if headers.get(NO_CACHE_HEADER, "").strip() == "1":
        return True
    directives = headers.get("cache-control", "").lower()
    return any(d.strip() in ("no-cache", "no-store") for d in directives.split(","))


# An entry in memory is the row it is stored as.
Entry = CachedRow


class ResponseCache:
    def __init__(
        self,
        store: Store,
        options: Callable[[], CacheOptions],
        *,
        clock: Callable[[], float] = time.time,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self._store = store
        self._options = options
        self._clock = clock
        self._interval = flush_interval
        self._entries: collections.OrderedDict[str, Entry] = collections.OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.saved_cost = 0.0  # what the hits' answers cost when first served
        self._saved: dict[str, Entry] = {}  # changes not yet written
        self._dropped: set[str] = set()
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()

    # -- the hot path: memory only ------------------------------------------

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(
        self, key: str, client_key_id: int | None, model: str, answer: str, cost: float | None
    ) -> bool:
        """Keep an answer; False when it is larger than the whole cache."""
        options = self._options()
        size = len(answer.encode())
        if size > options.max_bytes:
            return False
        now = self._clock()
        if key in self._entries:
            self._remove(key)
        entry = Entry(key, client_key_id, model, answer, size, cost, now, now + options.ttl)
        self._entries[key] = entry
        self._bytes += size
        self._saved[key] = entry
        self._dropped.discard(key)
        self._trim(options.max_bytes)
        return True

    def counted_hit(self, entry: Entry) -> None:
        self.hits += 1
        self.saved_cost += entry.cost or 0.0

    def counted_miss(self) -> None:
        self.misses += 1

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.bytes
            self._saved.pop(key, None)
            self._dropped.add(key)

    def _trim(self, max_bytes: int) -> None:
        """Least recently used out until the rest fits (bounded by the count)."""
        for _ in range(len(self._entries)):
            if self._bytes <= max_bytes:
                return
            oldest = next(iter(self._entries))
            self._remove(oldest)

    def forget(self) -> int:
        """Empty the memory (and what was waiting to be written); how many went."""
        gone = len(self._entries)
        self._entries.clear()
        self._bytes = 0
        self._saved.clear()
        self._dropped.clear()
        return gone

    def stats(self) -> dict[str, object]:
        asked = self.hits + self.misses
        options = self._options()
        return {
            "enabled": options.enabled,
            "entries": len(self._entries),
            "bytes": self._bytes,
            "max_bytes": options.max_bytes,
            "ttl": options.ttl,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / asked, 4) if asked else None,
            "saved_cost": round(self.saved_cost, 8),
        }

    # -- the database: in the background -----------------------------------

    async def start(self) -> None:
        """Read back what has not expired, then write changes in batches."""
        now = self._clock()
        options = self._options()
        found, generation = await self._store.read(
            lambda conn: (rows.load(conn, now, options.max_bytes), rows.generation(conn))
        )
        self._generation = generation
        for row in reversed(found):  # oldest first, so the newest is the most recent
            self._entries[row.key] = row
            self._bytes += row.bytes
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the batches and write what is left (before the store closes)."""
        task, self._task = self._task, None
        for running in [task, *self._checks]:
            if running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
        if task is not None:
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.warning("response cache: could not write its changes", exc_info=True)

    async def flush(self) -> None:
        """Write the changes made since the last flush (and purge expired rows)."""
        saved = list(self._saved.values())
        dropped = sorted(self._dropped)
        self._saved.clear()
        self._dropped.clear()
        now = self._clock()
        await self._store.write(lambda conn: rows.apply(conn, saved, dropped, now))

    async def clear(self) -> int:
        """Empty the cache, memory and database; how many entries went."""
        gone = self.forget()
        stored, self._generation = await self._store.write(
            lambda conn: (rows.clear(conn), rows.generation(conn))
        )
        return max(gone, stored)

    def config_changed(self) -> None:
        """The configuration was reloaded: check, in the background, whether
        the cache was cleared from outside. A smaller byte cap applies at once."""
        self._trim(self._options().max_bytes)
        if self._task is None:
            return
        check = asyncio.get_running_loop().create_task(self._check_cleared())
        self._checks.add(check)
        check.add_done_callback(self._checks.discard)

    async def _check_cleared(self) -> None:
        try:
            await self.reloaded()
        except Exception:
            log.warning("response cache: could not read its generation", exc_info=True)

    async def reloaded(self) -> None:
        """After a configuration reload: if the cache was cleared elsewhere
        (``omniroute cache clear``), forget what memory holds."""
        generation = await self._store.read(rows.generation)
        if generation != self._generation:
            self._generation = generation
            gone = self.forget()
            log.info("response cache cleared: %d entries dropped from memory", gone)
