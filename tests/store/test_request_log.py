from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest

from omniroute.settings import Settings
from omniroute.store import RequestLogRow, Store

pytestmark = pytest.mark.anyio


def _row(i: int, **changes: Any) -> RequestLogRow:
    row = RequestLogRow(
        ts=1000.0 + i, request_id=f"req-{i}", model="gpt-x", status=200, latency_ms=12.5
    )
    for name, value in changes.items():
        setattr(row, name, value)
    return row


async def _count(store: Store) -> int:
    result = await store.read(lambda c: c.execute("SELECT count(*) FROM request_log").fetchone())
    return int(result[0])


async def test_rows_wait_for_the_batch_then_flush(settings: Settings) -> None:
    # settings.log_flush_interval is 30 s: nothing is written before asked.
    async with Store(settings) as store:
        for i in range(5):
            store.log_request(_row(i))
        await store.upsert_provider("p", "openai", "https://p.test")  # the writer is idle
        assert await _count(store) == 0
        await store.flush_logs()
        assert await _count(store) == 5
        newest = await store.recent_requests(limit=2)
        assert [r.request_id for r in newest] == ["req-4", "req-3"]


async def test_rows_reach_disk_within_the_flush_interval(settings: Settings) -> None:
    async with Store(settings.replace(log_flush_interval=0.05)) as store:
        store.log_request(_row(1))
        store.log_request(_row(2))
        for _ in range(200):  # bounded: about 10 s at most
            if await _count(store) == 2:
                break
            await asyncio.sleep(0.05)
        assert await _count(store) == 2


async def test_rows_are_written_on_close(settings: Settings) -> None:
    store = Store(settings)
    await store.open()
    for i in range(7):
        store.log_request(_row(i))
    await store.close()
    store.log_request(_row(99))  # after close: dropped, counted, no error
    assert store.dropped_log_rows == 1
    async with Store(settings) as again:
        rows = await again.recent_requests(100)
    assert sorted(r.request_id for r in rows) == [f"req-{i}" for i in range(7)]


async def test_all_fields_round_trip(settings: Settings) -> None:
    full = RequestLogRow(
        ts=1700000000.25,
        request_id="abc",
        model="fast",
        status=429,
        latency_ms=812.5,
        client_key_id=3,
        resolved_model="openai/gpt-4o",
        provider="openai",
        account_id=7,
        client_format="anthropic",
        upstream_format="openai_chat",
        stream=True,
        error_kind="rate_limit",
        ttft_ms=120.0,
        input_tokens=11,
        output_tokens=22,
        cached_tokens=5,
        reasoning_tokens=4,
        usage_estimated=True,
    )
    async with Store(settings) as store:
        store.log_request(full)
        await store.flush_logs()
        (back,) = await store.recent_requests()
    assert back == full


async def test_overflow_drops_and_counts(settings: Settings) -> None:
    async with Store(settings.replace(log_queue_max=10)) as store:
        for i in range(25):
            store.log_request(_row(i))
        assert store.dropped_log_rows == 15
        await store.flush_logs()
        assert await _count(store) == 10
        store.log_request(_row(100))  # room again after the flush
        await store.flush_logs()
        assert await _count(store) == 11
        assert store.dropped_log_rows == 15


async def test_unstorable_row_is_dropped_not_the_batch(settings: Settings) -> None:
    async with Store(settings) as store:
        store.log_request(_row(1))
        store.log_request(_row(2, status="not a number"))
        store.log_request(_row(3))
        await store.flush_logs()
        rows = await store.recent_requests()
        assert [r.request_id for r in rows] == ["req-3", "req-1"]
        assert store.dropped_log_rows == 1


async def test_log_request_never_waits_for_a_busy_writer(settings: Settings) -> None:
    release = threading.Event()
    entered = threading.Event()

    def hold_the_writer(conn: sqlite3.Connection) -> None:
        entered.set()
        release.wait(timeout=10)

    async def producer(n: int) -> int:
        for i in range(50):
            store.log_request(_row(n * 1000 + i))
            if i % 10 == 0:
                await asyncio.sleep(0)
        return n

    async with Store(settings) as store:
        blocked = asyncio.ensure_future(store.write(hold_the_writer))
        for _ in range(1000):  # bounded wait until the writer thread is stuck
            if entered.is_set():
                break
            await asyncio.sleep(0.01)
        assert entered.is_set()
        # 100 coroutines log 5,000 rows while the writer cannot take any.
        done = await asyncio.wait_for(asyncio.gather(*(producer(n) for n in range(100))), 10)
        assert len(done) == 100
        assert not blocked.done()  # the writer really was busy the whole time
        release.set()
        await blocked
        await store.flush_logs()
        assert await _count(store) == 5000
        assert store.dropped_log_rows == 0


async def test_rows_past_the_retention_period_are_deleted(settings: Settings) -> None:
    import time

    now = time.time()
    async with Store(settings.replace(log_retention_days=0.0)) as first:
        first.log_request(_row(1, ts=now - 3 * 86_400))  # three days old
        first.log_request(_row(2, ts=now - 3_600))  # an hour old
        await first.flush_logs()
        # Retention 0 keeps everything.
        assert {r.request_id for r in await first.recent_requests(10)} == {"req-1", "req-2"}
    async with Store(settings.replace(log_retention_days=1.0)) as later:
        await later.flush_logs()  # the writer prunes on its first flush, then every 10 min
        assert [r.request_id for r in await later.recent_requests(10)] == ["req-2"]


async def test_log_rows_mark_when_each_client_key_was_last_used(settings: Settings) -> None:
    async with Store(settings) as store:
        used, _ = await store.create_client_key("used")
        idle, _ = await store.create_client_key("idle")
        store.log_request(_row(1, client_key_id=used.id, ts=5000.0))
        store.log_request(_row(2, client_key_id=used.id, ts=7000.0))
        await store.flush_logs()
        store.log_request(_row(3, client_key_id=used.id, ts=6000.0))  # older: no step back
        await store.flush_logs()
        keys = {k.name: k for k in await store.list_client_keys()}
    assert keys["used"].last_used_at == 7000.0
    assert keys["idle"].last_used_at is None


async def test_log_rows_add_up_each_client_keys_usage(settings: Settings) -> None:
    async with Store(settings) as store:
        used, _ = await store.create_client_key("used")
        idle, _ = await store.create_client_key("idle")
        revision = await store.revision()
        store.log_request(_row(1, client_key_id=used.id, input_tokens=10, output_tokens=3))
        store.log_request(_row(2, client_key_id=used.id, status=403))  # refused: still a request
        store.log_request(_row(3, client_key_id=used.id, status="bad"))  # dropped: not counted
        store.log_request(_row(4))  # no key
        await store.flush_logs()
        store.log_request(_row(5, client_key_id=used.id, input_tokens=5, output_tokens=2))
        await store.flush_logs()
        keys = {k.name: k for k in await store.list_client_keys()}
        # Usage is not configuration: a running server does not reload for it.
        assert await store.revision() == revision
    assert (keys["used"].requests, keys["used"].input_tokens, keys["used"].output_tokens) == (
        3,
        15,
        5,
    )
    assert (keys["idle"].requests, keys["idle"].input_tokens) == (0, 0)
