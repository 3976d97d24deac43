"""One request-log row per request, whatever happens to it, through the real
gateway: answered, refused, failed everywhere, abandoned by its client before
the answer began, and token counts that go through the same failover loop
as chat (breakers, cooldowns, the next account) with a row of their own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.gateway.resilience import account_key, account_model_key
from omniroute.store.records import RequestLogRow
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Hang,
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Status,
    anthropic_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CHAT = "/p/v1/chat/completions"
COUNT = "/a/v1/messages/count_tokens"
KEY_A = "sk-log-rows-account-a-0123456789"
KEY_B = "sk-log-rows-account-b-0123456789"


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY_A, ["m"])
        await harness.add_provider("a", "anthropic", mock.url + "/a/v1", KEY_A, ["claude-x"])
        await harness.add_provider("a", "anthropic", mock.url + "/a/v1", KEY_B)
        yield harness


async def rows(gw: Harness) -> list[RequestLogRow]:
    await gw.gateway.store.flush_logs()
    return list(reversed(await gw.gateway.store.recent_requests(100)))


def http(gw: Harness) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=gw.base_url, headers={"authorization": f"Bearer {gw.client_key}"}, timeout=10
    )


async def test_a_client_leaving_before_the_first_byte_gets_one_499_row(
    gw: Harness, mock: MockUpstream
) -> None:
    mock.route("POST", CHAT, Hang())
    health = gw.gateway.resilience.health
    async with http(gw) as client:
        ask = asyncio.create_task(
            client.post(CHAT.replace("/p", ""), json={"model": "p/m", "messages": []})
        )
        for _ in range(200):  # until the upstream has the request
            if mock.requests:
                break
            await asyncio.sleep(0.01)
        assert mock.requests, "the request never reached the upstream"
        ask.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ask
    assert await mock.wait_disconnect(5.0) is not None  # the upstream was let go
    logged: list[RequestLogRow] = []
    for _ in range(100):
        logged = await rows(gw)
        if logged:
            break
        await asyncio.sleep(0.02)
    assert len(logged) == 1
    row = logged[0]
    assert (row.status, row.error_kind, row.provider, row.stream) == (
        499,
        "client_closed",
        "p",
        False,
    )
    assert row.latency_ms > 0 and row.ttft_ms is None
    # Nothing was learnt about the upstream: no outcome and no latency sample
    # (the ratio is still the prior's 1/2), and nothing left in flight.
    listing = health.listing()
    for key in (account_key(row.account_id or 0), "p/m"):
        stats = listing[key]
        assert (stats.in_flight, stats.total, stats.recent_failures) == (0, 1, 0)
        assert stats.latency is None and stats.success_ratio == 0.5


async def test_answered_refused_and_failed_requests_each_get_one_row(
    gw: Harness, mock: MockUpstream
) -> None:
    mock.route("POST", CHAT, Json({"id": "x", "object": "chat.completion", "choices": []}))
    async with http(gw) as client:
        await client.post("/v1/chat/completions", json={"model": "p/m", "messages": []})
        await client.post("/v1/chat/completions", json={"model": "nobody/x", "messages": []})
        await client.post("/v1/chat/completions", content=b"{not json")
        mock.route("POST", CHAT, Status(500, b"{}"))
        await client.post("/v1/chat/completions", json={"model": "p/m", "messages": []})
    logged = await rows(gw)
    assert [(r.model, r.status) for r in logged] == [
        ("p/m", 200),
        ("nobody/x", 404),
        ("", 400),
        ("p/m", 502),
    ]
    assert all(r.operation == "chat" for r in logged)


async def test_token_counts_fail_over_and_are_logged_as_such(
    gw: Harness, mock: MockUpstream
) -> None:
    """Account A's count fails: the count moves to account B (which the old
    path never tried), A cools down, and the row says count_tokens."""

    def count(request: RecordedRequest) -> Reply:
        if request.headers.get("x-api-key") == KEY_A:
            return Status(
                429, json.dumps(anthropic_error("slow down", "rate_limit_error")).encode()
            )
        return Json({"input_tokens": 1234})

    mock.route("POST", COUNT, count)
    async with http(gw) as client:
        answer = await client.post(
            "/v1/messages/count_tokens",
            json={"model": "a/claude-x", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert answer.status_code == 200 and answer.json() == {"input_tokens": 1234}
    assert answer.headers["x-omniroute-provider"] == "a"
    assert [r.headers.get("x-api-key") for r in mock.requests] == [KEY_A, KEY_B]
    accounts = gw.gateway.registry().provider("a").accounts
    cooldowns = gw.gateway.resilience.cooldowns
    assert cooldowns.remaining(account_model_key(accounts[0].id, "claude-x")) > 0
    (row,) = await rows(gw)
    assert (row.operation, row.status, row.provider, row.account_id) == (
        "count_tokens",
        200,
        "a",
        accounts[1].id,
    )
    assert row.input_tokens == 1234


async def test_a_count_nobody_can_make_is_estimated(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", COUNT, Status(500, b"{}"))
    async with http(gw) as client:
        answer = await client.post(
            "/v1/messages/count_tokens",
            json={"model": "a/claude-x", "messages": [{"role": "user", "content": "hi " * 40}]},
        )
        openai_only = await client.post(
            "/v1/messages/count_tokens",
            json={"model": "p/m", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert answer.status_code == 200 and answer.json()["input_tokens"] > 0
    assert openai_only.status_code == 200 and openai_only.json()["input_tokens"] > 0
    # Two accounts tried for the first; none for the OpenAI-format provider.
    assert len(mock.requests) == 2
    logged = await rows(gw)
    assert [(r.operation, r.status) for r in logged] == [
        ("count_tokens", 200),
        ("count_tokens", 200),
    ]
