"""Client keys with a scope, through the real server and the official SDKs:
models, providers and combos a key may use, expiry, revocation, its own
rate and concurrency limits, what the model listings show it, and the usage
counted for it.

Two providers answer from the mock: ``oa`` (OpenAI format) and ``an``
(Anthropic format), each serving models ``m`` and ``n``; the combo ``both``
tries ``an/m`` first, then ``oa/m``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as gerrors

from omniroute.config.keys import KeyEditor
from omniroute.store.records import ComboTargetRecord
from tests.e2e.sdk_helpers import (
    ANSWER,
    add_providers,
    anthropic_sdk,
    chat,
    gemini_sdk,
    generate,
    message,
    openai_sdk,
    served_by,
)
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, Sse, openai_chat_json, openai_chat_sse

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


class Env:
    def __init__(self, gw: Harness, mock: MockUpstream) -> None:
        self.gw = gw
        self.mock = mock

    async def key(self, **fields: Any) -> str:
        """A new client key with this scope, in force at once."""
        _, plaintext = await KeyEditor(self.gw.gateway.store).create(
            fields, actor="cli", address=None
        )
        await self.gw.reload()
        return plaintext

    async def key_with_id(self, **fields: Any) -> tuple[int, str]:
        record, plaintext = await KeyEditor(self.gw.gateway.store).create(
            fields, actor="cli", address=None
        )
        await self.gw.reload()
        return record.id, plaintext


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        await add_providers(gw, mock, ["oa"])
        await add_providers(gw, mock, ["an"], fmt="anthropic")
        await gw.config.upsert_combo("both", [ComboTargetRecord("an/m"), ComboTargetRecord("oa/m")])
        await gw.reload()
        yield Env(gw, mock)


async def test_a_key_limited_to_models_is_refused_others_in_every_dialect(env: Env) -> None:
    key = await env.key(models=["oa/*"])
    gw = env.gw
    assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
    assert await chat(openai_sdk(gw, key), "oa/n") == ANSWER
    with pytest.raises(openai.PermissionDeniedError) as oa:
        await chat(openai_sdk(gw, key), "an/m")
    assert "may not use model 'an/m'" in oa.value.response.json()["error"]["message"]
    with pytest.raises(anthropic.PermissionDeniedError):
        await message(anthropic_sdk(gw, key), "an/m")
    with pytest.raises(gerrors.ClientError) as ge:
        await generate(gemini_sdk(gw, key), "an/m")
    assert ge.value.code == 403
    assert served_by(env.mock) == ["oa", "oa"]  # nothing refused reached an upstream
    # Patterns match the configured provider name, case aside, and exact ids.
    exact = await env.key(models=["AN/M"])
    assert await message(anthropic_sdk(gw, exact), "an/m") == ANSWER
    with pytest.raises(anthropic.PermissionDeniedError):
        await message(anthropic_sdk(gw, exact), "an/n")


async def test_a_key_limited_to_providers_skips_other_targets_of_a_combo(env: Env) -> None:
    key = await env.key(providers=["oa"])
    gw = env.gw
    # The combo's first target is on 'an': skipped, not tried, not an error.
    assert await chat(openai_sdk(gw, key), "both") == ANSWER
    assert served_by(env.mock) == ["oa"]
    with pytest.raises(openai.PermissionDeniedError):
        await chat(openai_sdk(gw, key), "an/m")
    # Without a scope the combo starts with its first target as usual.
    assert await chat(openai_sdk(gw), "both") == ANSWER
    assert served_by(env.mock) == ["oa", "an"]


async def test_a_combo_granted_by_name_may_be_used_but_not_its_parts(env: Env) -> None:
    key = await env.key(models=["both"])
    gw = env.gw
    assert await message(anthropic_sdk(gw, key), "both") == ANSWER
    for model in ("oa/m", "an/m"):
        with pytest.raises(openai.PermissionDeniedError):
            await chat(openai_sdk(gw, key), model)
    # Both limits together: the combo by name, and only through 'oa'.
    narrow = await env.key(models=["both"], providers=["oa"])
    assert await chat(openai_sdk(gw, narrow), "both") == ANSWER
    assert served_by(env.mock) == ["an", "oa"]


async def test_model_listings_show_only_what_the_key_may_use(env: Env) -> None:
    gw = env.gw
    everything = {m.id for m in (await openai_sdk(gw).models.list()).data}
    assert everything == {"both", "an/m", "an/n", "oa/m", "oa/n"}
    on_oa = await env.key(providers=["oa"])
    assert {m.id for m in (await openai_sdk(gw, on_oa).models.list()).data} == {
        "both",
        "oa/m",
        "oa/n",
    }
    only_n = await env.key(models=["*/n"])
    assert {m.id for m in (await openai_sdk(gw, only_n).models.list()).data} == {"an/n", "oa/n"}
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        listed = await http.get("/v1beta/models", headers={"x-goog-api-key": only_n})
        assert {m["name"] for m in listed.json()["models"]} == {"models/an/n", "models/oa/n"}
        one = await http.get("/v1beta/models/oa/n", headers={"x-goog-api-key": only_n})
        assert one.status_code == 200
        other = await http.get("/v1beta/models/oa/m", headers={"x-goog-api-key": only_n})
        assert other.status_code == 403


async def test_expired_and_revoked_keys_get_401(env: Env) -> None:
    gw = env.gw
    editor = KeyEditor(gw.gateway.store)
    key_id, key = await env.key_with_id(expires="30d")
    assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
    await editor.update(key_id, {"expires_at": time.time() - 1}, actor="cli", address=None)
    await gw.reload()
    with pytest.raises(openai.AuthenticationError) as caught:
        await chat(openai_sdk(gw, key), "oa/m")
    assert "expired" in caught.value.response.json()["error"]["message"]
    with pytest.raises(anthropic.AuthenticationError):
        await message(anthropic_sdk(gw, key), "oa/m")
    await editor.update(key_id, {"expires": "never"}, actor="cli", address=None)
    await gw.reload()
    assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
    await editor.revoke(key_id, actor="cli", address=None)
    await gw.reload()
    with pytest.raises(openai.AuthenticationError):
        await chat(openai_sdk(gw, key), "oa/m")
    with pytest.raises(gerrors.ClientError) as ge:
        await generate(gemini_sdk(gw, key), "oa/m")
    assert ge.value.code == 401


async def test_a_key_over_its_rpm_gets_429_with_retry_after(env: Env) -> None:
    gw = env.gw
    key = await env.key(rpm=2)
    assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
    assert await message(anthropic_sdk(gw, key), "oa/m") == ANSWER
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(openai_sdk(gw, key), "oa/m")
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    with pytest.raises(anthropic.RateLimitError):
        await message(anthropic_sdk(gw, key), "oa/m")
    # Listing models is not a model call; another key has its own count.
    assert len((await openai_sdk(gw, key).models.list()).data) == 5
    assert await chat(openai_sdk(gw), "oa/m") == ANSWER
    assert len(env.mock.requests) == 3


async def test_a_key_over_its_concurrency_gets_429_until_a_stream_ends(env: Env) -> None:
    gw = env.gw
    key = await env.key(max_concurrent=1)
    # The first answer is a stream that stays open until its client goes.
    env.mock.enqueue(
        "POST", "/oa/v1/chat/completions", Sse(openai_chat_sse(["Hel", "lo"], "m"), end="hang")
    )
    env.mock.route("POST", "/oa/v1/chat/completions", Json(openai_chat_json(ANSWER, "m")))
    first = openai_sdk(gw, key)
    stream = await first.chat.completions.create(
        model="oa/m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    got = await anext(aiter(stream))
    assert got.choices[0].delta.content is not None or got.choices[0].delta.role == "assistant"
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(openai_sdk(gw, key), "oa/m")
    assert caught.value.response.headers["retry-after"] == "1"
    assert await chat(openai_sdk(gw), "oa/m") == ANSWER  # other keys are not held up
    await stream.close()  # the client leaves: the key's place is given back
    for _ in range(100):
        try:
            assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
            break
        except openai.RateLimitError:
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the key's place was never given back")


async def test_usage_is_counted_per_key(env: Env) -> None:
    gw = env.gw
    key_id, key = await env.key_with_id(models=["oa/*"])
    for _ in range(2):
        assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
    assert await message(anthropic_sdk(gw, key), "oa/n") == ANSWER
    with pytest.raises(openai.PermissionDeniedError):
        await chat(openai_sdk(gw, key), "an/m")
    await gw.gateway.store.flush_logs()
    (record,) = [k for k in await KeyEditor(gw.gateway.store).list() if k.id == key_id]
    # Refused requests count as requests; tokens come from the answers (12 in, 7 out each).
    assert record.requests == 4
    assert (record.input_tokens, record.output_tokens) == (36, 21)
    assert record.last_used_at is not None and record.last_used_at <= time.time()
    (other,) = [k for k in await KeyEditor(gw.gateway.store).list() if k.id != key_id]
    assert other.requests == 0 and other.last_used_at is None
