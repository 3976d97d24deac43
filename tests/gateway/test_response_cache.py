"""The response cache over a real store with an injected clock: what is
cacheable and under which key, TTL, the byte cap's least-recently-used
order, batches written to SQLite and read back, and a clear made elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from omniroute.config.options import CacheOptions
from omniroute.gateway.call import Call
from omniroute.gateway.response_cache import ResponseCache, cache_key
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store import response_cache as rows
from omniroute.store.key_scope import KeyScope

pytestmark = pytest.mark.anyio

ON = CacheOptions(enabled=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with Store(settings) as opened:
        yield opened


def call(body: dict[str, Any], headers: dict[str, str] | None = None, **kw: Any) -> Call:
    return Call(
        request_id="r1",
        client_key_id=kw.pop("key", 1),
        dialect=kw.pop("dialect", "openai"),
        body=body,
        model=str(body.get("model", "m")),
        stream=False,
        client_headers=headers or {},
        **kw,
    )


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_only_deterministic_chat_requests_are_cacheable() -> None:
    assert cache_key(call(chat(temperature=0)), ON, None) is not None
    assert cache_key(call(chat(seed=3, temperature=0.9)), ON, None) is not None
    assert cache_key(call(chat()), ON, None) is None
    assert cache_key(call(chat(temperature=0.2)), ON, None) is None
    assert cache_key(call(chat(temperature=0)), CacheOptions(), None) is None
    assert cache_key(call(chat(temperature=0, logprobs=True)), ON, None) is None
    pinned = call(chat(temperature=0), {"x-omniroute-pin-account": "2"})
    assert cache_key(pinned, ON, None) is None


def test_tools_need_the_opt_in() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    body = chat(temperature=0, tools=[tool])
    assert cache_key(call(body), ON, None) is None
    assert cache_key(call(body), CacheOptions(enabled=True, tools=True), None) is not None


def test_combos_override_the_global_switch() -> None:
    options = CacheOptions(enabled=False, combos=("c1",), skip_combos=("c2",))
    assert cache_key(call(chat(temperature=0)), options, "c1") is not None
    assert cache_key(call(chat(temperature=0)), options, None) is None
    on = CacheOptions(enabled=True, skip_combos=("c2",))
    assert cache_key(call(chat(temperature=0)), on, "c2") is None


def test_the_key_follows_the_question_the_client_key_and_its_scope() -> None:
    base = cache_key(call(chat(temperature=0)), ON, None)
    assert base is not None and base.may_hit
    same = cache_key(call(chat(temperature=0.0, user="u", stream=False)), ON, None)
    assert same is not None and same.key == base.key
    for other in (
        call(chat(temperature=0, max_tokens=5)),
        call(chat(temperature=0, model="m2")),
        call(chat(temperature=0), key=2),
        call(chat(temperature=0), scope=KeyScope(models=("m",))),
    ):
        found = cache_key(other, ON, None)
        assert found is not None and found.key != base.key
    anthropic = call(
        {
            "model": "m",
            "max_tokens": 5,
            "temperature": 0,
            "messages": [{"role": "user", "content": "hi"}],
        },
        dialect="anthropic",
    )
    found = cache_key(anthropic, ON, None)
    assert (
        found is not None
        and found.key == cache_key(call(chat(temperature=0, max_tokens=5)), ON, None).key
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "headers",
    [
        {"cache-control": "no-cache"},
        {"cache-control": "max-age=0, no-store"},
        {"x-omniroute-no-cache": "1"},
    ],
)
def test_bypass_headers_skip_the_lookup_only(headers: dict[str, str]) -> None:
    found = cache_key(call(chat(temperature=0), headers), ON, None)
    assert found is not None and not found.may_hit


async def test_entries_expire_after_their_ttl(store: Store) -> None:
    clock = Clock()
    cache = ResponseCache(store, lambda: CacheOptions(enabled=True, ttl=10), clock=clock)
    assert cache.put("k", 1, "m", '{"parts": []}', 0.5)
    clock.now += 9.9
    assert cache.get("k") is not None
    clock.now += 0.2
    assert cache.get("k") is None
    assert cache.stats()["entries"] == 0


async def test_the_byte_cap_drops_the_least_recently_used(store: Store) -> None:
    answer = "x" * 100
    cache = ResponseCache(store, lambda: CacheOptions(enabled=True, max_bytes=250), clock=Clock())
    cache.put("a", 1, "m", answer, None)
    cache.put("b", 1, "m", answer, None)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", 1, "m", answer, None)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.stats()["bytes"] == 200
    assert not cache.put("big", 1, "m", "y" * 251, None)  # larger than the whole cache
    assert cache.stats()["entries"] == 2


async def test_changes_are_written_and_read_back_at_start(store: Store) -> None:
    clock = Clock()
    options = CacheOptions(enabled=True, ttl=100)
    first = ResponseCache(store, lambda: options, clock=clock)
    await first.start()
    first.put("old", 1, "m", "answer-old", 0.25)
    first.put("new", 1, "m", "answer-new", None)
    first.put("gone", 1, "m", "answer-gone", None)
    clock.now += 1
    assert first.get("old") is not None
    await first.flush()
    first._remove("gone")
    await first.stop()  # the last batch: "gone" is deleted
    stored = await store.read(lambda conn: rows.totals(conn, clock.now))
    assert (stored.entries, stored.cost) == (2, 0.25)

    second = ResponseCache(store, lambda: options, clock=clock)
    await second.start()
    try:
        entry = second.get("old")
        assert entry is not None and (entry.answer, entry.cost) == ("answer-old", 0.25)
        assert second.get("gone") is None
        clock.now += 100
        assert second.get("new") is None  # expired meanwhile
    finally:
        await second.stop()


async def test_a_clear_made_elsewhere_empties_the_memory_at_the_next_reload(
    store: Store,
) -> None:
    cache = ResponseCache(store, lambda: ON, clock=Clock())
    await cache.start()
    try:
        cache.put("k", 1, "m", "answer", None)
        await cache.flush()
        assert await store.write(rows.clear) == 1  # what `omniroute cache clear` does
        assert cache.get("k") is not None
        await cache.reloaded()
        assert cache.get("k") is None and cache.stats()["bytes"] == 0
        cache.put("k2", 1, "m", "answer", None)
        await cache.reloaded()  # the same generation: kept
        assert cache.get("k2") is not None
        assert await cache.clear() == 1
        assert cache.get("k2") is None
    finally:
        await cache.stop()


async def test_hits_misses_and_saved_cost_are_counted(store: Store) -> None:
    cache = ResponseCache(store, lambda: ON, clock=Clock())
    cache.put("k", 1, "m", "answer", 0.125)
    entry = cache.get("k")
    assert entry is not None
    cache.counted_miss()
    cache.counted_hit(entry)
    cache.counted_hit(entry)
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["saved_cost"]) == (2, 1, 0.25)
    assert stats["hit_rate"] == pytest.approx(2 / 3, abs=1e-4)
