"""Cost of the endpoints beside chat: embeddings and legacy completions are
priced per token like chat, moderation is free, and what the catalog prices
per image or second (speech, transcription, images) stays unknown (null)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-upstream-costs-0123456789abcdef"


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider("oc", "openai", mock.url + "/oc/v1", KEY, ["m"])
        await harness.config.set_price("oc/m", {"input": 0.02, "output": 0.0})
        await harness.reload()
        yield harness


async def post(gw: Harness, path: str, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        return await http.post(
            path, json=body, headers={"authorization": f"Bearer {gw.client_key}"}
        )


async def test_embeddings_are_priced_per_input_token(gw: Harness, mock: MockUpstream) -> None:
    mock.route(
        "POST",
        "/oc/v1/embeddings",
        Json(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}],
                "model": "m",
                "usage": {"prompt_tokens": 5000, "total_tokens": 5000},
            }
        ),
    )
    answer = await post(gw, "/v1/embeddings", {"model": "oc/m", "input": "hello"})
    assert answer.status_code == 200
    assert float(answer.headers["x-omniroute-cost"]) == pytest.approx(5000 * 0.02 / 1e6)
    assert answer.headers["x-omniroute-cache-hit"] == "false"
    await gw.gateway.store.flush_logs()
    [row] = await gw.gateway.store.recent_requests(1)
    assert row.operation == "embeddings"
    assert row.cost == pytest.approx(5000 * 0.02 / 1e6)


async def test_moderation_is_free(gw: Harness, mock: MockUpstream) -> None:
    mock.route(
        "POST",
        "/oc/v1/moderations",
        Json({"id": "modr-1", "model": "m", "results": [{"flagged": False, "categories": {},
              "category_scores": {}}]}),
    )  # fmt: skip
    answer = await post(gw, "/v1/moderations", {"model": "oc/m", "input": "hello"})
    assert answer.status_code == 200, answer.text
    await gw.gateway.store.flush_logs()
    [row] = await gw.gateway.store.recent_requests(1)
    assert (row.operation, row.cost) == ("moderation", 0.0)
