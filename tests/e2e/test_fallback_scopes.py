"""One model's trouble stays with that model: its rate limit rests that model
on that account, its failures open that model's breaker. The account rests
as a whole only for what is the account's (a refused key); the provider's
breaker opens only when several of its models fail, or it cannot be reached.
The status view names what is resting."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.gateway.resilience import account_key, account_model_key, model_key, provider_key
from omniroute.routing.breaker import BreakerState
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Status,
    openai_chat_json,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-scopes-account-key-0123456789"
CHAT = "/p/v1/chat/completions"
LIMITED = Status(
    429, json.dumps(openai_error("slow down", "rate_limit_error")).encode(), {"retry-after": "30"}
)


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    """Provider p, one account, three models."""
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY, ["m1", "m2", "m3"])
        await harness.config.set_setting(
            "breaker", {"failure_threshold": 2, "window": 60, "cooldown": 30}
        )
        await harness.reload()
        yield harness


def by_model(replies: dict[str, Reply]) -> object:
    def pick(request: RecordedRequest) -> Reply:
        model = request.json()["model"]
        return replies.get(model) or Json(openai_chat_json(f"from {model}", model))

    return pick


async def ask(gw: Harness, model: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        return await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {gw.client_key}"},
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )


def account(gw: Harness) -> int:
    return gw.gateway.registry().provider("p").accounts[0].id


async def test_a_rate_limit_on_one_model_leaves_the_others_served(
    gw: Harness, mock: MockUpstream
) -> None:
    mock.route("POST", CHAT, by_model({"m1": LIMITED}))
    assert (await ask(gw, "p/m1")).status_code == 429
    other = await ask(gw, "p/m2")
    assert (
        other.status_code == 200 and other.json()["choices"][0]["message"]["content"] == "from m2"
    )
    cooldowns = gw.gateway.resilience.cooldowns
    a = account(gw)
    assert 25 < cooldowns.remaining(account_model_key(a, "m1")) <= 30
    assert cooldowns.remaining(account_key(a)) == 0
    assert cooldowns.remaining(account_model_key(a, "m2")) == 0
    # m1 is skipped without a call while it rests, with the time it has left.
    calls = len(mock.requests)
    resting = await ask(gw, "p/m1")
    assert resting.status_code == 503 and 25 < int(resting.headers["retry-after"]) <= 30
    assert len(mock.requests) == calls


async def test_a_refused_key_rests_the_whole_account(gw: Harness, mock: MockUpstream) -> None:
    refused = Status(401, json.dumps(openai_error("bad key", "authentication_error")).encode())
    mock.route("POST", CHAT, by_model({"m1": refused}))
    assert (await ask(gw, "p/m1")).status_code == 502
    assert gw.gateway.resilience.cooldowns.remaining(account_key(account(gw))) > 0
    calls = len(mock.requests)
    assert (await ask(gw, "p/m2")).status_code == 503  # the account rests for every model
    assert len(mock.requests) == calls


async def test_failures_of_one_model_open_only_its_breaker(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, by_model({"m1": Status(500, b"{}")}))
    for _ in range(2):
        assert (await ask(gw, "p/m1")).status_code == 502
    breakers = gw.gateway.resilience.breakers
    assert breakers.state(model_key("p", "m1")) is BreakerState.OPEN
    assert breakers.state(provider_key("p")) is BreakerState.CLOSED
    assert (await ask(gw, "p/m2")).status_code == 200
    assert (await ask(gw, "p/m1")).status_code == 503  # refused at once: circuit open


async def test_several_models_failing_open_the_providers_breaker(
    gw: Harness, mock: MockUpstream
) -> None:
    broken = Status(500, b"{}")
    mock.route("POST", CHAT, by_model({"m1": broken, "m2": broken}))
    assert (await ask(gw, "p/m1")).status_code == 502
    assert (await ask(gw, "p/m2")).status_code == 502
    assert (await ask(gw, "p/m1")).status_code == 502
    breakers = gw.gateway.resilience.breakers
    assert breakers.state(provider_key("p")) is BreakerState.OPEN
    # Now even a model that never failed is kept away from the provider.
    calls = len(mock.requests)
    assert (await ask(gw, "p/m3")).status_code == 503
    assert len(mock.requests) == calls


async def test_an_unreachable_provider_opens_its_breaker_at_once(gw: Harness) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    await gw.add_provider("gone", "openai", f"http://127.0.0.1:{port}/v1", KEY, ["x", "y"])
    for _ in range(2):
        assert (await ask(gw, "gone/x")).status_code == 502
    breakers = gw.gateway.resilience.breakers
    assert breakers.state(provider_key("gone")) is BreakerState.OPEN
    assert (await ask(gw, "gone/y")).status_code == 503


async def test_the_status_view_names_what_rests(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, by_model({"m1": LIMITED, "m2": Status(500, b"{}")}))
    await ask(gw, "p/m1")
    for _ in range(2):
        await ask(gw, "p/m2")
    status = gw.gateway.describe()
    cooling = {c["key"]: c for c in status["cooldowns"]}
    breakers = {b["key"]: b for b in status["breakers"]}
    assert set(cooling) == {account_model_key(account(gw), "m1")}
    assert cooling[account_model_key(account(gw), "m1")]["reason"] == "rate_limit"
    assert breakers[model_key("p", "m2")]["state"] == "open"
    assert breakers.get(provider_key("p"), {"state": "closed"})["state"] == "closed"
    assert KEY not in json.dumps(status)
