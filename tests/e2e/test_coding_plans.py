"""Coding plans and official keys from the catalog, added over the management
API with nothing but a key (and here the loopback mock as base URL). Each is
an ordinary API-key provider: both client dialects reach it, through
translation where the formats differ, with the credential and headers the
vendor expects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.manage_env import Env, manage_env
from tests.e2e.sdk_helpers import anthropic_sdk, chat, message, openai_sdk
from tests.support.mock_upstream import (
    Json,
    RecordedRequest,
    Sse,
    anthropic_json,
    anthropic_sse,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ZAI_KEY = "zai-coding-plan-key-0123456789abcdef"
MINIMAX_KEY = "sk-cp-minimax-plan-key-0123456789abcdef"
GITHUB_TOKEN = "github_pat_models-read-0123456789abcdef"
ZAI_CHAT = "/zai/api/coding/paas/v4/chat/completions"
MINIMAX_MESSAGES = "/mm/anthropic/v1/messages"
GITHUB_CHAT = "/gh/inference/chat/completions"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with manage_env(tmp_path) as e:
        yield e


def whole_or_stream(whole: dict[str, Any], events: list[Any]) -> Callable[[RecordedRequest], Any]:
    """A JSON answer, or the same answer as a stream when one was asked for."""
    return lambda req: Sse(events) if req.json().get("stream") else Json(whole)


def sent_to(env: Env, path: str) -> list[RecordedRequest]:
    return [r for r in env.mock.requests if r.path == path]


async def add_plan(env: Env, name: str, key: str, base_url: str) -> dict[str, Any]:
    added: dict[str, Any] = await env.ok(
        "POST", "/api/providers", 201, json={"name": name, "api_key": key, "base_url": base_url}
    )
    return added


async def test_two_plans_serve_openai_and_anthropic_clients(env: Env) -> None:
    env.mock.route(
        "POST",
        ZAI_CHAT,
        whole_or_stream(
            openai_chat_json("From GLM.", "glm-4.7"), openai_chat_sse(["From ", "GLM."], "glm-4.7")
        ),
    )
    env.mock.route(
        "POST",
        MINIMAX_MESSAGES,
        whole_or_stream(
            anthropic_json("From MiniMax.", "MiniMax-M2.7"),
            anthropic_sse(["From ", "MiniMax."], "MiniMax-M2.7"),
        ),
    )
    # By alias, with a key: format, models and the rest come from the catalog.
    zai = await add_plan(env, "zc", ZAI_KEY, env.mock.url + "/zai/api/coding/paas/v4")
    assert (zai["name"], zai["catalog"], zai["format"]) == ("zai-coding", "zai-coding", "openai")
    assert "glm-4.7" in zai["models"] and zai["models_from"] == "catalog"
    minimax = await add_plan(env, "mmc", MINIMAX_KEY, env.mock.url + "/mm/anthropic/v1")
    assert (minimax["name"], minimax["format"]) == ("minimax-coding", "anthropic")

    oa = openai_sdk(env.gw)
    ant = anthropic_sdk(env.gw)
    # Each client dialect to each plan: one of the two pairs is translated.
    assert await chat(oa, "zai-coding/glm-4.7") == "From GLM."
    assert await chat(oa, "minimax-coding/MiniMax-M2.7") == "From MiniMax."
    assert await message(ant, "zai-coding/glm-4.7") == "From GLM."
    assert await message(ant, "minimax-coding/MiniMax-M2.7") == "From MiniMax."
    # Streams too, across formats.
    stream = await oa.chat.completions.create(
        model="minimax-coding/MiniMax-M2.7",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
    )
    pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(pieces) == "From MiniMax."
    async with ant.messages.stream(
        model="zai-coding/glm-4.7", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as events:
        assert await events.get_final_text() == "From GLM."

    # What reached the plans: their own paths, models and credential scheme.
    to_zai = sent_to(env, ZAI_CHAT)
    to_minimax = sent_to(env, MINIMAX_MESSAGES)
    assert len(to_zai) == 3 and len(to_minimax) == 3
    assert {r.headers["authorization"] for r in to_zai} == {f"Bearer {ZAI_KEY}"}
    assert {r.json()["model"] for r in to_zai} == {"glm-4.7"}
    assert {r.headers["authorization"] for r in to_minimax} == {f"Bearer {MINIMAX_KEY}"}
    assert all(r.headers.get("anthropic-version") for r in to_minimax)
    assert {r.json()["model"] for r in to_minimax} == {"MiniMax-M2.7"}
    assert not any(k in body for body in env.seen for k in (ZAI_KEY, MINIMAX_KEY))


async def test_github_models_gets_its_api_version_header_and_the_token(env: Env) -> None:
    model = "openai/gpt-4.1"
    env.mock.route("POST", GITHUB_CHAT, Json(openai_chat_json("From GitHub Models.", model)))
    added = await add_plan(env, "ghm", GITHUB_TOKEN, env.mock.url + "/gh/inference")
    assert added["name"] == "github-models" and added["tier"] == "free"
    # A model id that carries its publisher keeps it upstream.
    assert await message(anthropic_sdk(env.gw), f"github-models/{model}") == "From GitHub Models."
    (sent,) = sent_to(env, GITHUB_CHAT)
    assert sent.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.json()["model"] == model


async def test_plans_and_their_quota_readers_in_the_catalog_api(env: Env) -> None:
    catalog = await env.ok("GET", "/api/catalog")
    by_id = {p["id"]: p for p in catalog["providers"]}
    quota = {
        pid: by_id[pid]["quota"] for pid in ("zai-coding", "kimi-for-coding", "minimax-coding")
    }
    assert quota == {"zai-coding": "zai", "kimi-for-coding": "kimi", "minimax-coding": "minimax"}
    assert by_id["github-models"]["quota"] == "github"
    assert by_id["alibaba-coding"]["quota"] is None
    for pid in ("kilo-api", "cline-api", "gemini-free"):
        assert by_id[pid]["auth"] == "api_key" and by_id[pid]["models"], pid
