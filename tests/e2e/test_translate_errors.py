"""Errors in the caller's dialect, whatever the upstream format.

An upstream 429 (with Retry-After) or 400, in the upstream's own error
shape, must reach each SDK as its own exception type with the right status;
an upstream dying mid-stream must end each dialect's stream with that
dialect's error event and without its normal terminator.

Each case gets a provider of its own: a 429 cools its account down, and a
broken stream may count against a breaker; neither must leak into the next
case.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors as gerrors

from tests.e2e.conftest import (
    CLIENTS,
    FORMATS,
    PARTIAL,
    PROMPT,
    Ask,
    Env,
    Upstream,
    add_upstream,
    ask,
    cut_stream,
    raw_stream,
    sse_events,
)
from tests.support.mock_upstream import (
    Json,
    Sse,
    anthropic_error,
    gemini_error,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]
RATE_MESSAGE = "Rate limit reached for requests"
BAD_MESSAGE = "Invalid value for temperature"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def names() -> itertools.count[int]:
    return itertools.count(1)


async def _fresh(env: Env, fmt: str, names: itertools.count[int]) -> Upstream:
    return await add_upstream(env, fmt, f"err{next(names)}")


def _upstream_error(fmt: str, status: int) -> Json:
    if status == 429:
        headers = {"retry-after": "7"}
        if fmt == "anthropic":
            return Json(anthropic_error(RATE_MESSAGE, "rate_limit_error"), 429, headers)
        if fmt == "gemini":
            body = gemini_error(429, RATE_MESSAGE, "RESOURCE_EXHAUSTED")
            body["error"]["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
            ]
            return Json(body, 429, headers)
        return Json(openai_error(RATE_MESSAGE, "requests", "rate_limit_exceeded"), 429, headers)
    if fmt == "anthropic":
        return Json(anthropic_error(BAD_MESSAGE, "invalid_request_error"), 400)
    if fmt == "gemini":
        return Json(gemini_error(400, BAD_MESSAGE, "INVALID_ARGUMENT"), 400)
    return Json(openai_error(BAD_MESSAGE, "invalid_request_error", param="temperature"), 400)


EXPECTED = {
    ("openai", 429): openai.RateLimitError,
    ("openai", 400): openai.BadRequestError,
    ("responses", 429): openai.RateLimitError,
    ("responses", 400): openai.BadRequestError,
    ("anthropic", 429): anthropic.RateLimitError,
    ("anthropic", 400): anthropic.BadRequestError,
    ("gemini", 429): gerrors.ClientError,
    ("gemini", 400): gerrors.ClientError,
}
GEMINI_STATUS = {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}
ANTHROPIC_TYPE = {429: "rate_limit_error", 400: "invalid_request_error"}


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("status", [429, 400])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_upstream_status_becomes_sdk_error(
    env: Env, names: itertools.count[int], client: str, fmt: str, status: int, stream: bool
) -> None:
    up = await _fresh(env, fmt, names)
    env.serve(up, stream, _upstream_error(fmt, status))
    with pytest.raises(EXPECTED[(client, status)]) as caught:
        await ask(env, client, up.model_string, stream, Ask())
    err: Any = caught.value
    if client == "gemini":
        assert err.code == status
        assert err.status == GEMINI_STATUS[status]
        headers = err.response.headers
        message = err.message
    else:
        assert err.status_code == status
        headers = err.response.headers
        body = err.response.json()
        if client == "anthropic":
            assert body["type"] == "error"
            assert body["error"]["type"] == ANTHROPIC_TYPE[status]
        else:
            assert {"message", "type"} <= set(body["error"])
        message = str(err)
    assert (RATE_MESSAGE if status == 429 else BAD_MESSAGE) in message
    if status == 429:
        assert headers.get("retry-after") == "7"
    assert env.requests_to(up), "the upstream was never called"


# ----------------------------------------------------------- mid-stream death


def _check_error_tail(client: str, events: list[tuple[str | None, str]]) -> None:
    datas = [data for _, data in events]
    names_ = [name for name, _ in events]
    if client == "openai":
        assert "[DONE]" not in datas
        chunks = [json.loads(d) for d in datas]
        assert "error" in chunks[-1] and chunks[-1]["error"]["message"]
        assert not any(
            c.get("choices") and c["choices"][0].get("finish_reason") for c in chunks[:-1]
        )
    elif client == "responses":
        assert "response.completed" not in names_
        name, data = events[-1]
        failed = json.loads(data)
        assert name == failed["type"] == "response.failed"
        assert failed["response"]["status"] == "failed"
        assert failed["response"]["error"]["message"]
    elif client == "anthropic":
        assert "message_stop" not in names_
        name, data = events[-1]
        assert name == "error"
        error = json.loads(data)
        assert error["type"] == "error" and error["error"]["type"] and error["error"]["message"]
    else:
        chunks = [json.loads(d) for d in datas]
        last = chunks[-1]
        assert list(last) == ["error"]  # the SDK checks that the chunk starts with "error"
        assert last["error"]["code"] >= 400 and last["error"]["message"]
        assert not any(
            c.get("candidates") and c["candidates"][0].get("finishReason") for c in chunks[:-1]
        )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_midstream_death_ends_with_dialect_error_event(
    env: Env, names: itertools.count[int], client: str, fmt: str
) -> None:
    up = await _fresh(env, fmt, names)
    env.serve(up, True, Sse(cut_stream(up), delay=0.02, end="reset"))
    resp = await raw_stream(env, client, up)
    assert resp.status_code == 200  # the first bytes were out before the upstream died
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert PARTIAL in resp.text
    _check_error_tail(client, sse_events(resp.text))
    await _sdk_sees_failure(env, client, up)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_stream_that_just_stops_is_not_passed_off_as_complete(
    env: Env, names: itertools.count[int], client: str, fmt: str
) -> None:
    """The upstream's body ends cleanly but without its format's end event:
    the client gets an error event, not an invented normal ending, and the
    row says the stream was cut short."""
    up = await _fresh(env, fmt, names)
    env.serve(up, True, Sse(cut_stream(up), delay=0.02, end="close"))
    resp = await raw_stream(env, client, up)
    assert resp.status_code == 200
    assert PARTIAL in resp.text
    _check_error_tail(client, sse_events(resp.text))
    await env.gw.gateway.store.flush_logs()
    (row, *_) = await env.gw.gateway.store.recent_requests(1)
    assert (row.status, row.error_kind, row.stream) == (502, "truncated", True)
    assert row.output_tokens > 0  # the partial answer's usage (estimated)
    await _sdk_sees_failure(env, client, up)


async def _sdk_sees_failure(env: Env, client: str, up: Upstream) -> None:
    """And each SDK surfaces it rather than ending quietly."""
    if client == "responses":
        # The SDK yields response.failed as an event; it does not raise.
        events = await env.openai.responses.create(model=up.model_string, input=PROMPT, stream=True)
        kinds = [event.type async for event in events]
        assert kinds[-1] == "response.failed" and "response.completed" not in kinds
        return
    expected: type[BaseException] = {
        "openai": openai.APIError,
        "anthropic": anthropic.APIError,
        "gemini": gerrors.APIError,
    }[client]
    with pytest.raises(expected):
        await ask(env, client, up.model_string, True, Ask(system=None))
