"""The official SDKs pointed at a test gateway, as one client machine: with
``address`` they send it as X-Forwarded-For (the gateway believes it once
``trusted-proxies`` names loopback, where every test connection comes
from)."""

from __future__ import annotations

from collections.abc import Sequence

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from tests.support.harness import Harness
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    anthropic_json,
    gemini_json,
    openai_chat_json,
)

PROMPT = "Say hello."
ANSWER = "Hello from the mock."


def forwarded(address: str | None) -> dict[str, str]:
    return {} if address is None else {"x-forwarded-for": address}


def openai_sdk(
    gw: Harness, key: str | None = None, address: str | None = None
) -> openai.AsyncOpenAI:
    return gw.track(
        openai.AsyncOpenAI(
            base_url=gw.base_url + "/v1",
            api_key=key or gw.client_key,
            max_retries=0,
            timeout=15,
            default_headers=forwarded(address),
        )
    )


def anthropic_sdk(
    gw: Harness, key: str | None = None, address: str | None = None
) -> anthropic.AsyncAnthropic:
    return gw.track(
        anthropic.AsyncAnthropic(
            base_url=gw.base_url,
            api_key=key or gw.client_key,
            max_retries=0,
            timeout=15,
            default_headers=forwarded(address),
        )
    )


def gemini_sdk(gw: Harness, key: str | None = None, address: str | None = None) -> genai.Client:
    client = genai.Client(
        api_key=key or gw.client_key,
        http_options=gtypes.HttpOptions(
            base_url=gw.base_url, api_version="v1beta", timeout=15_000, headers=forwarded(address)
        ),
    )
    gw.track(client.aio)
    return client


async def chat(client: openai.AsyncOpenAI, model: str, text: str = PROMPT) -> str:
    answer = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}]
    )
    return answer.choices[0].message.content or ""


async def message(client: anthropic.AsyncAnthropic, model: str, text: str = PROMPT) -> str:
    answer = await client.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": text}]
    )
    return "".join(block.text for block in answer.content if block.type == "text")


async def generate(client: genai.Client, model: str, text: str = PROMPT) -> str:
    answer = await client.aio.models.generate_content(model=model, contents=text)
    return answer.text or ""


async def add_providers(
    gw: Harness, mock: MockUpstream, names: Sequence[str] = ("oa",), fmt: str = "openai"
) -> None:
    """Providers served by the mock under ``/<name>/…``, each answering
    ``ANSWER`` (with usage) to model ``m``."""
    for name in names:
        base = f"{mock.url}/{name}/v1"
        await gw.add_provider(name, fmt, base, f"sk-{name}-upstream-key-0123456789", ["m", "n"])
        if fmt == "openai":
            mock.route("POST", f"/{name}/v1/chat/completions", Json(openai_chat_json(ANSWER, "m")))
        elif fmt == "anthropic":
            mock.route("POST", f"/{name}/v1/messages", Json(anthropic_json(ANSWER, "m")))
        else:
            mock.route(
                "POST", f"/{name}/v1/models/m:generateContent", Json(gemini_json(ANSWER, "m"))
            )


def served_by(mock: MockUpstream) -> list[str]:
    """The provider (path prefix) of each request the mock received, in order."""
    return [r.path.split("/")[1] for r in mock.requests]
