"""Quotas through the real gateway: mock upstreams report usage the way
their providers do (Claude's unified headers, a Codex refusal body, Kimi's
usage endpoint); routing skips a spent account before it fails, a model's
own window blocks only that model, and when every account is spent the
error names the earliest reset. ``/api/quota`` and ``omniroute quota`` show
the windows."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.providers.catalog import Catalog
from tests.cli.helpers import cli_async
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    anthropic_json,
    openai_chat_json,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY_A = "sk-quota-account-a-0123456789"
KEY_B = "sk-quota-account-b-0123456789"
MESSAGES = "/cc/v1/messages"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        yield harness


def credential(req: RecordedRequest) -> str:
    auth = req.headers.get("authorization", "").removeprefix("Bearer ")
    return auth or req.headers.get("x-api-key", "")


def unified(used_5h: float, reset_5h: float, **more: str) -> dict[str, str]:
    """Claude's unified rate-limit headers."""
    return {
        "anthropic-ratelimit-unified-status": "allowed",
        "anthropic-ratelimit-unified-5h-status": "allowed",
        "anthropic-ratelimit-unified-5h-utilization": str(used_5h),
        "anthropic-ratelimit-unified-5h-reset": str(int(reset_5h)),
        "anthropic-ratelimit-unified-7d-utilization": "0.1",
        "anthropic-ratelimit-unified-7d-reset": str(int(reset_5h) + 86400),
        **more,
    }


def claude_answers(
    headers_for: Callable[[str, str], dict[str, str]],
) -> Callable[[RecordedRequest], Reply]:
    """Each account answers with the headers ``headers_for(key, model)`` gives."""

    def reply(req: RecordedRequest) -> Reply:
        key, model = credential(req), str(req.json().get("model"))
        text = "from A" if key == KEY_A else "from B"
        return Json(anthropic_json(text, model), headers=headers_for(key, model))

    return reply


def answer_with_unified(mock: MockUpstream, used_by_a: float, used_by_b: float) -> float:
    """Claude answers for accounts A and B, each saying how much of its 5-hour
    window is used; that window resets an hour from now (returned)."""
    reset = time.time() + 3600
    mock.route(
        "POST",
        MESSAGES,
        claude_answers(lambda key, model: unified(used_by_a if key == KEY_A else used_by_b, reset)),
    )
    return reset


async def two_accounts(gw: Harness, mock: MockUpstream, fmt: str, path: str) -> list[int]:
    await gw.add_provider("cc", fmt, mock.url + path, KEY_A, ["m1", "m2"])
    await gw.add_provider("cc", fmt, mock.url + path, KEY_B)
    return [a.id for a in gw.gateway.registry().provider("cc").accounts]


async def chat(gw: Harness, model: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        return await http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {gw.client_key}"},
        )


async def quota(gw: Harness) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        answer = await http.get(
            "/api/quota", headers={"authorization": f"Bearer {gw.gateway.admin.token}"}
        )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def served_by(answer: httpx.Response) -> int:
    assert answer.status_code == 200, answer.text
    return int(answer.headers["x-omniroute-account"])


async def test_an_account_at_96_percent_is_skipped_until_its_reset(
    gw: Harness, mock: MockUpstream
) -> None:
    reset = answer_with_unified(mock, 0.96, 0.2)
    a, b = await two_accounts(gw, mock, "anthropic", "/cc/v1")

    assert served_by(await chat(gw, "cc/m1")) == a  # A first: nothing known of it yet
    # A said it is 96 % through its 5-hour window: the next requests go to B.
    assert served_by(await chat(gw, "cc/m1")) == b
    assert served_by(await chat(gw, "cc/m2")) == b
    assert sum(1 for r in mock.requests if credential(r) == KEY_A) == 1

    listing = await quota(gw)
    assert listing["skip_at"] == 0.95
    by_id = {entry["account_id"]: entry for entry in listing["accounts"]}
    first = by_id[a]
    assert first["provider"] == "cc" and first["kind"] == "key" and first["reader"] == "anthropic"
    assert first["blocked"] is True and first["blocked_until"] == int(reset)
    five = next(w for w in first["windows"] if w["name"] == "5h")
    assert five["used_percent"] == 96.0 and five["used_fraction"] == 0.96
    assert five["scope"] == "account" and five["source"] == "headers"
    assert five["estimated"] is False
    assert 3500 < five["resets_in"] <= 3600
    assert by_id[b]["blocked"] is False


async def test_a_model_window_blocks_only_that_model(gw: Harness, mock: MockUpstream) -> None:
    reset = time.time() + 7200

    def headers(key: str, model: str) -> dict[str, str]:
        if key == KEY_A and model == "m1":  # A's weekly window for m1 alone is spent
            return unified(
                0.3,
                reset,
                **{
                    "anthropic-ratelimit-unified-7d_oi-status": "allowed_warning",
                    "anthropic-ratelimit-unified-7d_oi-utilization": "0.99",
                    "anthropic-ratelimit-unified-7d_oi-reset": str(int(reset)),
                },
            )
        return unified(0.3, reset)

    mock.route("POST", MESSAGES, claude_answers(headers))
    a, b = await two_accounts(gw, mock, "anthropic", "/cc/v1")

    assert served_by(await chat(gw, "cc/m1")) == a
    assert served_by(await chat(gw, "cc/m1")) == b  # m1 moved on...
    assert served_by(await chat(gw, "cc/m2")) == a  # ...m2 still goes to A

    entry = next(e for e in (await quota(gw))["accounts"] if e["account_id"] == a)
    weekly = next(w for w in entry["windows"] if w["name"] == "7d_oi")
    assert weekly["scope"] == "model" and weekly["model"] == "m1"
    assert entry["blocked"] is False  # the account as a whole is still in service


async def test_when_every_account_is_spent_the_error_names_the_earliest_reset(
    gw: Harness, mock: MockUpstream
) -> None:
    now = time.time()
    resets = {KEY_A: now + 7200, KEY_B: now + 3600}
    mock.route("POST", MESSAGES, claude_answers(lambda key, _m: unified(0.97, resets[key])))
    a, b = await two_accounts(gw, mock, "anthropic", "/cc/v1")
    assert served_by(await chat(gw, "cc/m1")) == a
    assert served_by(await chat(gw, "cc/m1")) == b
    sent = len(mock.requests)

    refused = await chat(gw, "cc/m1")
    assert refused.status_code == 503
    assert len(mock.requests) == sent  # nothing was sent upstream
    assert 3500 < int(refused.headers["retry-after"]) <= 3600  # B's reset, the earlier
    message = refused.json()["error"]["message"]
    earliest = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(resets[KEY_B]))
    assert f"account {b}: quota 5h 97% used, resets {earliest}" in message
    assert f"account {a}: quota 5h 97% used" in message
    assert KEY_A not in message and KEY_B not in message


async def test_a_spent_plan_in_a_refusal_body_keeps_the_account_out(
    gw: Harness, mock: MockUpstream
) -> None:
    resets_at = int(time.time()) + 5000
    spent = {
        "error": {
            "type": "usage_limit_reached",
            "message": "You have hit your ChatGPT usage limit (plus plan).",
            "plan_type": "plus",
            "resets_at": resets_at,
        }
    }

    def reply(req: RecordedRequest) -> Reply:
        model = str(req.json().get("model"))
        if credential(req) == KEY_A:
            return Json(spent, status=429)
        return Json(openai_chat_json("from B", model))

    mock.route("POST", "/cx/v1/chat/completions", reply)
    a, b = await two_accounts(gw, mock, "openai", "/cx/v1")

    assert served_by(await chat(gw, "cc/m1")) == b  # A refused, B answered
    # Another model: the 429's cooldown was for m1, but the plan is spent for all.
    assert served_by(await chat(gw, "cc/m2")) == b
    assert sum(1 for r in mock.requests if credential(r) == KEY_A) == 1
    entry = next(e for e in (await quota(gw))["accounts"] if e["account_id"] == a)
    assert entry["blocked"] is True and entry["blocked_until"] == resets_at
    assert [(w["name"], w["source"]) for w in entry["windows"]] == [("plan", "error")]


async def test_a_usage_endpoint_is_read_and_shown(gw: Harness, mock: MockUpstream) -> None:
    reset = "2099-01-01T00:00:00Z"
    mock.route(
        "GET",
        "/coding/v1/usages",
        Json(
            {
                "usage": {"limit": "100", "remaining": "40", "resetTime": reset},
                "limits": [
                    {
                        "window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                        "detail": {"limit": "100", "remaining": "90", "resetTime": reset},
                    }
                ],
            }
        ),
    )
    mock.route("POST", "/coding/v1/chat/completions", Json(openai_chat_json("ok", "k")))
    await gw.add_provider("kimi", "openai", mock.url + "/coding/v1", KEY_A, ["k"])
    await gw.gateway.store.update_provider("kimi", extra={"catalog": "kimi-for-coding"})
    await gw.reload()

    assert await gw.gateway.pipeline.quotas.poll() == 1
    (asked,) = [r for r in mock.requests if r.method == "GET"]
    assert credential(asked) == KEY_A

    entry = (await quota(gw))["accounts"][0]
    assert entry["reader"] == "kimi"
    shown = {w["name"]: w for w in entry["windows"]}
    assert shown["weekly"]["used_percent"] == 60.0 and shown["weekly"]["source"] == "endpoint"
    assert shown["5h"]["used_percent"] == 10.0
    assert shown["5h"]["resets_at"] == 4070908800.0

    # The same for a person and as JSON, from the command line.
    data = Path(gw.settings.data_dir)
    code, text, err = await cli_async(data, "quota")
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0].split() == ["PROVIDER", "ACCOUNT", "WINDOW", "USED", "RESETS", "IN"]
    assert any(
        line.split()[:4] == ["kimi", str(entry["account_id"]), "weekly", "60%"] for line in lines
    )
    assert lines[-1] == "accounts are skipped at 95% used until the window resets"
    code, raw, err = await cli_async(data, "quota", "--json")
    assert code == 0, err
    assert json.loads(raw)["accounts"][0]["windows"][0]["name"] in shown
    assert KEY_A not in text + raw


async def test_a_failed_usage_read_changes_nothing(gw: Harness, mock: MockUpstream) -> None:
    mock.route("GET", "/coding/v1/usages", Json({"error": "no"}, status=401))
    await gw.add_provider("kimi", "openai", mock.url + "/coding/v1", KEY_A, ["k"])
    await gw.gateway.store.update_provider("kimi", extra={"catalog": "kimi-for-coding"})
    await gw.reload()
    assert await gw.gateway.pipeline.quotas.poll() == 0
    assert (await quota(gw))["accounts"][0]["windows"] == []


async def test_quota_setting_changes_where_accounts_are_skipped(
    gw: Harness, mock: MockUpstream
) -> None:
    answer_with_unified(mock, 0.96, 0.2)
    a, _b = await two_accounts(gw, mock, "anthropic", "/cc/v1")
    await gw.config.set_setting("quota", {"skip_at": 0.99})
    await gw.reload()
    assert served_by(await chat(gw, "cc/m1")) == a
    assert served_by(await chat(gw, "cc/m1")) == a  # 96 % is under 99 %
    assert (await quota(gw))["skip_at"] == 0.99


async def test_on_a_pass_through_account_each_client_credential_has_its_own_quota(
    gw: Harness, mock: MockUpstream
) -> None:
    answer_with_unified(mock, 0.99, 0.1)
    await gw.add_provider("cc", "anthropic", mock.url + "/cc/v1", "unused", ["m1"])
    (account,) = gw.gateway.registry().provider("cc").accounts
    await gw.gateway.store.update_account(account.id, extra={"kind": "pass-through"})
    await gw.reload()

    async def as_client(upstream_key: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
            return await http.post(
                "/v1/chat/completions",
                json={"model": "cc/m1", "messages": [{"role": "user", "content": "hi"}]},
                headers={
                    "x-omniroute-key": gw.client_key,
                    "authorization": f"Bearer {upstream_key}",
                },
            )

    assert (await as_client(KEY_A)).status_code == 200  # A's plan is 99 % used now
    refused = await as_client(KEY_A)
    assert refused.status_code == 503 and "quota 5h 99% used" in refused.json()["error"]["message"]
    assert (await as_client(KEY_B)).status_code == 200  # B's own quota is untouched
    assert (await as_client(KEY_B)).status_code == 200
    assert [credential(r) for r in mock.requests] == [KEY_A, KEY_B, KEY_B]

    entries = [e for e in (await quota(gw))["accounts"] if e["account_id"] == account.id]
    assert entries[0]["client"] is None and entries[0]["kind"] == "pass-through"
    by_client = {e["client"]: e for e in entries[1:]}
    assert len(by_client) == 2 and sum(e["blocked"] for e in by_client.values()) == 1
    listing = json.dumps(entries)
    assert KEY_A not in listing and KEY_B not in listing


def plan_catalog() -> Catalog:
    """The built-in catalog and a plan that publishes limits but reports no usage."""
    plan = Catalog.from_data(
        {
            "providers": [
                {
                    "id": "plan",
                    "alias": "pl",
                    "name": "A plan without usage reports",
                    "format": "openai",
                    "base_url": "https://plan.example/v1",
                    "auth": "api_key",
                    "auth_header": "bearer",
                    "tier": "subscription",
                    "quota_limits": [{"window": "5h", "requests": 2}],
                }
            ]
        }
    ).all()
    return Catalog([*Catalog.load().all(), *plan])


async def test_estimated_windows_count_our_own_requests_even_across_a_restart(
    tmp_path: Path, mock: MockUpstream
) -> None:
    mock.route("POST", "/plan/v1/chat/completions", Json(openai_chat_json("ok", "m1")))
    async with running_gateway(tmp_path, catalog=plan_catalog()) as gw:
        a, b = await two_accounts(gw, mock, "openai", "/plan/v1")
        await gw.gateway.store.update_provider("cc", extra={"catalog": "plan"})
        await gw.reload()
        # Two requests a 5 hours is A's whole allowance: the third goes to B.
        assert [served_by(await chat(gw, "cc/m1")) for _ in range(3)] == [a, a, b]
        entry = next(e for e in (await quota(gw))["accounts"] if e["account_id"] == a)
        (window,) = entry["windows"]
        assert window["name"] == "requests-5h" and window["used_percent"] == 100.0
        assert window["estimated"] is True and window["source"] == "estimate"
        assert entry["blocked"] is True

    # A new start counts the request log back in: A stays out.
    async with running_gateway(tmp_path, catalog=plan_catalog()) as gw:
        assert served_by(await chat(gw, "cc/m1")) == b
        entry = next(e for e in (await quota(gw))["accounts"] if e["account_id"] == a)
        assert entry["windows"][0]["used_percent"] == 100.0 and entry["blocked"] is True
