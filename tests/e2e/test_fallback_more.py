"""More fault injection through the real gateway: error events of the Gemini
and Responses formats, backoff without a hint, sticky sessions meeting a
cooldown, the time budget of one request, and a failure shared by
idempotent duplicates.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.gateway.resilience import account_model_key
from tests.e2e.test_fallback import by_account, chat_text, sent_with
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Hang,
    Json,
    MockUpstream,
    Sse,
    Status,
    gemini_error,
    gemini_json,
    gemini_sse,
    openai_chat_json,
    openai_error,
    responses_error_event,
    responses_json,
    responses_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY_A = "sk-more-account-a-0123456789"
KEY_B = "sk-more-account-b-0123456789"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as harness:
        yield harness


async def two_accounts(gw: Harness, mock: MockUpstream, fmt: str, prefix: str, model: str) -> None:
    for key in (KEY_A, KEY_B):
        await gw.add_provider("p", fmt, mock.url + prefix, key, [model])


async def post(
    gw: Harness, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=30) as http:
        return await http.post(
            path, json=body, headers={"authorization": f"Bearer {gw.client_key}", **(headers or {})}
        )


def chat_body(model: str = "p/m", stream: bool = False) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


# ----------------------------------------------- error events of other formats


async def test_gemini_error_event_first_falls_over_and_cools(
    gw: Harness, mock: MockUpstream
) -> None:
    await two_accounts(gw, mock, "gemini", "/gm/v1beta", "gm")
    exhausted = json.dumps(gemini_error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED"))
    mock.route(
        "POST",
        "/gm/v1beta/models/gm:streamGenerateContent",
        by_account(
            {
                KEY_A: Sse([f"data: {exhausted}\r\n\r\n"]),
                KEY_B: Sse(gemini_sse(["Gemini ", "second account."], "gm")),
            }
        ),
    )
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    resp = await post(
        gw,
        "/v1beta/models/p/gm:streamGenerateContent?alt=sse",
        body,
        {"x-goog-api-key": gw.client_key},
    )
    assert resp.status_code == 200, resp.text
    texts = [
        part.get("text", "")
        for line in resp.text.splitlines()
        if line.startswith("data:")
        for cand in json.loads(line[5:]).get("candidates", [])
        for part in cand.get("content", {}).get("parts", [])
    ]
    assert "".join(texts) == "Gemini second account."
    assert '"error"' not in resp.text
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1
    a = gw.gateway.registry().provider("p").accounts[0].id
    # RESOURCE_EXHAUSTED is Gemini's rate limit: this model rests on the account.
    assert gw.gateway.resilience.cooldowns.remaining(account_model_key(a, "gm")) > 0


async def test_responses_error_event_first_falls_over(gw: Harness, mock: MockUpstream) -> None:
    await two_accounts(gw, mock, "openai-responses", "/rs/v1", "rm")
    failing = responses_sse([], "rm")[:1] + [responses_error_event("The server is overloaded")]
    mock.route(
        "POST",
        "/rs/v1/responses",
        by_account(
            {
                KEY_A: Sse(failing),
                KEY_B: lambda req: (
                    Sse(responses_sse(["Responses ", "second."], "rm"))
                    if req.json().get("stream")
                    else Json(responses_json("Responses second.", "rm"))
                ),
            }
        ),
    )
    resp = await post(gw, "/v1/responses", {"model": "p/rm", "input": "hi", "stream": True})
    assert resp.status_code == 200
    assert resp.text.count("event: response.created") == 1
    assert "event: error" not in resp.text and "response.failed" not in resp.text
    deltas = [
        json.loads(line[5:])["delta"]
        for line in resp.text.splitlines()
        if line.startswith("data:") and "response.output_text.delta" in line
    ]
    assert "".join(deltas) == "Responses second."
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1
    # And for a Chat Completions client, translated.
    chat = await post(gw, "/v1/chat/completions", chat_body("p/rm", stream=True))
    assert chat_text(chat) == "Responses second."


# ------------------------------------------------------------------ cooldowns


async def test_rate_limit_without_hint_backs_off_exponentially(
    gw: Harness, mock: MockUpstream
) -> None:
    await gw.config.set_setting("cooldown", {"base": 0.2, "factor": 2, "cap": 5})
    await two_accounts(gw, mock, "openai", "/p/v1", "m")
    limited = Status(429, json.dumps(openai_error("slow down", "rate_limit_error")).encode())
    mock.route(
        "POST",
        "/p/v1/chat/completions",
        by_account({KEY_A: limited, KEY_B: Json(openai_chat_json("from B", "m"))}),
    )
    a = gw.gateway.registry().provider("p").accounts[0].id
    cooldowns = gw.gateway.resilience.cooldowns
    lengths = []
    for _ in range(3):
        for _ in range(100):  # the longest cooldown here is 0.8 s
            if cooldowns.remaining(account_model_key(a, "m")) == 0:
                break
            await asyncio.sleep(0.02)
        resp = await post(gw, "/v1/chat/completions", chat_body())
        assert chat_text(resp) == "from B"
        lengths.append(cooldowns.remaining(account_model_key(a, "m")))
    # base 0.2 s, doubled per strike (jitter may take up to a fifth off, and
    # some of it has passed by the time the answer is read).
    assert 0.08 <= lengths[0] <= 0.2
    assert 0.22 <= lengths[1] <= 0.4
    assert 0.5 <= lengths[2] <= 0.8
    assert sent_with(mock, KEY_A) == 3


async def test_sticky_session_leaves_a_cooling_account(gw: Harness, mock: MockUpstream) -> None:
    await two_accounts(gw, mock, "openai", "/p/v1", "m")
    a, b = (acc.id for acc in gw.gateway.registry().provider("p").accounts)
    ok = {
        KEY_A: Json(openai_chat_json("from A", "m")),
        KEY_B: Json(openai_chat_json("from B", "m")),
    }
    mock.route("POST", "/p/v1/chat/completions", by_account(dict(ok)))
    session = {"x-session-id": "conversation-9"}
    assert chat_text(await post(gw, "/v1/chat/completions", chat_body(), session)) == "from A"
    mock.route(
        "POST",
        "/p/v1/chat/completions",
        by_account({**ok, KEY_A: Status(429, b"{}", {"retry-after": "30"})}),
    )
    moved = await post(gw, "/v1/chat/completions", chat_body(), session)
    assert chat_text(moved) == "from B"
    assert moved.headers["x-omniroute-account"] == str(b)
    # The session now sticks to B, and A is not asked while it rests.
    for _ in range(3):
        again = await post(gw, "/v1/chat/completions", chat_body(), session)
        assert again.headers["x-omniroute-account"] == str(b)
        assert again.headers["x-omniroute-attempts"] == "1"
    assert sent_with(mock, KEY_A) == 2
    assert a != b


async def test_retry_after_is_never_too_early(gw: Harness, mock: MockUpstream) -> None:
    """A client that waits what Retry-After says must find the account usable:
    the header (whole seconds) rounds the cooldown up, never down."""
    await gw.add_provider("p", "openai", mock.url + "/p/v1", KEY_A, ["m"])
    limited = Status(429, b"{}", {"retry-after-ms": "1400"})
    mock.enqueue("POST", "/p/v1/chat/completions", limited)
    mock.route("POST", "/p/v1/chat/completions", Json(openai_chat_json("served", "m")))
    first = await post(gw, "/v1/chat/completions", chat_body())
    assert first.status_code == 429
    assert int(first.headers["retry-after"]) >= 1.4
    again = await post(gw, "/v1/chat/completions", chat_body())  # cooling: nobody is asked
    assert again.status_code in (429, 503)
    wait = int(again.headers["retry-after"])
    assert len(mock.requests) == 1
    await asyncio.sleep(wait)
    after = await post(gw, "/v1/chat/completions", chat_body())
    assert after.status_code == 200, f"refused after waiting Retry-After ({wait} s): {after.text}"
    assert chat_text(after) == "served"


# -------------------------------------------------------------- time budget


async def test_time_budget_bounds_a_request_with_hanging_upstreams(
    gw: Harness, mock: MockUpstream
) -> None:
    """max_seconds bounds the whole request, the attempt in flight included:
    with every account hanging and a first-byte timeout far longer than the
    budget, the client hears a timeout soon after the budget is spent."""
    await two_accounts(gw, mock, "openai", "/p/v1", "m")
    await gw.config.set_setting("fallback", {"max_attempts": 5, "max_seconds": 1.0})
    await gw.reload()
    mock.route("POST", "/p/v1/chat/completions", Hang())
    started = time.monotonic()
    resp = await post(gw, "/v1/chat/completions", chat_body())
    took = time.monotonic() - started
    assert resp.status_code == 504, resp.text
    assert took < 3.0, f"the request took {took:.1f} s against a 1 s budget"


# ------------------------------------------------------------- idempotency


async def test_idempotent_duplicates_share_a_failure_then_retry_runs_again(
    gw: Harness, mock: MockUpstream
) -> None:
    await gw.add_provider("p", "openai", mock.url + "/p/v1", KEY_A, ["m"])
    mock.route("POST", "/p/v1/chat/completions", Status(503, b"overloaded"))
    key = {"idempotency-key": "retry-me"}
    one, two = await asyncio.gather(
        post(gw, "/v1/chat/completions", chat_body(), key),
        post(gw, "/v1/chat/completions", chat_body(), key),
    )
    assert one.status_code == two.status_code == 503
    assert len(mock.requests) == 1
    # A failure is not remembered: the client's retry with the same key runs.
    mock.route("POST", "/p/v1/chat/completions", Json(openai_chat_json("recovered", "m")))
    retry = await post(gw, "/v1/chat/completions", chat_body(), key)
    assert chat_text(retry) == "recovered"
    assert len(mock.requests) == 2


async def test_gemini_json_overloaded_falls_over(gw: Harness, mock: MockUpstream) -> None:
    await two_accounts(gw, mock, "gemini", "/gm/v1beta", "gm")
    mock.route(
        "POST",
        "/gm/v1beta/models/gm:generateContent",
        by_account(
            {
                KEY_A: Json(gemini_error(503, "The model is overloaded", "UNAVAILABLE"), 503),
                KEY_B: Json(gemini_json("Gemini JSON from B.", "gm")),
            }
        ),
    )
    resp = await post(gw, "/v1/chat/completions", chat_body("p/gm"))
    assert chat_text(resp) == "Gemini JSON from B."
    assert resp.headers["x-omniroute-attempts"] == "2"
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1
