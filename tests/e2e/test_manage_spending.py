"""Prices, budgets and usage from the outside: ``/api/prices``,
``/api/budgets``, ``/api/usage`` and the ``omniroute price|budget|usage``
commands, after a known set of requests (one of them served after a
failover)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.manage_env import CHAT, MODEL, Env, manage_env, provider_body
from tests.support.harness import run_cli
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Status,
    Usage,
    openai_chat_json,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY_A = "sk-spend-account-a-0123456789"
KEY_B = "sk-spend-account-b-0123456789"
PRICE = {"input": 3.0, "output": 15.0, "cached_input": 0.3}
USAGE = Usage(input=1000, output=200, cached=400)
# 600 plain input, 400 cached, 200 output, per 1M tokens.
ONE = (600 * 3.0 + 400 * 0.3 + 200 * 15.0) / 1e6


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with manage_env(tmp_path) as e:
        e.mock.route("POST", CHAT, by_account(e.mock))
        await e.ok("POST", "/api/providers", 201, json=provider_body(e.mock, KEY_A))
        await e.ok("POST", "/api/providers/acme/accounts", 201, json={"api_key": KEY_B})
        yield e


def by_account(mock: MockUpstream) -> Any:
    """Account A fails its first call (a 500: the request moves to B), then
    every account answers with USAGE."""
    failed: list[bool] = []

    def pick(req: RecordedRequest) -> Reply:
        if req.headers.get("authorization") == f"Bearer {KEY_A}" and not failed:
            failed.append(True)
            return Status(500, json.dumps(openai_error("upstream broke", "server_error")))
        return Json(openai_chat_json("hello", MODEL, usage=USAGE))

    return pick


async def test_prices_are_set_listed_and_removed_with_an_audit_trail(env: Env) -> None:
    path = f"/api/prices/acme/{MODEL}"
    stored = await env.ok("PUT", path, json=PRICE)
    assert stored == {"model": f"acme/{MODEL}", **PRICE, "reasoning": None}
    slashed = await env.ok("PUT", "/api/prices/acme/org/model-x", json={"input": 1, "output": 2})
    assert slashed["model"] == "acme/org/model-x"
    listing = (await env.ok("GET", "/api/prices"))["prices"]
    assert [p["model"] for p in listing] == [f"acme/{MODEL}", "acme/org/model-x"]
    assert await env.ok("DELETE", "/api/prices/acme/org/model-x") == {"deleted": "acme/org/model-x"}
    assert "has no price override" in await env.refused(
        "DELETE", "/api/prices/acme/org/model-x", 404
    )
    audit = (await env.ok("GET", "/api/audit"))["entries"]
    actions = [(e["action"], e["target"]) for e in audit[:3]]
    assert actions == [
        ("price.unset", "acme/org/model-x"),
        ("price.set", "acme/org/model-x"),
        ("price.set", f"acme/{MODEL}"),
    ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"input": -1, "output": 2}, "must be a number >= 0"),
        ({"output": 2}, "price needs 'input'"),
        ({"input": "cheap", "output": 2}, "must be a number >= 0"),
        ({"input": 1, "output": 2, "bonus": 1}, "unknown field 'bonus'"),
    ],
)
async def test_bad_prices_are_refused(env: Env, body: dict[str, Any], words: str) -> None:
    assert words in await env.refused("PUT", f"/api/prices/acme/{MODEL}", 400, json=body)


async def test_budgets_are_set_listed_and_removed(env: Env) -> None:
    stored = await env.ok("PUT", "/api/budgets/provider:acme", json={"daily": 5, "monthly": 100})
    assert stored == {"scope": "provider:acme", "daily": 5.0, "monthly": 100.0}
    await env.ok("PUT", "/api/budgets/combo:fast/1", json={"monthly": 20})
    listing = (await env.ok("GET", "/api/budgets"))["budgets"]
    assert [b["scope"] for b in listing] == ["combo:fast/1", "provider:acme"]
    assert listing[1]["spent"] == {"daily": 0.0, "monthly": 0.0}
    assert await env.ok("DELETE", "/api/budgets/combo:fast/1") == {"deleted": "combo:fast/1"}
    assert "has no budget" in await env.refused("DELETE", "/api/budgets/combo:fast/1", 404)
    assert "provider:NAME" in await env.refused(
        "PUT", "/api/budgets/team:x", 400, json={"daily": 1}
    )
    assert "daily or a monthly" in await env.refused("PUT", "/api/budgets/key:1", 400, json={})
    assert "numeric id" in await env.refused("PUT", "/api/budgets/key:me", 400, json={"daily": 1})


async def test_usage_after_known_requests_matches_exactly(env: Env, tmp_path: Path) -> None:
    await env.ok("PUT", f"/api/prices/acme/{MODEL}", json=PRICE)
    for _ in range(3):
        assert await env.chat(f"acme/{MODEL}") == "hello"
    await env.gw.gateway.store.flush_logs()
    assert len(env.mock.requests) == 4  # the first request failed over from A to B
    usage = await env.ok("GET", "/api/usage", params={"group": "provider"})
    assert usage["totals"]["requests"] == 3
    assert usage["totals"]["errors"] == 0
    assert usage["totals"]["input_tokens"] == 3000
    assert usage["totals"]["cached_tokens"] == 1200
    assert usage["totals"]["cost"] == pytest.approx(3 * ONE, rel=1e-9)
    [row] = usage["rows"]
    assert (row["name"], row["cost"]) == ("acme", pytest.approx(3 * ONE, rel=1e-9))
    days = await env.ok("GET", "/api/usage", params={"group": "day"})
    assert sum(d["cost"] for d in days["rows"]) == pytest.approx(3 * ONE, rel=1e-9)
    logged = (await env.ok("GET", "/api/logs/requests"))["requests"]
    assert [r["cost"] for r in logged] == [pytest.approx(ONE, rel=1e-9)] * 3
    budgets = (await env.ok("PUT", "/api/budgets/provider:acme", json={"daily": 1}))["scope"]
    listing = (await env.ok("GET", "/api/budgets"))["budgets"]
    assert listing[0]["scope"] == budgets
    assert listing[0]["spent"]["daily"] == pytest.approx(3 * ONE, rel=1e-9)

    data_dir = env.gw.settings.data_dir
    shown = run_cli("usage", "--by", "provider", "--csv", data_dir=data_dir).stdout
    rows = list(csv.DictReader(io.StringIO(shown)))
    assert [(r["provider"], r["requests"], r["input_tokens"]) for r in rows] == [
        ("acme", "3", "3000")
    ]
    assert float(rows[0]["cost"]) == pytest.approx(3 * ONE, rel=1e-9)
    table = run_cli("usage", "--by", "model", "--since", "24h", data_dir=data_dir).stdout
    assert f"acme/{MODEL}" in table and f"${3 * ONE:.4f}" in table


async def test_usage_cost_is_null_when_nothing_was_priced(env: Env) -> None:
    assert await env.chat(f"acme/{MODEL}") == "hello"
    await env.gw.gateway.store.flush_logs()
    usage = await env.ok("GET", "/api/usage", params={"group": "provider"})
    assert usage["totals"]["cost"] is None and usage["rows"][0]["cost"] is None


def test_price_and_budget_commands(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    set_price = run_cli(
        "price", "set", "acme/m1", "--input", "3", "--output", "15", "--cached", "0.3",
        data_dir=data_dir,
    )  # fmt: skip
    assert "input $3, output $15, cached $0.3" in set_price.stdout
    assert "acme/m1" in run_cli("price", "list", data_dir=data_dir).stdout
    bad = run_cli("price", "set", "nomodel", "--input", "1", "--output", "1", data_dir=data_dir,
                  check=False)  # fmt: skip
    assert bad.returncode == 2 and "provider/model" in bad.stderr and "Traceback" not in bad.stderr
    run_cli("price", "unset", "acme/m1", data_dir=data_dir)
    assert "no price overrides" in run_cli("price", "list", data_dir=data_dir).stdout
    run_cli("budget", "set", "key:1", "--daily", "5", "--monthly", "100", data_dir=data_dir)
    listed = run_cli("budget", "list", data_dir=data_dir).stdout
    assert "key:1  daily $0.0000 of $5, monthly $0.0000 of $100" in listed
    none = run_cli("budget", "set", "key:1", data_dir=data_dir, check=False)
    assert none.returncode == 2 and "--daily" in none.stderr
    run_cli("budget", "unset", "key:1", data_dir=data_dir)
    assert "no budgets" in run_cli("budget", "list", data_dir=data_dir).stdout
    audit = run_cli("audit", data_dir=data_dir).stdout
    assert "budget.unset" in audit and "price.set" in audit
