"""The response cache end to end: the real gateway against a mock upstream,
called with the official SDKs. A hit is an answer the upstream never saw a
second time; each dialect's SDK parses it, JSON or streamed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from omniroute.store.request_log import RequestFilter
from tests.e2e.sdk_helpers import anthropic_sdk, gemini_sdk, openai_sdk
from tests.support.harness import Harness, run_cli, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Sse,
    Usage,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODEL = "up/m1"
QUESTION = "What is two plus two?"
ANSWER_CHUNKS = ("Two plus two ", "is four.")
ANSWER = "".join(ANSWER_CHUNKS)
USAGE = Usage(input=30, output=6)
PRICE = {"input": 10.0, "output": 20.0}  # USD per 1M tokens
PATH = "/up/v1/chat/completions"
MODELS = ["m1", "m1-b", "m1-c"]
CLIENTS = ("openai", "responses", "anthropic", "gemini")


def upstream_answer(request: RecordedRequest) -> Reply:
    if request.json().get("stream"):
        return Sse(openai_chat_sse(list(ANSWER_CHUNKS), "m1", usage=USAGE))
    return Json(openai_chat_json(ANSWER, "m1", usage=USAGE))


async def setup(gw: Harness, mock: MockUpstream, **cache: Any) -> None:
    await gw.add_provider("up", "openai", f"{mock.url}/up/v1", "sk-up-upstream-0123456789", MODELS)
    mock.route("POST", PATH, upstream_answer)
    settings = {
        "cache.enabled": "on",
        **{f"cache.{k.replace('_', '-')}": v for k, v in cache.items()},
    }
    await gw.config.change_settings(settings)
    await gw.reload()


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        await setup(harness, mock)
        yield harness


def upstream_calls(mock: MockUpstream) -> int:
    return sum(1 for r in mock.requests if r.path == PATH)


@dataclass(slots=True)
class Answer:
    text: str
    cache: str | None  # the X-OmniRoute-Cache header (None: not cacheable)


async def ask(
    gw: Harness,
    client: str,
    stream: bool,
    *,
    temperature: float | None = 0,
    headers: dict[str, str] | None = None,
    key: str | None = None,
    model: str = MODEL,
) -> Answer:
    """One question in ``client``'s dialect, through its official SDK."""
    extra = {"extra_headers": headers} if headers else {}
    temp = {} if temperature is None else {"temperature": temperature}
    if client == "openai":
        oa = openai_sdk(gw, key)
        raw = await oa.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=64,
            stream=stream,
            **temp,
            **extra,
        )
        parsed: Any = raw.parse()
        if stream:
            text = "".join([c.choices[0].delta.content or "" async for c in parsed if c.choices])
        else:
            text = parsed.choices[0].message.content
        return Answer(text, raw.headers.get("x-omniroute-cache"))
    if client == "responses":
        oa = openai_sdk(gw, key)
        raw = await oa.responses.with_raw_response.create(
            model=model,
            input=QUESTION,
            max_output_tokens=64,
            stream=stream,
            **temp,
            **extra,
        )
        parsed = raw.parse()
        if stream:
            done = [e async for e in parsed if e.type == "response.completed"]
            assert len(done) == 1
            text = done[0].response.output_text
        else:
            text = parsed.output_text
        return Answer(text, raw.headers.get("x-omniroute-cache"))
    if client == "anthropic":
        an = anthropic_sdk(gw, key)
        raw = await an.messages.with_raw_response.create(
            model=model,
            max_tokens=64,
            messages=[{"role": "user", "content": QUESTION}],
            stream=stream,
            # This SDK version has no temperature parameter; the API still takes it.
            extra_body=temp,
            **extra,
        )
        parsed = await raw.parse()
        if stream:
            pieces = [
                e.delta.text
                async for e in parsed
                if e.type == "content_block_delta" and e.delta.type == "text_delta"
            ]
            text = "".join(pieces)
        else:
            text = "".join(b.text for b in parsed.content if b.type == "text")
        return Answer(text, raw.headers.get("x-omniroute-cache"))
    return await ask_gemini(gemini_sdk(gw, key), stream, temperature, headers, model)


async def ask_gemini(
    client: genai.Client,
    stream: bool,
    temperature: float | None,
    headers: dict[str, str] | None,
    model: str,
) -> Answer:
    config = gtypes.GenerateContentConfig(
        temperature=temperature,
        max_output_tokens=64,
        http_options=gtypes.HttpOptions(headers=headers) if headers else None,
    )
    if stream:
        chunks = await client.aio.models.generate_content_stream(
            model=model, contents=QUESTION, config=config
        )
        texts, seen = [], None
        async for chunk in chunks:
            texts.append(chunk.text or "")
            if chunk.sdk_http_response is not None and chunk.sdk_http_response.headers:
                seen = chunk.sdk_http_response.headers.get("x-omniroute-cache")
        return Answer("".join(texts), seen)
    answer = await client.aio.models.generate_content(model=model, contents=QUESTION, config=config)
    http = answer.sdk_http_response
    return Answer(
        answer.text or "", http.headers.get("x-omniroute-cache") if http and http.headers else None
    )


# ------------------------------------------------------------- hits and misses


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_second_identical_request_is_a_hit(
    gw: Harness, mock: MockUpstream, client: str, stream: bool
) -> None:
    first = await ask(gw, client, stream)
    second = await ask(gw, client, stream)
    assert first.text == second.text == ANSWER
    assert upstream_calls(mock) == 1  # the second answer came from the cache
    if client != "gemini" or not stream:
        assert (first.cache, second.cache) == ("miss", "hit")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_streamed_answer_replays_as_json_and_the_other_way(
    gw: Harness, mock: MockUpstream, stream: bool
) -> None:
    await ask(gw, "openai", stream)
    other = await ask(gw, "openai", not stream)
    assert (other.text, other.cache) == (ANSWER, "hit")
    assert upstream_calls(mock) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("openai", "anthropic"), ("anthropic", "gemini"), ("gemini", "responses")],
)
async def test_the_same_question_in_another_dialect_is_a_hit(
    gw: Harness, mock: MockUpstream, first: str, second: str
) -> None:
    assert (await ask(gw, first, False)).text == ANSWER
    again = await ask(gw, second, True)
    assert again.text == ANSWER
    assert upstream_calls(mock) == 1


# ------------------------------------------------------------- never cached


@pytest.mark.parametrize("client", CLIENTS)
async def test_non_deterministic_requests_are_never_cached(
    gw: Harness, mock: MockUpstream, client: str
) -> None:
    for temperature in (0.7, None, 0.7):
        answer = await ask(gw, client, False, temperature=temperature)
        assert answer.text == ANSWER and answer.cache is None
    assert upstream_calls(mock) == 3


async def test_a_seed_makes_a_request_cacheable(gw: Harness, mock: MockUpstream) -> None:
    oa = openai_sdk(gw)
    for expected in ("miss", "hit"):
        raw = await oa.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}], seed=7, temperature=1
        )
        assert raw.headers.get("x-omniroute-cache") == expected
    assert upstream_calls(mock) == 1


TOOL = {
    "type": "function",
    "function": {
        "name": "send_email",
        "parameters": {"type": "object", "properties": {"to": {"type": "string"}}},
    },
}


async def test_tools_are_cached_only_when_allowed(gw: Harness, mock: MockUpstream) -> None:
    oa = openai_sdk(gw)

    async def with_tools() -> str | None:
        raw = await oa.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": QUESTION}],
            temperature=0,
            tools=[TOOL],  # type: ignore[list-item]
        )
        return raw.headers.get("x-omniroute-cache")

    assert [await with_tools(), await with_tools()] == [None, None]
    assert upstream_calls(mock) == 2
    await gw.config.change_settings({"cache.tools": "on"})
    await gw.reload()
    assert [await with_tools(), await with_tools()] == ["miss", "hit"]
    assert upstream_calls(mock) == 3


@pytest.mark.parametrize(
    "headers", [{"Cache-Control": "no-cache"}, {"X-OmniRoute-No-Cache": "1"}], ids=["cc", "own"]
)
async def test_the_bypass_headers_go_to_the_upstream(
    gw: Harness, mock: MockUpstream, headers: dict[str, str]
) -> None:
    await ask(gw, "openai", False)
    bypassed = await ask(gw, "anthropic", True, headers=headers)
    assert (bypassed.text, bypassed.cache) == (ANSWER, "miss")
    assert upstream_calls(mock) == 2
    # The fresh answer took the entry's place: the next plain request hits.
    assert (await ask(gw, "openai", False)).cache == "hit"
    assert upstream_calls(mock) == 2


async def test_each_client_key_has_its_own_entries(gw: Harness, mock: MockUpstream) -> None:
    _, other = await gw.gateway.store.create_client_key("other")
    await gw.reload()
    await ask(gw, "openai", False)
    assert (await ask(gw, "openai", False, key=other)).cache == "miss"
    assert (await ask(gw, "openai", False, key=other)).cache == "hit"
    assert upstream_calls(mock) == 2


# ------------------------------------------------------------- time, size, restarts


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_an_entry_expires_after_its_ttl(tmp_path: Path, mock: MockUpstream) -> None:
    clock = Clock()
    async with running_gateway(tmp_path, clock=clock) as gw:
        await setup(gw, mock, ttl=60)
        assert (await ask(gw, "openai", False)).cache == "miss"
        clock.now += 59
        assert (await ask(gw, "openai", False)).cache == "hit"
        clock.now += 2
        assert (await ask(gw, "openai", False)).cache == "miss"
        assert upstream_calls(mock) == 2


async def test_the_byte_cap_drops_the_least_recently_used(
    tmp_path: Path, mock: MockUpstream
) -> None:
    async with running_gateway(tmp_path) as gw:
        await setup(gw, mock)
        await ask(gw, "openai", False)
        size = gw.gateway.pipeline.cache.stats()["bytes"]
        assert isinstance(size, int) and size > 0
        # Room for two answers of this size, not three.
        await gw.config.change_settings({"cache.max-bytes": size * 2 + size // 2})
        await gw.reload()
        await ask(gw, "openai", False, model="up/m1-b")
        await ask(gw, "openai", False)  # the first is now the most recently used
        await ask(gw, "openai", False, model="up/m1-c")  # pushes out m1-b
        stats = gw.gateway.pipeline.cache.stats()
        assert stats["entries"] == 2 and stats["bytes"] <= size * 2 + size // 2
        calls = upstream_calls(mock)
        assert (await ask(gw, "openai", False)).cache == "hit"
        assert (await ask(gw, "openai", False, model="up/m1-c")).cache == "hit"
        assert (await ask(gw, "openai", False, model="up/m1-b")).cache == "miss"
        assert upstream_calls(mock) == calls + 1


async def test_entries_survive_a_restart(tmp_path: Path, mock: MockUpstream) -> None:
    async with running_gateway(tmp_path) as gw:
        await setup(gw, mock)
        key = gw.client_key
        assert (await ask(gw, "anthropic", False)).cache == "miss"
    async with running_gateway(tmp_path) as gw:
        again = await ask(gw, "gemini", True, key=key)
        assert again.text == ANSWER
        assert gw.gateway.pipeline.cache.stats()["hits"] == 1
    assert upstream_calls(mock) == 1


# ------------------------------------------------------------- combos


async def test_combos_turn_the_cache_on_or_off(gw: Harness, mock: MockUpstream) -> None:
    from omniroute.store import ComboTargetRecord

    for name in ("cached", "fresh"):
        await gw.config.upsert_combo(name, [ComboTargetRecord(MODEL, 1)])
    await gw.config.change_settings(
        {"cache.enabled": "off", "cache.combos": ["cached"], "cache.skip-combos": ["fresh"]}
    )
    await gw.reload()
    assert [(await ask(gw, "openai", False, model="cached")).cache for _ in range(2)] == [
        "miss",
        "hit",
    ]
    assert (await ask(gw, "openai", False)).cache is None  # global switch off
    await gw.config.change_settings({"cache.enabled": "on"})
    await gw.reload()
    assert [(await ask(gw, "openai", False, model="fresh")).cache for _ in range(2)] == [
        None,
        None,
    ]
    assert upstream_calls(mock) == 4


# ------------------------------------------------------------- what it reports


async def test_health_the_request_log_and_saved_cost(gw: Harness, mock: MockUpstream) -> None:
    await gw.config.set_price(MODEL, PRICE)
    await gw.reload()
    oa = openai_sdk(gw)
    costs = []
    for _ in range(3):
        raw = await oa.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}], temperature=0
        )
        costs.append(raw.headers.get("x-omniroute-cost"))
    first_cost = (USAGE.input * PRICE["input"] + USAGE.output * PRICE["output"]) / 1e6
    assert costs[0] is not None and float(costs[0]) == pytest.approx(first_cost)
    assert costs[1:] == ["0", "0"]  # a hit paid no upstream
    token = {"authorization": f"Bearer {gw.gateway.admin.token}"}
    async with httpx.AsyncClient(base_url=gw.admin_url, headers=token) as http:
        health = (await http.get("/api/health")).json()
    cache = health["cache"]
    assert (cache["hits"], cache["misses"], cache["entries"]) == (2, 1, 1)
    assert cache["hit_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert cache["saved_cost"] == pytest.approx(2 * first_cost)
    assert cache["bytes"] > 0 and cache["enabled"] is True
    store = gw.gateway.store
    await store.flush_logs()
    rows = [f.row for f in await store.find_requests(RequestFilter(limit=10))]
    assert [r.provider for r in rows] == ["cache", "cache", "up"]
    assert [r.cost for r in rows][:2] == [0.0, 0.0]
    assert rows[2].cost == pytest.approx(first_cost)


async def test_the_cli_shows_the_numbers_and_clears_a_running_gateway(
    gw: Harness, mock: MockUpstream
) -> None:
    data = gw.settings.data_dir
    await ask(gw, "openai", False)
    await ask(gw, "openai", False)
    # In a thread: the gateway in this event loop must answer the command.
    shown = (await asyncio.to_thread(run_cli, "cache", "stats", data_dir=data)).stdout
    assert "entries: 1" in shown and "hits: 1  misses: 1" in shown and "50.0%" in shown
    cleared = (await asyncio.to_thread(run_cli, "cache", "clear", data_dir=data)).stdout
    assert "1 stored answer(s) removed" in cleared
    await gw.reload()  # what the watcher does within a second
    for _ in range(50):  # the generation is read in the background
        if gw.gateway.pipeline.cache.stats()["entries"] == 0:
            break
        await asyncio.sleep(0.02)
    assert (await ask(gw, "openai", False)).cache == "miss"
    assert upstream_calls(mock) == 2


async def test_cli_stats_without_a_gateway_reads_the_database(
    tmp_path: Path, mock: MockUpstream
) -> None:
    async with running_gateway(tmp_path) as gw:
        await setup(gw, mock)
        await ask(gw, "openai", False)
        data = gw.settings.data_dir
    shown = run_cli("cache", "stats", data_dir=data).stdout
    assert "no gateway is running" in shown and "entries: 1" in shown
    assert "1 stored answer(s) removed" in run_cli("cache", "clear", data_dir=data).stdout
    assert "entries: 0" in run_cli("cache", "stats", data_dir=data).stdout


async def test_sdk_errors_are_not_cached(gw: Harness, mock: MockUpstream) -> None:
    from tests.support.mock_upstream import Status

    mock.enqueue("POST", PATH, Status(400, b'{"error": {"message": "bad", "type": "invalid"}}'))
    with pytest.raises(openai.BadRequestError):
        await ask(gw, "openai", False)
    assert (await ask(gw, "openai", False)).cache == "miss"
    assert (await ask(gw, "openai", False)).cache == "hit"
