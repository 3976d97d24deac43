"""Fault injection through the real gateway: every failure before the first
byte moves the request on (next account, then next target), nothing is
retried after it. Circuit breakers are in
``test_fallback_breaker.py``, other formats' error events in
``test_fallback_more.py``.

Each test starts a gateway on 127.0.0.1:0 against loopback mock upstreams
whose replies are scripted per account (the mock tells accounts apart by the
credential the gateway sends) and checks three things: what the client got,
what each upstream saw (request counts), and what the gateway now believes
(cooldowns and breakers in ``gw.gateway.resilience``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from omniroute.gateway.resilience import account_key, account_model_key, model_key, provider_key
from omniroute.store.records import ComboTargetRecord
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Hang,
    Json,
    MockUpstream,
    Raw,
    RecordedRequest,
    Reply,
    Reset,
    Sse,
    SseEvent,
    Status,
    anthropic_error,
    anthropic_error_event,
    anthropic_json,
    anthropic_sse,
    openai_chat_json,
    openai_chat_sse,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY_A = "sk-fallback-account-a-0123456789"
KEY_B = "sk-fallback-account-b-0123456789"
CHAT = "/p/v1/chat/completions"
FIRST_BYTE_TIMEOUT = 0.5
ANSWER_A = "Answer from account A."
ANSWER_B = "Answer from account B."


# ------------------------------------------------------------------ fixtures


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    """Provider ``p`` (OpenAI format) with two accounts, A before B."""
    async with running_gateway(
        tmp_path,
        upstream_first_byte_timeout=FIRST_BYTE_TIMEOUT,
        upstream_idle_timeout=FIRST_BYTE_TIMEOUT,
    ) as harness:
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY_A, ["m"])
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY_B)
        yield harness


# ------------------------------------------------------------------- helpers


def credential(req: RecordedRequest) -> str:
    """The upstream key a request carried, in any of the providers' headers."""
    auth = req.headers.get("authorization", "").removeprefix("Bearer ")
    return auth or req.headers.get("x-goog-api-key", "") or req.headers.get("x-api-key", "")


def by_account(
    replies: dict[str, Reply | Callable[[RecordedRequest], Reply]],
) -> Callable[[RecordedRequest], Reply]:
    """A reply source answering each account (by its key) with its own reply."""

    def pick(req: RecordedRequest) -> Reply:
        reply = replies[credential(req)]
        return reply(req) if callable(reply) else reply

    return pick


def sent_with(mock: MockUpstream, key: str) -> int:
    return sum(1 for r in mock.requests if credential(r) == key)


def sent_to(mock: MockUpstream, prefix: str) -> int:
    return sum(1 for r in mock.requests if r.path.startswith(prefix))


def ok_reply(text: str, stream: bool, model: str = "m") -> Reply:
    if stream:
        return Sse(openai_chat_sse([text[:7], text[7:]], model))
    return Json(openai_chat_json(text, model))


def ok_for(text: str, model: str = "m") -> Callable[[RecordedRequest], Reply]:
    """The right OpenAI answer shape (JSON or SSE) for whatever was asked."""

    def reply(req: RecordedRequest) -> Reply:
        return ok_reply(text, req.json().get("stream") is True, model)

    return reply


def account_ids(gw: Harness, provider: str) -> list[int]:
    return [a.id for a in gw.gateway.registry().provider(provider).accounts]


async def chat(
    gw: Harness, model: str = "p/m", *, stream: bool = False, headers: dict[str, str] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        return await http.post(
            "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {gw.client_key}", **(headers or {})},
        )


def sse_data(text: str) -> list[Any]:
    """The JSON of every ``data:`` line of an SSE body ([DONE] left out)."""
    out = []
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            out.append(json.loads(line[5:]))
    return out


def chat_text(resp: httpx.Response) -> str:
    """The assistant text of an OpenAI answer, JSON or streamed."""
    if resp.headers["content-type"].startswith("text/event-stream"):
        return "".join(
            (c["choices"][0]["delta"].get("content") or "")
            for c in sse_data(resp.text)
            if c.get("choices")
        )
    return str(resp.json()["choices"][0]["message"]["content"])


def header(resp: httpx.Response | Any, name: str) -> str | None:
    value: str | None = resp.headers.get(name)
    return value


# --------------------------------------- failures before the first byte


FAILURES: dict[str, Reply] = {
    "500": Status(500, json.dumps(openai_error("boom", "server_error")).encode()),
    "503": Status(503, b"upstream overloaded"),
    "429": Status(
        429,
        json.dumps(openai_error("slow down", "rate_limit_error")).encode(),
        {"retry-after": "30"},
    ),
    "hang": Hang(),
    "reset": Reset(),
    "401": Status(401, json.dumps(openai_error("bad key", "authentication_error")).encode()),
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("failure", list(FAILURES))
async def test_failure_of_first_account_is_served_by_the_second(
    gw: Harness, mock: MockUpstream, failure: str, stream: bool
) -> None:
    a, b = account_ids(gw, "p")
    mock.route("POST", CHAT, by_account({KEY_A: FAILURES[failure], KEY_B: ok_for(ANSWER_B)}))
    resp = await chat(gw, stream=stream)
    assert resp.status_code == 200, resp.text
    assert chat_text(resp) == ANSWER_B
    assert header(resp, "x-omniroute-account") == str(b)
    assert header(resp, "x-omniroute-provider") == "p"
    assert header(resp, "x-omniroute-attempts") == "2"
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1
    res = gw.gateway.resilience
    if failure in ("429", "401"):
        # The account is at fault: a rate limit rests this model on it
        # (Retry-After when given), a refused key the whole account.
        rested = account_model_key(a, "m") if failure == "429" else account_key(a)
        other = account_key(a) if failure == "429" else account_model_key(a, "m")
        remaining = res.cooldowns.remaining(rested)
        assert remaining > 0 and res.cooldowns.remaining(other) == 0
        if failure == "429":
            assert 28 < remaining <= 30
        assert [
            i.recent_failures for i in res.breakers.listing() if i.key == provider_key("p")
        ] in ([], [0])
    else:
        # The upstream failed on this model: counted against the model's
        # breaker (one model failing is not the provider's trouble), no cooldown.
        assert res.cooldowns.remaining(account_key(a)) == 0
        assert res.breakers.get(model_key("p", "m")).info().recent_failures == 1
        assert res.breakers.get(provider_key("p")).info().recent_failures == 0
    assert res.cooldowns.remaining(account_key(b)) == 0


ERROR_FIRST: dict[str, list[SseEvent]] = {
    # OpenAI sends a JSON error object as a data event inside a 200 stream.
    "error-first": [
        {
            "error": {
                "message": "The server is overloaded",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    ],
    "role-then-error": [
        openai_chat_sse([], "m")[0],
        {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
    ],
}


@pytest.mark.parametrize("shape", list(ERROR_FIRST))
async def test_error_event_before_first_token_falls_over(
    gw: Harness, mock: MockUpstream, shape: str
) -> None:
    _, b = account_ids(gw, "p")
    mock.route(
        "POST",
        CHAT,
        by_account(
            {
                KEY_A: Sse(ERROR_FIRST[shape], end="close"),
                KEY_B: ok_for(ANSWER_B),
            }
        ),
    )
    resp = await chat(gw, stream=True)
    assert resp.status_code == 200
    assert chat_text(resp) == ANSWER_B
    assert header(resp, "x-omniroute-account") == str(b)
    # Nothing of the failed attempt reached the client.
    assert all("error" not in event for event in sse_data(resp.text))
    assert resp.text.count('"role":"assistant"') == 1
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1


async def test_stream_that_stalls_before_the_first_token_falls_over(
    gw: Harness, mock: MockUpstream
) -> None:
    # Headers and the opening chunk arrive, then nothing: the idle timeout
    # fires while nothing has been sent to the client yet.
    opening = openai_chat_sse([], "m")[:1]
    mock.route("POST", CHAT, by_account({KEY_A: Sse(opening, end="hang"), KEY_B: ok_for(ANSWER_B)}))
    started = time.monotonic()
    resp = await chat(gw, stream=True)
    assert chat_text(resp) == ANSWER_B
    assert header(resp, "x-omniroute-attempts") == "2"
    assert time.monotonic() - started < 10  # bounded by the timeout, not by the hang


async def test_json_answer_cut_mid_body_falls_over(gw: Harness, mock: MockUpstream) -> None:
    # Nothing reaches the client before a JSON answer is complete, so a body
    # cut in the middle is still a failure before the first byte.
    cut = Raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b'content-length: 400\r\n\r\n{"id":"chatcmpl-x","choi'
    )
    mock.route("POST", CHAT, by_account({KEY_A: cut, KEY_B: ok_for(ANSWER_B)}))
    resp = await chat(gw)
    assert resp.status_code == 200
    assert chat_text(resp) == ANSWER_B
    assert sent_with(mock, KEY_A) == 1


# ------------------------------------------------------------- cooldowns


async def test_rate_limited_account_cools_down_then_serves_again(
    gw: Harness, mock: MockUpstream
) -> None:
    a, b = account_ids(gw, "p")
    limited = Status(
        429,
        json.dumps(openai_error("slow down", "rate_limit_error")).encode(),
        {"retry-after": "1"},
    )
    mock.enqueue("POST", CHAT, limited)  # A is asked first and gets this once
    mock.route("POST", CHAT, by_account({KEY_A: ok_for(ANSWER_A), KEY_B: ok_for(ANSWER_B)}))
    first = await chat(gw)
    assert chat_text(first) == ANSWER_B and header(first, "x-omniroute-attempts") == "2"
    cooling = gw.gateway.resilience.cooldowns.remaining(account_model_key(a, "m"))
    assert 0.5 < cooling <= 1.0, cooling
    # While A rests, B serves at once and A is not even asked.
    for _ in range(3):
        resp = await chat(gw)
        assert chat_text(resp) == ANSWER_B
        assert header(resp, "x-omniroute-attempts") == "1"
    assert sent_with(mock, KEY_A) == 1
    # The cooldown ends on time and traffic returns to A (it comes first).
    deadline = time.monotonic() + 3.0
    while gw.gateway.resilience.cooldowns.remaining(account_model_key(a, "m")) > 0:
        assert time.monotonic() < deadline, "the cooldown did not end"
        await asyncio.sleep(0.05)
    back = await chat(gw)
    assert chat_text(back) == ANSWER_A
    assert header(back, "x-omniroute-account") == str(a)
    assert sent_with(mock, KEY_A) == 2
    assert gw.gateway.resilience.cooldowns.remaining(account_key(b)) == 0


async def test_all_accounts_rate_limited_gives_earliest_retry_after(
    gw: Harness, mock: MockUpstream
) -> None:
    a, b = account_ids(gw, "p")
    body = json.dumps(openai_error("slow down", "rate_limit_error")).encode()
    mock.route(
        "POST",
        CHAT,
        by_account(
            {
                KEY_A: Status(429, body, {"retry-after": "20"}),
                KEY_B: Status(429, body, {"retry-after": "7"}),
            }
        ),
    )
    resp = await chat(gw)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"
    err = resp.json()["error"]
    assert err["type"] == "rate_limit_error"
    # The message names what was tried, and never a credential.
    assert f"account {a}" in err["message"] and f"account {b}" in err["message"]
    assert KEY_A not in resp.text and KEY_B not in resp.text
    # Both now rest: the next request is answered without calling anyone,
    # with the time until the first of them is usable again.
    again = await chat(gw, stream=True)
    assert again.status_code in (429, 503)
    assert 1 <= int(again.headers["retry-after"]) <= 7
    assert len(mock.requests) == 2


async def test_client_error_is_returned_at_once_and_cools_nothing(
    gw: Harness, mock: MockUpstream
) -> None:
    a, b = account_ids(gw, "p")
    bad = Status(400, json.dumps(openai_error("messages: too long", param="messages")).encode())
    mock.route("POST", CHAT, by_account({KEY_A: bad, KEY_B: ok_for(ANSWER_B)}))
    resp = await chat(gw)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "too long" in resp.json()["error"]["message"]
    assert sent_with(mock, KEY_B) == 0  # a bad request is bad everywhere
    res = gw.gateway.resilience
    assert res.cooldowns.remaining(account_key(a)) == 0
    assert res.cooldowns.remaining(account_key(b)) == 0
    assert all(i.recent_failures == 0 for i in res.breakers.listing())
    # A is still first in line.
    mock.route("POST", CHAT, by_account({KEY_A: ok_for(ANSWER_A), KEY_B: ok_for(ANSWER_B)}))
    assert chat_text(await chat(gw)) == ANSWER_A


async def test_fallback_budget_bounds_attempts(gw: Harness, mock: MockUpstream) -> None:
    await gw.add_provider("p", "openai", mock.url + "/p/v1", "sk-fallback-account-c-012345")
    await gw.config.set_setting("fallback", {"max_attempts": 2, "max_seconds": 30})
    await gw.reload()
    mock.route("POST", CHAT, Status(500, b"{}"))
    resp = await chat(gw)
    assert resp.status_code == 502
    assert len(mock.requests) == 2  # the third account was never tried


# ---------------------------------------------- accounts, then targets, then formats


async def test_both_accounts_then_the_next_combo_target(gw: Harness, mock: MockUpstream) -> None:
    await gw.add_provider("q", "openai", mock.url + "/q/v1", "sk-q-provider-key-0123456789", ["n"])
    await gw.config.upsert_combo(
        "chain",
        [ComboTargetRecord("p/m", 1, True), ComboTargetRecord("q/n", 1, True)],
        strategy="fill-first",
    )
    await gw.reload()
    (q_account,) = account_ids(gw, "q")
    mock.route("POST", CHAT, Status(503, b"overloaded"))
    mock.route("POST", "/q/v1/chat/completions", ok_for("from q", model="n"))
    for stream in (False, True):
        resp = await chat(gw, "chain", stream=stream)
        assert resp.status_code == 200
        assert chat_text(resp) == "from q"
        assert header(resp, "x-omniroute-provider") == "q"
        assert header(resp, "x-omniroute-account") == str(q_account)
        assert header(resp, "x-omniroute-model") == "n"
        assert header(resp, "x-omniroute-combo") == "chain"
        assert header(resp, "x-omniroute-combo-step") == "1"
        assert header(resp, "x-omniroute-attempts") == "3"
    assert sent_with(mock, KEY_A) == 2 and sent_with(mock, KEY_B) == 2
    assert mock.requests[-1].json()["model"] == "n"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_fallback_across_formats(tmp_path: Path, stream: bool) -> None:
    """Anthropic-format upstream overloaded (529) -> OpenAI-format upstream, for
    an OpenAI client and an Anthropic client alike."""
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        await gw.add_provider(
            "ant", "anthropic", mock.url + "/ant/v1", "sk-ant-upstream-0123456789", ["claude-x"]
        )
        await gw.add_provider(
            "oai", "openai", mock.url + "/oai/v1", "sk-oai-upstream-0123456789", ["gpt-x"]
        )
        await gw.config.upsert_combo(
            "mixed",
            [ComboTargetRecord("ant/claude-x", 1, True), ComboTargetRecord("oai/gpt-x", 1, True)],
            strategy="fill-first",
        )
        await gw.reload()
        overloaded = Status(529, json.dumps(anthropic_error("Overloaded", "overloaded_error")))
        mock.route("POST", "/ant/v1/messages", overloaded)
        mock.route("POST", "/oai/v1/chat/completions", ok_for("Translated answer.", "gpt-x"))
        oai = gw.track(
            openai.AsyncOpenAI(
                base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0, timeout=15
            )
        )
        ant = gw.track(
            anthropic.AsyncAnthropic(
                base_url=gw.base_url, api_key=gw.client_key, max_retries=0, timeout=15
            )
        )
        messages: Any = [{"role": "user", "content": "hello"}]
        message: Any
        if stream:
            chunks = await oai.chat.completions.create(
                model="mixed", messages=messages, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
            async with ant.messages.stream(
                model="mixed", messages=messages, max_tokens=64
            ) as events:
                message = await events.get_final_message()
        else:
            done = await oai.chat.completions.create(model="mixed", messages=messages)
            text = done.choices[0].message.content or ""
            message = await ant.messages.create(model="mixed", messages=messages, max_tokens=64)
        assert text == "Translated answer."
        assert "".join(b.text for b in message.content if b.type == "text") == (
            "Translated answer."
        )
        assert sent_to(mock, "/ant/") == 2 and sent_to(mock, "/oai/") == 2
        sent = [r.json() for r in mock.requests if r.path.startswith("/oai/")]
        for body in sent:
            assert body["model"] == "gpt-x"
            assert body["messages"][-1]["content"] in ("hello", [{"type": "text", "text": "hello"}])


async def test_anthropic_error_event_after_message_start_falls_over(tmp_path: Path) -> None:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        for key in (KEY_A, KEY_B):
            await gw.add_provider("ant", "anthropic", mock.url + "/ant/v1", key, ["claude-x"])
        failing = anthropic_sse([], "claude-x")[:2]  # message_start, ping
        failing.append(anthropic_error_event("Overloaded"))
        mock.route(
            "POST",
            "/ant/v1/messages",
            by_account(
                {
                    KEY_A: Sse(failing),
                    KEY_B: lambda req: (
                        Sse(anthropic_sse(["Second ", "account."], "claude-x"))
                        if req.json().get("stream")
                        else Json(anthropic_json("Second account.", "claude-x"))
                    ),
                }
            ),
        )
        body = {
            "model": "ant/claude-x",
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        headers = {"x-api-key": gw.client_key, "anthropic-version": "2023-06-01"}
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
            raw = await http.post("/v1/messages", json=body, headers=headers)
        assert raw.status_code == 200
        assert raw.text.count("event: message_start") == 1
        assert "event: error" not in raw.text
        assert raw.text.count("event: message_stop") == 1
        assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1
        # The same through the SDK, and for an OpenAI client (translated).
        ant = gw.track(
            anthropic.AsyncAnthropic(
                base_url=gw.base_url, api_key=gw.client_key, max_retries=0, timeout=15
            )
        )
        async with ant.messages.stream(
            model="ant/claude-x", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as events:
            final = await events.get_final_message()
        assert [b.text for b in final.content if b.type == "text"] == ["Second account."]
        resp = await chat(gw, "ant/claude-x", stream=True)
        assert chat_text(resp) == "Second account."
        assert sent_with(mock, KEY_A) == 3 and sent_with(mock, KEY_B) == 3


# ------------------------------------------------- never after the first byte


async def test_no_retry_after_first_byte_passthrough(gw: Harness, mock: MockUpstream) -> None:
    cut = openai_chat_sse(["partial ", "answer"], "m")[:3]  # role, two pieces; then RST
    mock.route("POST", CHAT, by_account({KEY_A: Sse(cut, end="reset"), KEY_B: ok_for(ANSWER_B)}))
    resp = await chat(gw, stream=True)
    assert resp.status_code == 200
    events = sse_data(resp.text)
    assert chat_text(resp) == "partial answer"  # exactly once: nothing duplicated
    assert "error" in events[-1]
    assert "[DONE]" not in resp.text
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 0


async def test_no_retry_after_first_byte_translated(gw: Harness, mock: MockUpstream) -> None:
    cut = openai_chat_sse(["partial ", "answer"], "m")[:3]
    mock.route("POST", CHAT, by_account({KEY_A: Sse(cut, end="reset"), KEY_B: ok_for(ANSWER_B)}))
    body = {
        "model": "p/m",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {"x-api-key": gw.client_key, "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        resp = await http.post("/v1/messages", json=body, headers=headers)
    assert resp.status_code == 200
    deltas = [
        json.loads(line[5:])
        for line in resp.text.splitlines()
        if line.startswith("data:") and '"text_delta"' in line
    ]
    assert "".join(d["delta"]["text"] for d in deltas) == "partial answer"
    assert resp.text.count("event: message_start") == 1
    assert "event: error" in resp.text
    assert "event: message_stop" not in resp.text
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 0
    # The SDK reports it as an error, not as a complete answer.
    ant = gw.track(
        anthropic.AsyncAnthropic(
            base_url=gw.base_url, api_key=gw.client_key, max_retries=0, timeout=15
        )
    )
    with pytest.raises(anthropic.APIError):
        async with ant.messages.stream(
            model="p/m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as events:
            async for _ in events:
                pass
    assert sent_with(mock, KEY_A) == 2 and sent_with(mock, KEY_B) == 0


async def test_model_missing_upstream_moves_to_next_target(gw: Harness, mock: MockUpstream) -> None:
    # A 404 means this provider lacks the model: its other accounts would
    # say the same, so the request moves straight to the next target.
    await gw.add_provider("q", "openai", mock.url + "/q/v1", "sk-q-provider-key-0123456789", ["m"])
    await gw.config.upsert_combo(
        "chain",
        [ComboTargetRecord("p/m", 1, True), ComboTargetRecord("q/m", 1, True)],
        strategy="fill-first",
    )
    await gw.reload()
    missing = Status(
        404,
        json.dumps(openai_error("The model `m` does not exist", code="model_not_found")).encode(),
    )
    mock.route("POST", CHAT, missing)
    mock.route("POST", "/q/v1/chat/completions", ok_for("from q"))
    resp = await chat(gw, "chain")
    assert chat_text(resp) == "from q"
    assert header(resp, "x-omniroute-attempts") == "2"
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 0
    assert gw.gateway.resilience.cooldowns.listing() == []


async def test_busy_account_passes_the_request_to_the_next(gw: Harness, mock: MockUpstream) -> None:
    """Per-account limits: one stream at a time per account and no
    queue, so a second concurrent stream goes to B and a third is refused by
    the gateway itself, without calling anyone."""
    for account in account_ids(gw, "p"):
        await gw.config.update_account(
            account, extra={"limits": {"max_concurrent": 1, "max_queue": 0}}
        )
    await gw.reload()
    slow = Sse(openai_chat_sse(["one ", "two ", "three"], "m"), delay=0.3)
    mock.route("POST", CHAT, slow)
    first = asyncio.ensure_future(chat(gw, stream=True))
    second = asyncio.ensure_future(chat(gw, stream=True))
    for _ in range(200):
        if len(mock.requests) == 2:
            break
        await asyncio.sleep(0.01)
    third = await chat(gw, stream=True)
    assert third.status_code == 429
    assert "retry-after" in third.headers
    done = [await first, await second]
    assert [chat_text(r) for r in done] == ["one two three"] * 2
    assert sent_with(mock, KEY_A) == 1 and sent_with(mock, KEY_B) == 1
    # The limits were the gateway's own: no account was cooled for them.
    assert gw.gateway.resilience.cooldowns.listing() == []
    after = await chat(gw, stream=True)
    assert chat_text(after) == "one two three"
    assert sent_with(mock, KEY_A) == 2
