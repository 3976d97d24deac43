from __future__ import annotations

import asyncio

import pytest

from omniroute.routing.idempotency import IdempotencyCache

from .fakes import FakeClock

pytestmark = pytest.mark.anyio


class Upstream:
    """Counts executions; each returns a distinct body."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> bytes:
        self.calls += 1
        n = self.calls
        await self.release.wait()
        return b"answer-%d" % n


async def test_concurrent_requests_with_one_key_share_one_execution() -> None:
    cache: IdempotencyCache[bytes] = IdempotencyCache(clock=FakeClock())
    upstream = Upstream()
    upstream.release.clear()
    callers = [asyncio.create_task(cache.run("client", "idem-1", upstream)) for _ in range(20)]
    await asyncio.sleep(0)
    upstream.release.set()
    results = await asyncio.wait_for(asyncio.gather(*callers), 5.0)
    assert upstream.calls == 1
    assert results == [b"answer-1"] * 20


async def test_later_request_within_ttl_gets_the_same_answer_then_expires() -> None:
    clock = FakeClock()
    cache: IdempotencyCache[bytes] = IdempotencyCache(ttl=5.0, clock=clock)
    upstream = Upstream()
    assert await cache.run("client", "k", upstream) == b"answer-1"
    clock.advance(4.9)
    assert await cache.run("client", "k", upstream) == b"answer-1"
    clock.advance(0.1)
    assert await cache.run("client", "k", upstream) == b"answer-2"
    assert upstream.calls == 2


async def test_different_keys_and_clients_are_independent() -> None:
    cache: IdempotencyCache[bytes] = IdempotencyCache(clock=FakeClock())
    upstream = Upstream()
    a = await cache.run("client-a", "k", upstream)
    b = await cache.run("client-b", "k", upstream)
    c = await cache.run("client-a", "other", upstream)
    assert (a, b, c) == (b"answer-1", b"answer-2", b"answer-3")
    assert await cache.run("client-b", "k", upstream) == b"answer-2"


async def test_failures_are_shared_but_not_kept() -> None:
    cache: IdempotencyCache[str] = IdempotencyCache(clock=FakeClock())
    attempts = 0
    release = asyncio.Event()

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        await release.wait()
        if attempts == 1:
            raise ConnectionError("upstream reset")
        return "ok"

    callers = [asyncio.create_task(cache.run("c", "k", flaky)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await cache.run("c", "k", flaky) == "ok"
    assert attempts == 2


async def test_execution_is_cancelled_when_every_caller_leaves() -> None:
    cache: IdempotencyCache[str] = IdempotencyCache(clock=FakeClock())
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow() -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    one = asyncio.create_task(cache.run("c", "k", slow))
    two = asyncio.create_task(cache.run("c", "k", slow))
    await asyncio.wait_for(started.wait(), 5.0)
    one.cancel()
    await asyncio.sleep(0)
    assert not cancelled.is_set()  # the second caller still waits
    two.cancel()
    await asyncio.wait_for(cancelled.wait(), 5.0)
    await asyncio.sleep(0)
    assert len(cache) == 0


async def test_size_is_bounded_and_expired_entries_go_first() -> None:
    clock = FakeClock()
    cache: IdempotencyCache[bytes] = IdempotencyCache(ttl=5.0, max_entries=2, clock=clock)
    upstream = Upstream()
    await cache.run("c", "old", upstream)
    clock.advance(10.0)
    await cache.run("c", "a", upstream)
    await cache.run("c", "b", upstream)  # "old" expired: purged to make room
    assert len(cache) == 2
    assert await cache.run("c", "a", upstream) == b"answer-2"
    await cache.run("c", "d", upstream)  # full of live entries: the oldest ("a") goes
    assert len(cache) == 2
    assert await cache.run("c", "b", upstream) == b"answer-3"
    assert await cache.run("c", "a", upstream) == b"answer-5"


async def test_purge_drops_expired_entries() -> None:
    clock = FakeClock()
    cache: IdempotencyCache[bytes] = IdempotencyCache(ttl=1.0, clock=clock)
    upstream = Upstream()
    for key in "abc":
        await cache.run("c", key, upstream)
    clock.advance(1.0)
    cache.purge()
    assert len(cache) == 0
