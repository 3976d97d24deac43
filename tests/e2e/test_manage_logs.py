"""The read side of the request log: ``GET /api/logs/requests`` filters and
pages what clients did through the gateway, ``GET /api/usage`` sums it up by
provider, model, key, account or day."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.store.records import RequestLogRow
from tests.e2e.manage_env import MODEL, Env, answering_env

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-logs-account-key-00112233"
DAY = 86_400


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with answering_env(tmp_path, KEY) as e:
        yield e


async def traffic(env: Env) -> dict[str, Any]:
    """Three answered requests (two with the harness key, one with a key
    named "ci") and one refused (an unknown model); returns the "ci" key."""
    ci = await env.ok("POST", "/api/keys", 201, json={"name": "ci"})
    assert await env.chat(f"acme/{MODEL}")
    assert await env.chat(f"acme/{MODEL}")
    body = {"model": "nobody/x", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        as_ci = {"authorization": f"Bearer {ci['key']}"}
        answer = await http.post(
            "/v1/chat/completions", json={**body, "model": f"acme/{MODEL}"}, headers=as_ci
        )
        assert answer.status_code == 200
        refused = await http.post(
            "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {env.gw.client_key}"},
        )
        assert refused.status_code == 404
    await env.gw.gateway.store.flush_logs()
    return ci


async def listed(env: Env, **query: Any) -> list[dict[str, Any]]:
    return (await env.ok("GET", "/api/logs/requests", params=query))["requests"]


async def test_rows_carry_their_id_key_name_and_usage(env: Env) -> None:
    ci = await traffic(env)
    rows = await listed(env)
    assert [(r["model"], r["status"]) for r in rows] == [
        ("nobody/x", 404),
        (f"acme/{MODEL}", 200),
        (f"acme/{MODEL}", 200),
        (f"acme/{MODEL}", 200),
    ]
    assert [r["key_name"] for r in rows] == ["tests", "ci", "tests", "tests"]
    assert rows[1]["client_key_id"] == ci["id"]
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True)
    answered = rows[1]
    assert (answered["provider"], answered["resolved_model"]) == ("acme", MODEL)
    assert (answered["input_tokens"], answered["output_tokens"]) == (12, 7)
    assert answered["stream"] is False and answered["operation"] == "chat"
    one = await env.ok("GET", f"/api/logs/requests/{answered['id']}")
    assert one == answered
    refused = rows[0]
    assert refused["provider"] is None and refused["error_kind"] == "not_found"


async def test_filters_narrow_the_list(env: Env) -> None:
    ci = await traffic(env)
    assert [r["status"] for r in await listed(env, status="4xx")] == [404]
    assert [r["status"] for r in await listed(env, status="404")] == [404]
    assert await listed(env, status="5xx") == []
    assert len(await listed(env, status="2xx")) == 3
    # A model matches as requested, as resolved, or as provider/resolved.
    for name in (f"acme/{MODEL}", MODEL):
        assert len(await listed(env, model=name)) == 3
    assert [r["model"] for r in await listed(env, model="nobody/x")] == ["nobody/x"]
    assert len(await listed(env, provider="acme")) == 3
    assert [r["key_name"] for r in await listed(env, key=ci["id"])] == ["ci"]
    assert len(await listed(env, key=ci["id"], status="4xx")) == 0
    now = time.time()
    assert len(await listed(env, since="24h")) == 4
    assert await listed(env, since=str(int(now) + 60)) == []
    assert await listed(env, until=str(int(now) - 60)) == []


async def test_paging_back_newest_first(env: Env) -> None:
    await traffic(env)
    first = await env.ok("GET", "/api/logs/requests", params={"limit": 3})
    assert len(first["requests"]) == 3 and first["next_before"] == first["requests"][-1]["id"]
    rest = await env.ok(
        "GET", "/api/logs/requests", params={"limit": 3, "before": first["next_before"]}
    )
    assert len(rest["requests"]) == 1 and rest["next_before"] is None
    everything = await listed(env)
    assert [r["id"] for r in first["requests"] + rest["requests"]] == [r["id"] for r in everything]


async def test_bad_input_is_refused(env: Env) -> None:
    for bad in (
        {"limit": "0"},
        {"limit": "501"},
        {"before": "x"},
        {"status": "6xx"},
        {"status": "ok"},
        {"key": "-1"},
        {"since": "yesterday"},
        {"until": "7d"},
        {"since": "200", "until": "100"},
    ):
        message = await env.refused("GET", "/api/logs/requests", 400, params=bad)
        assert any(f"'{name}'" in message for name in bad), message
    assert "no logged request" in await env.refused("GET", "/api/logs/requests/999", 404)
    await env.refused("GET", "/api/logs/requests/x", 404)
    for bad in ({"group": "color"}, {"series": "x"}, {"group": "day", "series": "day"}):
        await env.refused("GET", "/api/usage", 400, params=bad)
    for bad in ({"since": "7w"}, {"since": "0d"}, {"until": "-5"}, {"since": "1", "until": "1"}):
        await env.refused("GET", "/api/usage", 400, params=bad)


def usage_rows(answer: dict[str, Any]) -> dict[Any, tuple[int, int, int, int]]:
    return {
        row["name"]: (row["requests"], row["errors"], row["input_tokens"], row["output_tokens"])
        for row in answer["rows"]
    }


async def test_usage_groups_and_totals(env: Env) -> None:
    ci = await traffic(env)
    by_provider = await env.ok("GET", "/api/usage", params={"group": "provider"})
    assert by_provider["group"] == "provider" and by_provider["series"] is None
    assert by_provider["until"] - by_provider["since"] == pytest.approx(7 * DAY, abs=5)
    assert usage_rows(by_provider) == {"acme": (3, 0, 36, 21), None: (1, 1, 0, 0)}
    totals = by_provider["totals"]
    assert (totals["requests"], totals["errors"], totals["input_tokens"]) == (4, 1, 36)
    assert totals["output_tokens"] == 21 and totals["cost"] is None
    assert totals["avg_latency_ms"] > 0
    assert all(row["cost"] is None for row in by_provider["rows"])

    by_model = await env.ok("GET", "/api/usage", params={"group": "model"})
    assert usage_rows(by_model) == {f"acme/{MODEL}": (3, 0, 36, 21), "nobody/x": (1, 1, 0, 0)}

    by_key = (await env.ok("GET", "/api/usage", params={"group": "key"}))["rows"]
    assert {(r["key_id"], r["name"], r["requests"]) for r in by_key} == {
        (1, "tests", 3),
        (ci["id"], "ci", 1),
    }

    by_account = (await env.ok("GET", "/api/usage", params={"group": "account"}))["rows"]
    (account,) = [r for r in by_account if r["account_id"] is not None]
    assert account["name"] == f"acme#{account['account_id']}" and account["requests"] == 3


async def test_usage_per_day_and_period(env: Env) -> None:
    await traffic(env)
    store = env.gw.gateway.store
    now = time.time()
    for age, provider in ((3 * DAY, "older"), (20 * DAY, "older"), (40 * DAY, "ancient")):
        store.log_request(
            RequestLogRow(
                ts=now - age, request_id=f"r{age}", model="x", status=500, latency_ms=5.0,
                provider=provider, input_tokens=100, output_tokens=10,
            )
        )  # fmt: skip
    await store.flush_logs()

    def day(age: float) -> str:
        return datetime.fromtimestamp(now - age, UTC).strftime("%Y-%m-%d")

    week = await env.ok("GET", "/api/usage", params={"group": "day", "series": "provider"})
    assert [(r["name"], r["series"], r["requests"]) for r in week["rows"]] == [
        (day(3 * DAY), "older", 1),
        (day(0), None, 1),
        (day(0), "acme", 3),
    ]
    month = await env.ok("GET", "/api/usage", params={"group": "provider", "since": "30d"})
    assert usage_rows(month)["older"] == (2, 2, 200, 20)
    assert "ancient" not in usage_rows(month)
    span = {"since": str(int(now - 45 * DAY)), "until": str(int(now - 10 * DAY))}
    old = await env.ok("GET", "/api/usage", params={"group": "provider", **span})
    assert usage_rows(old) == {"older": (1, 1, 100, 10), "ancient": (1, 1, 100, 10)}
    assert old["since"] == int(span["since"]) and old["totals"]["requests"] == 2
    empty = await env.ok("GET", "/api/usage", params={"since": "1", "until": "2"})
    assert empty["rows"] == [] and empty["totals"]["requests"] == 0
    assert empty["totals"]["avg_latency_ms"] is None


async def test_the_local_cli_token_reads_logs_and_usage(env: Env) -> None:
    await traffic(env)
    token = {"authorization": f"Bearer {env.gw.gateway.admin.token}"}
    async with httpx.AsyncClient(base_url=env.gw.base_url, headers=token, timeout=15) as http:
        for path in ("/api/logs/requests", "/api/usage?group=day"):
            assert (await http.get(path)).status_code == 200, path
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        for path in ("/api/logs/requests", "/api/logs/requests/1", "/api/usage"):
            assert (await http.get(path)).status_code == 401, path
