"""Routing through the real gateway: strategies, idempotency, model
resolution, system prompts and the headers that tell what served a request
.

Each upstream provider is served by one loopback mock under its own path
prefix (``/<name>/...``), so where a request went is read from the mock's
log, not from the gateway's own account of it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from omniroute.store.records import ComboTargetRecord
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Sse,
    Status,
    anthropic_json,
    gemini_json,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as harness:
        yield harness


# ------------------------------------------------------------------- helpers


def upstream_key(name: str, n: int = 0) -> str:
    return f"sk-{name}-upstream-{n}-0123456789"


def answer_of(name: str) -> Callable[[RecordedRequest], Reply]:
    """An OpenAI answer naming the provider, JSON or SSE as asked."""

    def reply(req: RecordedRequest) -> Reply:
        body = req.json()
        if body.get("stream") is True:
            return Sse(openai_chat_sse([f"from {name}"], body.get("model", "m")))
        return Json(openai_chat_json(f"from {name}", body.get("model", "m")))

    return reply


async def add_openai(
    gw: Harness,
    mock: MockUpstream,
    name: str,
    models: Sequence[str] = ("m",),
    reply: Callable[[RecordedRequest], Reply] | Reply | None = None,
) -> None:
    await gw.add_provider(name, "openai", f"{mock.url}/{name}/v1", upstream_key(name), list(models))
    mock.route("POST", f"/{name}/v1/chat/completions", reply or answer_of(name))


async def combo(
    gw: Harness,
    name: str,
    refs: Sequence[str | tuple[str, int]],
    strategy: str = "fill-first",
    system_prompt: str | None = None,
) -> None:
    targets = [
        ComboTargetRecord(r, 1, True) if isinstance(r, str) else ComboTargetRecord(r[0], r[1], True)
        for r in refs
    ]
    await gw.config.upsert_combo(
        name, targets, strategy=strategy, system_prompt=system_prompt, enabled=True
    )
    await gw.reload()


async def chat(
    gw: Harness,
    model: str,
    *,
    stream: bool = False,
    headers: dict[str, str] | None = None,
    content: str = "hi",
    system: str | None = None,
) -> httpx.Response:
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if stream:
        body["stream"] = True
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        return await http.post(
            "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {gw.client_key}", **(headers or {})},
        )


async def many(
    gw: Harness, model: str, count: int, concurrency: int = 8, stream: bool = False
) -> list[httpx.Response]:
    """``count`` requests, at most ``concurrency`` at a time, on one client."""
    gate = asyncio.Semaphore(concurrency)
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=30, limits=limits) as http:

        async def one() -> httpx.Response:
            async with gate:
                return await http.post(
                    "/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {gw.client_key}"},
                )

        responses = await asyncio.gather(*(one() for _ in range(count)))
    failed = [r for r in responses if r.status_code != 200]
    assert not failed, f"{len(failed)} of {count} failed, e.g. {failed[0].text}"
    return list(responses)


def served_by(mock: MockUpstream) -> Counter[str]:
    """How many requests each provider prefix received."""
    return Counter(r.path.split("/")[1] for r in mock.requests)


def text_of(resp: httpx.Response) -> str:
    if resp.headers["content-type"].startswith("text/event-stream"):
        out = ""
        for line in resp.text.splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                chunk = json.loads(line[5:])
                for choice in chunk.get("choices") or []:
                    out += choice["delta"].get("content") or ""
        return out
    return str(resp.json()["choices"][0]["message"]["content"])


# --------------------------------------------------------------- strategies


async def test_round_robin_is_exact(gw: Harness, mock: MockUpstream) -> None:
    for name in ("r1", "r2", "r3"):
        await add_openai(gw, mock, name)
    await combo(gw, "rr", ["r1/m", "r2/m", "r3/m"], strategy="round-robin")
    responses = await many(gw, "rr", 300)
    assert served_by(mock) == {"r1": 100, "r2": 100, "r3": 100}
    steps = Counter(r.headers["x-omniroute-combo-step"] for r in responses)
    assert steps == {"0": 100, "1": 100, "2": 100}
    assert {r.headers["x-omniroute-combo"] for r in responses} == {"rr"}


async def test_weighted_follows_the_weights(gw: Harness, mock: MockUpstream) -> None:
    for name in ("heavy", "light"):
        await add_openai(gw, mock, name)
    await combo(gw, "w", [("heavy/m", 3), ("light/m", 1)], strategy="weighted")
    await many(gw, "w", 400)
    counts = served_by(mock)
    assert counts["heavy"] + counts["light"] == 400
    # Expected share 0.75; 400 draws put it within +-0.09 (over 4 sigma).
    assert 0.66 <= counts["heavy"] / 400 <= 0.84, counts


async def test_fill_first_keeps_to_the_first_until_it_fails(
    gw: Harness, mock: MockUpstream
) -> None:
    await add_openai(gw, mock, "f1")
    await add_openai(gw, mock, "f2")
    await combo(gw, "ff", ["f1/m", "f2/m"], strategy="fill-first")
    await many(gw, "ff", 20)
    assert served_by(mock) == {"f1": 20}
    mock.route("POST", "/f1/v1/chat/completions", Status(500, b"{}"))
    resp = await chat(gw, "ff")
    assert text_of(resp) == "from f2"
    assert resp.headers["x-omniroute-combo-step"] == "1"


async def test_least_used_spreads_by_use(gw: Harness, mock: MockUpstream) -> None:
    for name in ("l1", "l2", "l3"):
        await add_openai(gw, mock, name)
    await combo(gw, "lu", ["l1/m", "l2/m", "l3/m"], strategy="least-used")
    for _ in range(30):  # one at a time: nothing in flight, so totals decide
        assert (await chat(gw, "lu")).status_code == 200
    assert served_by(mock) == {"l1": 10, "l2": 10, "l3": 10}


async def test_least_used_avoids_a_busy_target(gw: Harness, mock: MockUpstream) -> None:
    # l1 holds a long stream; while it is open, new requests go elsewhere.
    slow = Sse(openai_chat_sse(["a", "b", "c", "d"], "m"), delay=0.4)

    def l1_reply(req: RecordedRequest) -> Reply:
        return slow if req.json().get("stream") else answer_of("l1")(req)

    await add_openai(gw, mock, "l1", reply=l1_reply)
    await add_openai(gw, mock, "l2")
    await combo(gw, "lu", ["l1/m", "l2/m"], strategy="least-used")
    held = asyncio.ensure_future(chat(gw, "lu", stream=True))
    for _ in range(200):  # until l1 has the request and has started answering
        if mock.requests:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    for _ in range(3):
        assert text_of(await chat(gw, "lu")) == "from l2"
    assert text_of(await held) == "abcd"
    assert served_by(mock) == {"l1": 1, "l2": 3}


async def test_p2c_prefers_the_faster_target(gw: Harness, mock: MockUpstream) -> None:
    # The slow target is listed first, so a strategy that ignores health
    # (or reads it under the wrong key) keeps choosing it.
    slow = Sse(openai_chat_sse(["slow ", "answer"], "m"), delay=0.15)
    await add_openai(gw, mock, "slow", reply=slow)
    await add_openai(gw, mock, "fast")
    await combo(gw, "pc", ["slow/m", "fast/m"], strategy="p2c")
    for _ in range(8):
        await many(gw, "pc", 8, concurrency=8, stream=True)
    counts = served_by(mock)
    assert counts["slow"] + counts["fast"] == 64
    assert counts["fast"] >= 0.7 * 64, counts


async def test_p2c_prefers_the_healthy_target(gw: Harness, mock: MockUpstream) -> None:
    # A high breaker threshold keeps the sick target in play: only the
    # strategy's health score can steer traffic away from it.
    await gw.config.set_setting(
        "breaker", {"failure_threshold": 1000, "window": 60, "cooldown": 30}
    )
    await add_openai(gw, mock, "sick", reply=Status(500, b"{}"))
    await add_openai(gw, mock, "well")
    await combo(gw, "ph", ["sick/m", "well/m"], strategy="p2c")
    first_try = 0
    for _ in range(40):
        resp = await chat(gw, "ph")
        assert text_of(resp) == "from well"
        first_try += resp.headers["x-omniroute-attempts"] == "1"
    assert first_try >= 30, f"only {first_try} of 40 went to the healthy target first"


async def test_cost_optimized_uses_catalog_prices(gw: Harness, mock: MockUpstream) -> None:
    # A provider bound to the built-in "openai" catalog entry takes its list
    # prices: gpt-5-nano < gpt-5-mini < gpt-5 (USD per 1M tokens).
    await add_openai(gw, mock, "openai", models=("gpt-5", "gpt-5-mini", "gpt-5-nano"))
    await gw.config.update_provider("openai", extra={"catalog": "openai"})
    await combo(
        gw,
        "thrifty",
        ["openai/gpt-5", "openai/gpt-5-mini", "openai/gpt-5-nano"],
        strategy="cost-optimized",
    )
    for _ in range(5):
        resp = await chat(gw, "thrifty")
        assert resp.headers["x-omniroute-model"] == "gpt-5-nano"
        assert resp.headers["x-omniroute-combo-step"] == "2"
    assert [r.json()["model"] for r in mock.requests] == ["gpt-5-nano"] * 5

    def nano_down(req: RecordedRequest) -> Reply:
        if req.json()["model"] == "gpt-5-nano":
            return Status(503, b"overloaded")
        return answer_of("openai")(req)

    mock.route("POST", "/openai/v1/chat/completions", nano_down)
    resp = await chat(gw, "thrifty")
    assert resp.headers["x-omniroute-model"] == "gpt-5-mini"  # the next cheapest
    assert [r.json()["model"] for r in mock.requests[-2:]] == ["gpt-5-nano", "gpt-5-mini"]


async def test_account_round_robin_and_sticky_and_pinned(gw: Harness, mock: MockUpstream) -> None:
    keys = [upstream_key("acct", n) for n in range(3)]
    for key in keys:
        await gw.add_provider("acct", "openai", f"{mock.url}/acct/v1", key, ["m"])
    mock.route("POST", "/acct/v1/chat/completions", answer_of("acct"))
    await gw.config.set_setting("account_strategy", "round-robin")
    await gw.reload()
    await many(gw, "acct/m", 30)
    used = Counter(r.headers["authorization"] for r in mock.requests)
    assert used == {f"Bearer {k}": 10 for k in keys}
    # A session sticks to the account that served it first.
    first = await chat(gw, "acct/m", headers={"x-session-id": "session-1"})
    account = first.headers["x-omniroute-account"]
    for _ in range(5):
        again = await chat(gw, "acct/m", headers={"x-session-id": "session-1"})
        assert again.headers["x-omniroute-account"] == account
    # A pinned account serves every request.
    ids = [a.id for a in gw.gateway.registry().provider("acct").accounts]
    for _ in range(4):
        pinned = await chat(gw, "acct/m", headers={"x-omniroute-pin-account": str(ids[2])})
        assert pinned.headers["x-omniroute-account"] == str(ids[2])
    assert mock.requests[-1].headers["authorization"] == f"Bearer {keys[2]}"


# -------------------------------------------------------------- idempotency


async def test_idempotent_json_requests_share_one_upstream_call(
    gw: Harness, mock: MockUpstream
) -> None:
    await add_openai(gw, mock, "idem")
    key = {"idempotency-key": "order-42"}
    one, two = await asyncio.gather(
        chat(gw, "idem/m", headers=key), chat(gw, "idem/m", headers=key)
    )
    assert one.status_code == two.status_code == 200
    assert one.content == two.content
    assert len(mock.requests) == 1
    # Another key, or another body under the same key, is another call.
    await chat(gw, "idem/m", headers={"idempotency-key": "order-43"})
    await chat(gw, "idem/m", headers=key, content="something else")
    assert len(mock.requests) == 3


async def test_idempotent_streams_share_one_upstream_call(gw: Harness, mock: MockUpstream) -> None:
    events = openai_chat_sse(["one ", "two ", "three"], "m")
    await add_openai(gw, mock, "idem", reply=Sse(events, delay=0.05))
    key = {"idempotency-key": "stream-7"}
    one, two = await asyncio.gather(
        chat(gw, "idem/m", stream=True, headers=key), chat(gw, "idem/m", stream=True, headers=key)
    )
    assert text_of(one) == "one two three"
    assert one.content == two.content
    assert one.content.count(b"[DONE]") == 1
    assert len(mock.requests) == 1
    # Within the window a late duplicate replays the same bytes.
    late = await chat(gw, "idem/m", stream=True, headers=key)
    assert late.content == one.content
    assert len(mock.requests) == 1


# --------------------------------------------------------- model resolution


async def test_wildcard_alias_routes_to_a_combo(gw: Harness, mock: MockUpstream) -> None:
    await add_openai(gw, mock, "team1")
    await combo(gw, "team", ["team1/m"])
    await gw.gateway.store.add_alias("claude-*", "team")
    await gw.reload()
    for model in ("claude-opus-4-6", "claude-sonnet-4-5-20250929", "CLAUDE-haiku"):
        resp = await chat(gw, model)
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-omniroute-combo"] == "team"
        assert text_of(resp) == "from team1"
    assert [r.json()["model"] for r in mock.requests] == ["m"] * 3
    # Claude Code's own request shape reaches the combo the same way.
    ant = gw.track(
        anthropic.AsyncAnthropic(
            base_url=gw.base_url, api_key=gw.client_key, max_retries=0, timeout=15
        )
    )
    msg = await ant.messages.create(
        model="claude-opus-4-6",
        max_tokens=32,
        messages=[{"role": "user", "content": "hi"}],
    )
    assert [b.text for b in msg.content if b.type == "text"] == ["from team1"]


async def _three_families(gw: Harness, mock: MockUpstream) -> None:
    await gw.add_provider(
        "ant",
        "anthropic",
        f"{mock.url}/ant/v1",
        upstream_key("ant"),
        ["claude-sonnet-4-5-20250929", "claude-haiku-4-5"],
    )
    await add_openai(gw, mock, "oai", models=("gpt-5", "gpt-5-mini"))
    await gw.add_provider(
        "gem",
        "gemini",
        f"{mock.url}/gem/v1beta",
        upstream_key("gem"),
        ["gemini-2.5-pro", "gemini-2.5-flash"],
    )
    mock.route(
        "POST",
        "/ant/v1/messages",
        lambda req: Json(anthropic_json("from ant", req.json()["model"])),
    )
    mock.route(
        "POST",
        "/gem/v1beta/models/*",
        lambda req: Json(gemini_json("from gem", req.path.split("/")[-1])),
    )


def upstream_model(req: RecordedRequest) -> str:
    if req.path.startswith("/gem/"):
        return req.path.rsplit("/", 1)[-1].split(":")[0]
    return str(req.json()["model"])


@pytest.mark.parametrize(
    ("asked", "provider", "model"),
    [
        ("claude-sonnet-4-5", "ant", "claude-sonnet-4-5-20250929"),
        ("claude-sonnet-4-5-20250929", "ant", "claude-sonnet-4-5-20250929"),
        ("claude-3-5-haiku-20241022", "ant", "claude-haiku-4-5"),
        ("gpt-5-mini", "oai", "gpt-5-mini"),
        ("gpt-4o", "oai", "gpt-5"),
        ("gemini-1.5-flash", "gem", "gemini-2.5-flash"),
        ("gemini-3-pro-preview", "gem", "gemini-2.5-pro"),
    ],
)
async def test_bare_model_ids_resolve(
    gw: Harness, mock: MockUpstream, asked: str, provider: str, model: str
) -> None:
    await _three_families(gw, mock)
    resp = await chat(gw, asked)
    assert resp.status_code == 200, resp.text
    assert text_of(resp) == f"from {provider}"
    assert resp.headers["x-omniroute-provider"] == provider
    assert resp.headers["x-omniroute-model"] == model
    assert upstream_model(mock.requests[-1]) == model


async def test_unknown_model_is_404_in_each_dialect_with_close_matches(
    gw: Harness, mock: MockUpstream
) -> None:
    await add_openai(gw, mock, "cm")
    await combo(gw, "coding-team", ["cm/m"])
    headers = {
        "authorization": f"Bearer {gw.client_key}",
        "x-api-key": gw.client_key,
        "anthropic-version": "2023-06-01",
        "x-goog-api-key": gw.client_key,
    }
    ask = [{"role": "user", "content": "hi"}]
    async with httpx.AsyncClient(base_url=gw.base_url, headers=headers, timeout=10) as http:
        oai = await http.post(
            "/v1/chat/completions", json={"model": "coding-teem", "messages": ask}
        )
        ant = await http.post(
            "/v1/messages", json={"model": "coding-teem", "max_tokens": 8, "messages": ask}
        )
        gem = await http.post(
            "/v1beta/models/coding-teem:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        )
    assert oai.status_code == ant.status_code == gem.status_code == 404
    assert "coding-team" in oai.json()["error"]["message"]
    assert ant.json()["type"] == "error"
    assert ant.json()["error"]["type"] == "not_found_error"
    assert "coding-team" in ant.json()["error"]["message"]
    assert gem.json()["error"]["code"] == 404
    assert gem.json()["error"]["status"] == "NOT_FOUND"
    assert "coding-team" in gem.json()["error"]["message"]
    assert mock.requests == []


async def test_models_list_puts_combos_first(gw: Harness, mock: MockUpstream) -> None:
    await add_openai(gw, mock, "lister", models=("b-model", "a-model"))
    await combo(gw, "zeta", ["lister/a-model"])
    await combo(gw, "alpha", ["lister/b-model"])
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http:
        listing = await http.get("/v1/models", headers={"authorization": f"Bearer {gw.client_key}"})
    ids = [m["id"] for m in listing.json()["data"]]
    assert ids[:2] == ["alpha", "zeta"]
    assert set(ids[2:]) == {"lister/a-model", "lister/b-model"}


# ------------------------------------------------------------ system prompts

GLOBAL = "GLOBAL RULES: answer in English."
COMBO = "COMBO RULES: be brief."
CLIENT = "client rules: you are a helper."


def _texts(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_texts(v) for v in value)
    if isinstance(value, dict):
        return _texts(value.get("text") or value.get("parts") or value.get("content") or "")
    return ""


def system_text(req: RecordedRequest) -> str:
    """The system text an upstream received, in its own format."""
    body = req.json()
    if req.path.startswith("/gem/"):
        return _texts(body.get("systemInstruction") or body.get("system_instruction"))
    if req.path.startswith("/ant/"):
        return _texts(body.get("system"))
    return "\n".join(
        _texts(m["content"]) for m in body["messages"] if m["role"] in ("system", "developer")
    )


def assert_in_order(text: str, *parts: str) -> None:
    positions = [text.find(p) for p in parts]
    assert all(p >= 0 for p in positions), (text, parts)
    assert positions == sorted(positions), (text, parts)


async def test_global_and_combo_system_prompts_reach_every_format(
    gw: Harness, mock: MockUpstream
) -> None:
    await _three_families(gw, mock)
    await gw.config.set_setting("system_prompt", GLOBAL)
    for ref in ("oai/gpt-5", "ant/claude-haiku-4-5", "gem/gemini-2.5-flash"):
        await combo(gw, "sp-" + ref.split("/")[0], [ref], system_prompt=COMBO)
    for name in ("oai", "ant", "gem"):
        resp = await chat(gw, "sp-" + name, system=CLIENT)
        assert resp.status_code == 200, resp.text
        sent = mock.requests[-1]
        assert sent.path.startswith(f"/{name}/")
        assert_in_order(system_text(sent), GLOBAL, COMBO, CLIENT)
    # Without a combo only the global prompt is added; a client without a
    # system message still gets it.
    await chat(gw, "oai/gpt-5")
    alone = system_text(mock.requests[-1])
    assert GLOBAL in alone and COMBO not in alone
    last = mock.requests[-1].json()["messages"][-1]
    assert last["role"] == "user" and _texts(last["content"]) == "hi"
