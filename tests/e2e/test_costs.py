"""What a request cost: priced when its row is logged, from the usage each
upstream format reports (cached and reasoning tokens included once each),
at the price in force then; shown in the answer's headers and the request
log.

Usage fields per format (API references): OpenAI ``prompt_tokens`` include
``cached_tokens`` and ``completion_tokens`` include ``reasoning_tokens``;
Responses likewise; Anthropic reports cache reads apart from
``input_tokens`` and no reasoning count; Gemini's ``candidatesTokenCount``
leaves out ``thoughtsTokenCount``. The gateway normalises all of them to
"input including cached, output including reasoning".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from omniroute.store.request_log import RequestFilter
from tests.e2e.conftest import FORMATS, Env, Upstream, ask, upstream_reply
from tests.support.mock_upstream import Usage

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

USAGE = Usage(input=120, output=45, cached=30, reasoning=10)
PRICE = {"input": 2.0, "output": 10.0, "cached_input": 0.5, "reasoning": 20.0}
# 90 plain input, 30 cached, 35 plain output, 10 reasoning (USD per 1M tokens).
WITH_REASONING = (90 * 2.0 + 30 * 0.5 + 35 * 10.0 + 10 * 20.0) / 1e6
# Anthropic reports no reasoning count: all 45 output tokens at the output price.
WITHOUT_REASONING = (90 * 2.0 + 30 * 0.5 + 45 * 10.0) / 1e6
EXPECTED = {
    "openai": WITH_REASONING,
    "openai-responses": WITH_REASONING,
    "gemini": WITH_REASONING,
    "anthropic": WITHOUT_REASONING,
}
MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def priced(env: Env, up: Upstream, price: dict[str, float] | None = PRICE) -> None:
    if price is None:
        await env.gw.config.unset_price(up.model_string)
    else:
        await env.gw.config.set_price(up.model_string, price)
    await env.gw.reload()


async def last_row(env: Env) -> dict[str, Any]:
    store = env.gw.gateway.store
    await store.flush_logs()
    found = await store.find_requests(RequestFilter(limit=1))
    row = found[0].row
    return {
        "cost": row.cost,
        "estimated": row.usage_estimated,
        "tokens": (row.input_tokens, row.output_tokens, row.cached_tokens, row.reasoning_tokens),
        "id": found[0].id,
    }


async def post_chat(env: Env, model: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        return await http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {env.gw.client_key}"},
        )


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("fmt", FORMATS)
async def test_each_format_is_priced_from_its_usage_fields(
    env: Env, fmt: str, stream: bool
) -> None:
    up = env.upstreams[fmt]
    await priced(env, up)
    env.serve(up, stream, upstream_reply(up, stream, usage=USAGE))
    await ask(env, "openai", up.model_string, stream)
    row = await last_row(env)
    reasoning = 0 if fmt == "anthropic" else 10
    assert row["tokens"] == (120, 45, 30, reasoning)
    assert row["cost"] == pytest.approx(EXPECTED[fmt], rel=1e-9)
    assert row["estimated"] is False


@pytest.mark.parametrize("fmt", FORMATS)
async def test_json_answers_carry_cost_and_cache_headers(env: Env, fmt: str) -> None:
    up = env.upstreams[fmt]
    await priced(env, up)
    env.serve(up, False, upstream_reply(up, False, usage=USAGE))
    answer = await post_chat(env, up.model_string)
    assert answer.status_code == 200
    assert float(answer.headers["x-omniroute-cost"]) == pytest.approx(EXPECTED[fmt], abs=1e-8)
    assert answer.headers["x-omniroute-cache-hit"] == "true"
    env.serve(up, False, upstream_reply(up, False, usage=Usage(input=50, output=5)))
    answer = await post_chat(env, up.model_string)
    assert answer.headers["x-omniroute-cache-hit"] == "false"
    assert float(answer.headers["x-omniroute-cost"]) == pytest.approx(
        (50 * 2.0 + 5 * 10.0) / 1e6, abs=1e-8
    )


async def test_streams_have_no_cost_header_but_their_row_has_a_cost(env: Env) -> None:
    up = env.upstreams["openai"]
    await priced(env, up)
    env.serve(up, True, upstream_reply(up, True, usage=USAGE))
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        answer = await http.post(
            "/v1/chat/completions",
            json={
                "model": up.model_string,
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "hi"}],
            },
            headers={"authorization": f"Bearer {env.gw.client_key}"},
        )
    assert answer.status_code == 200
    assert "x-omniroute-cost" not in answer.headers
    assert (await last_row(env))["cost"] == pytest.approx(WITH_REASONING, rel=1e-9)


@pytest.mark.parametrize("fmt", ["openai", "openai-responses", "gemini"])
async def test_estimated_usage_is_priced_and_stays_marked(env: Env, fmt: str) -> None:
    up = env.upstreams[fmt]
    await priced(env, up)
    env.serve(up, False, upstream_reply(up, False, with_usage=False))
    await ask(env, "openai", up.model_string, False)
    row = await last_row(env)
    assert row["estimated"] is True
    given, taken = row["tokens"][0], row["tokens"][1]
    assert given > 0 and taken > 0
    assert row["cost"] == pytest.approx((given * 2.0 + taken * 10.0) / 1e6, rel=1e-9)


async def test_without_a_price_the_cost_is_null_and_no_header(env: Env) -> None:
    up = env.upstreams["openai"]
    await priced(env, up, None)  # a custom provider: the catalog knows no price
    env.serve(up, False, upstream_reply(up, False, usage=USAGE))
    answer = await post_chat(env, up.model_string)
    assert answer.status_code == 200
    assert "x-omniroute-cost" not in answer.headers
    assert answer.headers["x-omniroute-cache-hit"] == "true"
    assert (await last_row(env))["cost"] is None


async def test_a_price_change_does_not_rewrite_old_rows(env: Env) -> None:
    up = env.upstreams["openai"]
    await priced(env, up)
    env.serve(up, False, upstream_reply(up, False, usage=USAGE))
    await post_chat(env, up.model_string)
    before = await last_row(env)
    await priced(env, up, {"input": 4.0, "output": 20.0})
    await post_chat(env, up.model_string)
    after = await last_row(env)
    assert after["cost"] == pytest.approx((120 * 4.0 + 45 * 20.0) / 1e6, rel=1e-9)
    store = env.gw.gateway.store
    old = await store.find_request(before["id"])
    assert old is not None and old.row.cost == pytest.approx(WITH_REASONING, rel=1e-9)
