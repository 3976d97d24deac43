from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from omniroute.routing.singleflight import SingleFlight

pytestmark = pytest.mark.anyio


async def test_hundred_concurrent_callers_share_one_execution() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def refresh() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "token-2"

    callers = [asyncio.create_task(flights.do("acct", refresh)) for _ in range(100)]
    await asyncio.sleep(0)
    assert flights.in_flight("acct")
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*callers), 5.0)
    assert calls == 1
    assert results == ["token-2"] * 100
    assert not flights.in_flight("acct") and len(flights) == 0


async def test_the_next_call_after_completion_runs_again() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await flights.do("k", work) == 1
    assert await flights.do("k", work) == 2


async def test_an_exception_reaches_every_waiter() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def broken() -> int:
        await release.wait()
        raise RuntimeError("refresh refused")

    callers = [asyncio.create_task(flights.do("k", broken)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 5.0)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert len(flights) == 0


async def test_a_cancelled_caller_does_not_cancel_the_shared_work() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "done"

    leader = asyncio.create_task(flights.do("k", work))
    follower = asyncio.create_task(flights.do("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.wait_for(follower, 5.0) == "done"
    assert leader.cancelled()


async def test_different_keys_run_independently() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    seen: list[str] = []

    async def work(key: str) -> str:
        seen.append(key)
        await asyncio.sleep(0)
        return key

    def call(key: str) -> Awaitable[str]:
        return flights.do(key, lambda: work(key))

    results = await asyncio.gather(*(call(k) for k in "abc"))
    assert results == ["a", "b", "c"]
    assert sorted(seen) == ["a", "b", "c"]
