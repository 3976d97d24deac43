"""Spending ceilings through the real gateway: a client key over its budget
is refused in its caller's dialect, a provider or combo step over its
budget is skipped like a resting account, budgets reset when the UTC day
turns (an injected clock), and spending survives a restart (rebuilt from
the request log)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import pytest

from omniroute.store.records import ComboTargetRecord
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, Usage, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# 12 input + 7 output tokens at 1000 USD per 1M each: 0.019 USD a request.
PRICE = {"input": 1000.0, "output": 1000.0}
COST = 19 * 1000.0 / 1e6
DAY = 86_400.0
START = 1_767_268_800.0  # 2026-01-01 12:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, mock: MockUpstream, clock: Clock) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path, clock=clock) as gw:
        for name in ("p1", "p2"):
            mock.route("POST", f"/{name}/v1/chat/completions", Json(answer(name)))
            url = f"{mock.url}/{name}/v1"
            await gw.add_provider(name, "openai", url, f"sk-{name}-0123456789", ["m"])
            await gw.config.set_price(f"{name}/m", PRICE)
        await gw.config.upsert_combo("c", [ComboTargetRecord("p1/m"), ComboTargetRecord("p2/m")])
        await gw.reload()
        yield gw


def answer(name: str) -> dict[str, object]:
    return openai_chat_json(f"from {name}", "m", usage=Usage(input=12, output=7))


async def chat(gw: Harness, model: str, key: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        return await http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {key or gw.client_key}"},
        )


async def key_id(gw: Harness) -> int:
    return (await gw.gateway.store.list_client_keys())[0].id


def sent_to(mock: MockUpstream, name: str) -> int:
    return sum(1 for r in mock.requests if r.path.startswith(f"/{name}/"))


async def test_a_key_over_its_daily_budget_is_refused_until_the_next_day(
    tmp_path: Path, mock: MockUpstream
) -> None:
    clock = Clock()
    async with gateway(tmp_path, mock, clock) as gw:
        await gw.config.set_budget(f"key:{await key_id(gw)}", {"daily": 0.01})
        await gw.reload()
        assert (await chat(gw, "p1/m")).status_code == 200  # 0.019 spent: over 0.01
        refused = await chat(gw, "p1/m")
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert "daily spending budget" in error["message"]
        assert "Traceback" not in refused.text and "sk-p1" not in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= DAY
        sdk = gw.track(
            anthropic.AsyncAnthropic(base_url=gw.base_url, api_key=gw.client_key, max_retries=0)
        )
        with pytest.raises(anthropic.RateLimitError) as caught:
            await sdk.messages.create(
                model="p1/m", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        assert "daily spending budget" in str(caught.value)
        assert sent_to(mock, "p1") == 1  # refused before any upstream call
        clock.now += DAY  # a new UTC day: the daily budget starts again
        assert (await chat(gw, "p1/m")).status_code == 200


async def test_a_monthly_budget_holds_across_days_and_resets_with_the_month(
    tmp_path: Path, mock: MockUpstream
) -> None:
    clock = Clock()
    async with gateway(tmp_path, mock, clock) as gw:
        await gw.config.set_budget(f"key:{await key_id(gw)}", {"monthly": 0.03})
        await gw.reload()
        assert (await chat(gw, "p1/m")).status_code == 200
        clock.now += DAY
        assert (await chat(gw, "p1/m")).status_code == 200  # 0.038 this month
        clock.now += DAY
        refused = await chat(gw, "p1/m")
        assert refused.status_code == 429 and "monthly" in refused.json()["error"]["message"]
        clock.now += 31 * DAY  # February
        assert (await chat(gw, "p1/m")).status_code == 200


async def test_a_provider_over_budget_is_skipped_in_a_combo(
    tmp_path: Path, mock: MockUpstream
) -> None:
    clock = Clock()
    async with gateway(tmp_path, mock, clock) as gw:
        await gw.config.set_budget("provider:p1", {"daily": 0.01})
        await gw.reload()
        first = await chat(gw, "c")
        assert first.headers["x-omniroute-provider"] == "p1"
        second = await chat(gw, "c")
        assert second.status_code == 200
        assert second.headers["x-omniroute-provider"] == "p2"
        assert sent_to(mock, "p1") == 1
        alone = await chat(gw, "p1/m")  # nowhere else to go: the reason is named
        assert alone.status_code == 503
        assert "over its daily budget" in alone.json()["error"]["message"]
        clock.now += DAY
        assert (await chat(gw, "c")).headers["x-omniroute-provider"] == "p1"


async def test_a_combo_step_over_budget_is_skipped(tmp_path: Path, mock: MockUpstream) -> None:
    clock = Clock()
    async with gateway(tmp_path, mock, clock) as gw:
        await gw.config.set_budget("combo:c/0", {"daily": 0.01})
        await gw.reload()
        assert (await chat(gw, "c")).headers["x-omniroute-provider"] == "p1"
        assert (await chat(gw, "c")).headers["x-omniroute-provider"] == "p2"
        # The provider itself has no budget: asked directly, it still serves.
        assert (await chat(gw, "p1/m")).headers["x-omniroute-provider"] == "p1"


async def test_spending_is_rebuilt_from_the_log_after_a_restart(
    tmp_path: Path, mock: MockUpstream
) -> None:
    clock = Clock()
    async with gateway(tmp_path, mock, clock) as gw:
        key = gw.client_key
        await gw.config.set_budget(f"key:{await key_id(gw)}", {"daily": 0.01})
        await gw.reload()
        assert (await chat(gw, "p1/m")).status_code == 200
    clock.now = time.time()  # the rows carry the wall-clock time
    async with running_gateway(tmp_path, clock=clock) as gw:
        assert (await chat(gw, "p1/m", key)).status_code == 429
