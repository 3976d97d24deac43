"""Responses conversation memory over a real store: kept at once in memory,
written in the background, read back from the database, forgotten on expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from omniroute.errors import BadRequest
from omniroute.gateway.conversations import ConversationMemory
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store import conversations as rows

pytestmark = pytest.mark.anyio

TTL = 3600.0
WAIT = 10.0  # the most any step of these tests may take
ITEMS: list[dict[str, Any]] = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hey"}]},
]


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with Store(settings) as opened:
        yield opened


async def stored_row(store: Store, response_id: str) -> str | None:
    """The committed row, read outside ConversationMemory."""
    return await store.read(lambda conn: rows.load(conn, response_id, time.time()))


async def test_remember_then_load_before_and_after_the_write(store: Store) -> None:
    entered, release = threading.Event(), threading.Event()

    def busy(conn: Any) -> None:  # holds the writer thread until released
        entered.set()
        release.wait(WAIT)

    memory = ConversationMemory(store, TTL)
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.write, busy)
            try:
                assert await anyio.to_thread.run_sync(entered.wait, WAIT)
                memory.remember("resp_1", ITEMS)  # returns at once
                assert await memory.load("resp_1") == ITEMS
                # not committed yet: the database and another memory know nothing
                assert await stored_row(store, "resp_1") is None
                with pytest.raises(BadRequest):
                    await ConversationMemory(store, TTL).load("resp_1")
            finally:
                release.set()
        await memory.drain()
        assert await stored_row(store, "resp_1") is not None
        assert await ConversationMemory(store, TTL).load("resp_1") == ITEMS
        assert await memory.load("resp_1") == ITEMS


async def test_save_returns_once_on_disk(store: Store) -> None:
    memory = ConversationMemory(store, TTL)
    with anyio.fail_after(WAIT):
        await memory.save("resp_2", ITEMS)
        assert await ConversationMemory(store, TTL).load("resp_2") == ITEMS


async def test_a_newer_remember_of_the_same_id_wins(store: Store) -> None:
    memory = ConversationMemory(store, TTL)
    newer = [*ITEMS, {"type": "message", "role": "user", "content": "More"}]
    with anyio.fail_after(WAIT):
        memory.remember("resp_3", ITEMS)
        memory.remember("resp_3", newer)
        assert await memory.load("resp_3") == newer
        await memory.drain()
        assert await ConversationMemory(store, TTL).load("resp_3") == newer


async def test_unknown_id_is_a_bad_request(store: Store) -> None:
    memory = ConversationMemory(store, TTL)
    with anyio.fail_after(WAIT), pytest.raises(BadRequest, match="resp_missing"):
        await memory.load("resp_missing")


async def test_expired_conversation_is_a_bad_request(store: Store) -> None:
    memory = ConversationMemory(store, ttl=0.001)
    with anyio.fail_after(WAIT):
        memory.remember("resp_old", ITEMS)
        await memory.drain()
        await anyio.sleep(0.01)  # ten times the ttl
        with pytest.raises(BadRequest, match="expired"):
            await memory.load("resp_old")
        with pytest.raises(BadRequest):
            await ConversationMemory(store, TTL).load("resp_old")
