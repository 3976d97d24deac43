from __future__ import annotations

import asyncio
import time

import pytest

from omniroute.errors import BadRequest, RateLimited
from omniroute.routing.ratelimit import Limits, RateLimiter

from .fakes import FakeClock

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0


async def settle() -> None:
    """Let every runnable task take its next step."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_no_limits_never_waits() -> None:
    limiter = RateLimiter()
    for _ in range(100):
        async with limiter.slot("k", max_wait=0):
            pass


async def test_rpm_sliding_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.set_limits("k", Limits(rpm=2))
    async with limiter.slot("k"):
        pass
    clock.advance(20.0)
    async with limiter.slot("k"):
        pass
    with pytest.raises(RateLimited) as info:
        async with limiter.slot("k", max_wait=1.0):
            pass
    assert info.value.retry_after == pytest.approx(40.0)  # the first start leaves the window
    assert info.value.status == 429
    clock.advance(40.0)
    async with limiter.slot("k", max_wait=0):
        pass
    with pytest.raises(RateLimited) as info:
        async with limiter.slot("k", max_wait=0):
            pass
    assert info.value.retry_after == pytest.approx(20.0)


async def test_min_gap_spaces_request_starts() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(min_gap=0.05))
    starts: list[float] = []

    async def one() -> None:
        async with limiter.slot("k", max_wait=5.0):
            starts.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(4))), 5.0)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 4
    assert all(gap >= 0.045 for gap in gaps), gaps


async def test_max_concurrent_is_never_exceeded() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(max_concurrent=2, max_queue=10))
    running = 0
    peak = 0

    async def one() -> None:
        nonlocal running, peak
        async with limiter.slot("k", max_wait=5.0):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(8))), 5.0)
    assert peak == 2
    assert limiter.listing()[0].active == 0


async def test_queue_is_fifo() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(max_concurrent=1))
    order: list[int] = []
    gate = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot("k"):
            await gate.wait()

    async def waiter(n: int) -> None:
        async with limiter.slot("k", max_wait=5.0):
            order.append(n)

    tasks = [asyncio.create_task(holder())]
    await settle()
    for n in range(5):
        tasks.append(asyncio.create_task(waiter(n)))
        await settle()
    assert limiter.listing()[0].queued == 5
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5.0)
    assert order == [0, 1, 2, 3, 4]


async def test_full_queue_is_rate_limited_at_once() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(max_concurrent=1, max_queue=1))
    gate = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("k"):
            await gate.wait()

    async def wait_turn() -> None:
        async with limiter.slot("k"):
            pass

    holder = asyncio.create_task(hold())
    await settle()
    queued = asyncio.create_task(wait_turn())
    await settle()
    with pytest.raises(RateLimited, match="queue .* is full") as info:
        async with limiter.slot("k"):
            pass
    assert info.value.retry_after is not None and info.value.retry_after > 0
    gate.set()
    await asyncio.wait_for(asyncio.gather(holder, queued), 5.0)


async def test_waiting_longer_than_max_wait_is_rate_limited() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(max_concurrent=1))
    gate = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("k"):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await settle()
    started = time.monotonic()
    with pytest.raises(RateLimited, match="waited"):
        async with limiter.slot("k", max_wait=0.05):
            pass
    assert time.monotonic() - started < 2.0
    assert limiter.listing()[0].queued == 0  # the timed-out waiter left the queue
    gate.set()
    await asyncio.wait_for(holder, 5.0)


async def test_cancelled_waiter_leaves_and_the_next_one_proceeds() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(max_concurrent=1))
    gate = asyncio.Event()
    served: list[str] = []

    async def hold() -> None:
        async with limiter.slot("k"):
            await gate.wait()

    async def wait_turn(name: str) -> None:
        async with limiter.slot("k"):
            served.append(name)

    holder = asyncio.create_task(hold())
    await settle()
    first = asyncio.create_task(wait_turn("first"))
    await settle()
    second = asyncio.create_task(wait_turn("second"))
    await settle()
    first.cancel()
    await settle()
    assert limiter.listing()[0].queued == 1
    gate.set()
    await asyncio.wait_for(asyncio.gather(holder, second), 5.0)
    assert served == ["second"]


async def test_set_limits_at_runtime_releases_waiters() -> None:
    limiter = RateLimiter()
    limiter.set_limits("k", Limits(max_concurrent=1))
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("k"):
            await gate.wait()

    async def second() -> None:
        async with limiter.slot("k"):
            entered.set()

    holder = asyncio.create_task(hold())
    await settle()
    waiter = asyncio.create_task(second())
    await settle()
    assert not entered.is_set()
    limiter.set_limits("k", Limits(max_concurrent=2))
    await asyncio.wait_for(entered.wait(), 5.0)
    assert limiter.limits("k").max_concurrent == 2
    gate.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 5.0)


async def test_adapts_to_openai_style_headers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.update_from_headers("k", {"x-ratelimit-remaining-requests": "5"})
    async with limiter.slot("k", max_wait=0):
        pass
    limiter.update_from_headers(
        "k", {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s"}
    )
    with pytest.raises(RateLimited) as info:
        async with limiter.slot("k", max_wait=5.0):
            pass
    assert info.value.retry_after == pytest.approx(90.0)
    assert limiter.listing()[0].held_for == pytest.approx(90.0)
    clock.advance(90.0)
    async with limiter.slot("k", max_wait=0):
        pass


async def test_adapts_to_anthropic_headers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, wall=lambda: NOW)
    limiter.update_from_headers(
        "k",
        [
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:50Z"),  # NOW + 30 s
        ],
    )
    with pytest.raises(RateLimited) as info:
        async with limiter.slot("k", max_wait=1.0):
            pass
    assert info.value.retry_after == pytest.approx(30.0)


async def test_hold_waits_when_max_wait_allows() -> None:
    limiter = RateLimiter()
    limiter.update_from_headers(
        "k", {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "30ms"}
    )
    started = time.monotonic()
    async with limiter.slot("k", max_wait=5.0):
        waited = time.monotonic() - started
    assert waited >= 0.025


def test_limits_round_trip_and_validation() -> None:
    limits = Limits(rpm=60, min_gap=0.5, max_concurrent=3, max_queue=7)
    assert Limits.from_dict(limits.to_dict()) == limits
    assert Limits.from_dict({}) == Limits()
    for bad in ({"rpm": 0}, {"rpm": "60"}, {"min_gap": -1}, {"max_queue": -1}, {"burst": 3},
                {"max_concurrent": True}):  # fmt: skip
        with pytest.raises(BadRequest):
            Limits.from_dict(bad)
