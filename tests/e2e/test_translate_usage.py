"""Usage: each client sees the upstream's token counts in its own
fields, and still gets numbers (estimated) when the upstream sends none.

Field meanings, per API reference: OpenAI ``prompt_tokens`` include cached
ones and ``completion_tokens`` include reasoning; Responses likewise with
``input_tokens``/``output_tokens``; Anthropic's ``input_tokens`` exclude
cache reads (``cache_read_input_tokens``); Gemini's ``candidatesTokenCount``
excludes ``thoughtsTokenCount``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import CLIENTS, FORMATS, Ask, Env, ask, upstream_reply
from tests.support.mock_upstream import Usage

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

USAGE = Usage(input=120, output=45, cached=30, reasoning=10)
# Anthropic's usage has no separate reasoning count.
HAS_REASONING = {"openai", "openai-responses", "gemini"}
MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _dig(usage: dict[str, Any], *path: str) -> Any:
    value: Any = usage
    for key in path:
        value = (value or {}).get(key)
    return value


def _expected(client: str, fmt: str) -> dict[tuple[str, ...], int]:
    reasoning = USAGE.reasoning if fmt in HAS_REASONING else None
    if client == "openai":
        out = {
            ("prompt_tokens",): 120,
            ("completion_tokens",): 45,
            ("total_tokens",): 165,
            ("prompt_tokens_details", "cached_tokens"): 30,
        }
        if reasoning:
            out[("completion_tokens_details", "reasoning_tokens")] = reasoning
    elif client == "responses":
        out = {
            ("input_tokens",): 120,
            ("output_tokens",): 45,
            ("total_tokens",): 165,
            ("input_tokens_details", "cached_tokens"): 30,
        }
        if reasoning:
            out[("output_tokens_details", "reasoning_tokens")] = reasoning
    elif client == "anthropic":
        out = {("input_tokens",): 90, ("cache_read_input_tokens",): 30, ("output_tokens",): 45}
    else:
        out = {
            ("prompt_token_count",): 120,
            ("total_token_count",): 165,
            ("cached_content_token_count",): 30,
        }
        if reasoning:
            out[("thoughts_token_count",)] = reasoning
            out[("candidates_token_count",)] = 45 - reasoning
        else:
            out[("candidates_token_count",)] = 45
    return out


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_client_sees_upstream_token_counts(
    env: Env, client: str, fmt: str, stream: bool
) -> None:
    up = env.upstreams[fmt]
    env.serve(up, stream, upstream_reply(up, stream, usage=USAGE))
    out = await ask(env, client, up.model_string, stream, Ask())
    got = {path: _dig(out.usage, *path) for path in _expected(client, fmt)}
    assert got == _expected(client, fmt)


# The fields that must be positive when the gateway had to estimate.
ESTIMATED = {
    "openai": (("prompt_tokens",), ("completion_tokens",)),
    "responses": (("input_tokens",), ("output_tokens",)),
    "anthropic": (("input_tokens",), ("output_tokens",)),
    "gemini": (("prompt_token_count",), ("candidates_token_count",)),
}


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("fmt", ["openai", "openai-responses", "gemini"])
@pytest.mark.parametrize("client", CLIENTS)
async def test_usage_is_estimated_when_upstream_sends_none(
    env: Env, client: str, fmt: str, stream: bool
) -> None:
    up = env.upstreams[fmt]
    env.serve(up, stream, upstream_reply(up, stream, with_usage=False))
    out = await ask(env, client, up.model_string, stream, Ask())
    for path in ESTIMATED[client]:
        value = _dig(out.usage, *path)
        assert isinstance(value, int) and value > 0, f"{'.'.join(path)} = {value!r}"
