"""Token counting endpoints: ``POST /v1/messages/count_tokens``
and Gemini ``:countTokens`` return numbers for every upstream format: the
upstream's own count where the Anthropic upstream has one, an estimate
otherwise (which must at least grow with the prompt)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import FORMATS, Env, content_text
from tests.support.mock_upstream import Json, RecordedRequest

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SHORT = "Hi."
LONG = "Tell me about the history of Paris in detail. " * 60


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def _anthropic_count(env: Env, model: str, text: str) -> int:
    result = await env.anthropic.messages.count_tokens(
        model=model, messages=[{"role": "user", "content": text}]
    )
    return result.input_tokens


async def _gemini_count(env: Env, model: str, text: str) -> int:
    result = await env.genai.aio.models.count_tokens(model=model, contents=text)
    assert result.total_tokens is not None
    return result.total_tokens


async def test_anthropic_count_uses_the_anthropic_upstreams_count(env: Env) -> None:
    up = env.upstreams["anthropic"]
    env.mock.route("POST", up.prefix + "/messages/count_tokens", Json({"input_tokens": 4242}))
    assert await _anthropic_count(env, up.model_string, SHORT) == 4242
    sent = env.last_request(up)
    assert sent.path == up.prefix + "/messages/count_tokens"
    assert sent.headers.get("x-api-key") == up.key
    body = sent.json()
    assert body["model"] == up.model
    (message,) = body["messages"]
    assert message["role"] == "user" and content_text(message["content"]) == SHORT


def _proportional_counts(env: Env) -> None:
    """Upstream count endpoints whose answer follows the prompt's size, for
    a gateway that asks the upstream instead of estimating."""

    def anthropic_count(req: RecordedRequest) -> Json:
        return Json({"input_tokens": max(1, len(req.body) // 4)})

    def gemini_count(req: RecordedRequest) -> Json:
        return Json({"totalTokens": max(1, len(req.body) // 4)})

    ant, gem = env.upstreams["anthropic"], env.upstreams["gemini"]
    env.mock.route("POST", ant.prefix + "/messages/count_tokens", anthropic_count)
    env.mock.route("POST", f"{gem.prefix}/models/{gem.model}:countTokens", gemini_count)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "anthropic"])
async def test_anthropic_count_estimates_for_other_upstreams(env: Env, fmt: str) -> None:
    _proportional_counts(env)
    up = env.upstreams[fmt]
    short = await _anthropic_count(env, up.model_string, SHORT)
    long = await _anthropic_count(env, up.model_string, LONG)
    assert 0 < short < long


@pytest.mark.parametrize("fmt", FORMATS)
async def test_gemini_count_tokens_returns_numbers(env: Env, fmt: str) -> None:
    _proportional_counts(env)
    up = env.upstreams[fmt]
    short = await _gemini_count(env, up.model_string, SHORT)
    long = await _gemini_count(env, up.model_string, LONG)
    assert 0 < short < long
