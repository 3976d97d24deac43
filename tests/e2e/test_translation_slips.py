"""Small things a strict client notices: the model an answer names, the
fields a Responses answer repeats, and fields a provider adds that strict
SDKs refuse (stripped even from answers passed through unchanged)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    Sse,
    gemini_json,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

GROQ_EXTRAS = {"x_groq": {"id": "req_01abc"}, "service_tier": "on_demand"}


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider(
            "gm", "gemini", mock.url + "/gm/v1beta", "sk-slips-gm-0123", ["g"]
        )
        await harness.add_provider("oa", "openai", mock.url + "/oa/v1", "sk-slips-oa-0123", ["o"])
        await harness.config.add_account(
            "groq",
            "sk-slips-groq-0123456789",
            provider=("openai", mock.url + "/gq/v1", ["llama"]),
            provider_extra={"catalog": "groq"},
        )
        await harness.reload()
        yield harness


def client(gw: Harness) -> openai.AsyncOpenAI:
    return gw.track(
        openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0)
    )


async def test_a_gemini_answer_without_model_version_names_the_model(
    gw: Harness, mock: MockUpstream
) -> None:
    body = gemini_json("Hi.", "g")
    body.pop("modelVersion", None)
    mock.route("POST", "/gm/v1beta/models/g:generateContent", Json(body))
    answer = await client(gw).chat.completions.create(
        model="gm/g", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.model == "g" and answer.choices[0].message.content == "Hi."


async def test_a_translated_responses_answer_repeats_the_instructions(
    gw: Harness, mock: MockUpstream
) -> None:
    mock.route("POST", "/oa/v1/chat/completions", Json(openai_chat_json("Hello.", "o")))
    answer = await client(gw).responses.create(
        model="oa/o", input="hi", instructions="Be brief.", temperature=0.2, max_output_tokens=50
    )
    assert answer.instructions == "Be brief."
    assert answer.temperature == 0.2 and answer.max_output_tokens == 50
    assert answer.output_text == "Hello."


async def test_fields_strict_sdks_refuse_are_stripped_from_passed_through_json(
    gw: Harness, mock: MockUpstream
) -> None:
    body = {**openai_chat_json("From Groq.", "llama"), **GROQ_EXTRAS}
    body["usage"]["usage_breakdown"] = {"models": None}
    mock.route("POST", "/gq/v1/chat/completions", Json(body))
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http:
        raw = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {gw.client_key}"},
            json={"model": "groq/llama", "messages": [{"role": "user", "content": "hi"}]},
        )
    answer = raw.json()
    assert answer["choices"][0]["message"]["content"] == "From Groq."
    assert "x_groq" not in answer and "service_tier" not in answer
    assert "usage_breakdown" not in answer["usage"] and answer["usage"]["prompt_tokens"] > 0


async def test_fields_strict_sdks_refuse_are_stripped_from_passed_through_streams(
    gw: Harness, mock: MockUpstream
) -> None:
    events = openai_chat_sse(["From ", "Groq."], "llama")
    patched = []
    for event in events:
        if isinstance(event, dict):
            event = {**event, **GROQ_EXTRAS}
        patched.append(event)
    mock.route("POST", "/gq/v1/chat/completions", Sse(patched))
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http:
        raw = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {gw.client_key}"},
            json={
                "model": "groq/llama",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    datas = [
        line[6:] for line in raw.text.splitlines() if line.startswith("data: ") and "{" in line
    ]
    chunks = [json.loads(d) for d in datas]
    assert chunks and all("x_groq" not in c and "service_tier" not in c for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "From Groq."
    assert raw.text.rstrip().endswith("data: [DONE]")
