"""Endpoints beside the main four: Codex's compaction, Gemini's model list."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import types as gtypes

from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, anthropic_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream):
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider("ant", "anthropic", mock.url + "/v1", "sk-ant-test-0000", ["c1"])
        yield harness


async def test_responses_compact_summarises_with_any_upstream(
    gw: Harness, mock: MockUpstream
) -> None:
    mock.route("POST", "/v1/messages", Json(anthropic_json("We built a landing page.", "c1")))
    history = [
        {"role": "user", "content": "Create a landing page for a dog cafe."},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Here is the page...", "annotations": []}],
        },
    ]
    async with httpx.AsyncClient(base_url=gw.base_url) as http:
        resp = await http.post(
            "/v1/responses/compact",
            json={"model": "ant/c1", "input": history, "instructions": "be brief"},
            headers={"authorization": f"Bearer {gw.client_key}"},
        )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "response.compaction" and body["id"].startswith("resp_")
    # The user's own words are kept; the rest becomes the model's summary.
    assert body["output"][0]["role"] == "user"
    summary = body["output"][-1]["content"][0]["text"]
    assert "We built a landing page." in summary
    assert body["usage"]["input_tokens"] > 0
    sent = mock.requests[-1].json()
    assert sent["model"] == "c1"
    # The upstream was asked to summarise the whole history.
    texts = str(sent["messages"])
    assert "dog cafe" in texts and "Here is the page" in texts and "Summarise" in texts


async def test_gemini_model_list_and_lookup(gw: Harness) -> None:
    client = genai.Client(
        api_key=gw.client_key,
        http_options=gtypes.HttpOptions(base_url=gw.base_url, api_version="v1beta"),
    )
    names = [m.name async for m in await client.aio.models.list()]
    assert names == ["models/ant/c1"]
    one = await client.aio.models.get(model="ant/c1")
    assert one.name == "models/ant/c1"
    assert "generateContent" in (one.supported_actions or [])
    async with httpx.AsyncClient(base_url=gw.base_url) as http:
        missing = await http.get(
            "/v1beta/models/ant/nope", headers={"x-goog-api-key": gw.client_key}
        )
        unauthorised = await http.get("/v1beta/models")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["status"] == "UNAUTHENTICATED"
