"""An account's secrets never reach a client through a relayed upstream error,
and clients never learn internal addresses.

Upstreams sometimes quote what they refused. The key here is Azure-style
(32 letters and digits), which no pattern recognises as a key: only knowing
the account's own secrets keeps it out. Every client dialect against every
upstream format, before the first byte (an error status) and after it (an
error event in the stream), in both the translating and pass-through lanes.
"""

from __future__ import annotations

import itertools
import json
import socket

import httpx
import pytest

from tests.e2e.conftest import (
    CLIENTS,
    FORMATS,
    PARTIAL,
    Env,
    Upstream,
    add_upstream,
    cut_stream,
    raw_stream,
)
from tests.support.mock_upstream import (
    Json,
    Sse,
    SseEvent,
    anthropic_error,
    anthropic_error_event,
    gemini_error,
    openai_error,
    responses_error_event,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

AZURE_KEY = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"  # 32 hex characters, Azure's shape
HEADER_SECRET = "hdr-secret-value-7c1e5a93"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def names() -> itertools.count[int]:
    return itertools.count()


async def _keyed(env: Env, fmt: str, names: itertools.count[int]) -> Upstream:
    """A provider of ``fmt`` whose account key is AZURE_KEY and which sends a
    secret custom header."""
    up = await add_upstream(env, fmt, f"sec{next(names)}", key=AZURE_KEY)
    await env.gw.config.update_provider(up.name, extra={"headers": {"x-team": HEADER_SECRET}})
    await env.gw.reload()
    return up


QUOTING = f"Incorrect API key provided: {AZURE_KEY} (header x-team={HEADER_SECRET})"


def _error_event(fmt: str) -> SseEvent:
    message = QUOTING
    if fmt == "anthropic":
        return anthropic_error_event(message)
    if fmt == "openai-responses":
        return responses_error_event(message)
    if fmt == "gemini":
        return gemini_error(500, message, "INTERNAL")
    return openai_error(message, "server_error")


def _error_status(fmt: str) -> Json:
    message = QUOTING
    if fmt == "anthropic":
        return Json(anthropic_error(message, "invalid_request_error"), 400)
    if fmt == "gemini":
        return Json(gemini_error(400, message, "INVALID_ARGUMENT"), 400)
    return Json(openai_error(message, "invalid_request_error"), 400)


def _clean(text: str) -> None:
    assert AZURE_KEY not in text
    assert HEADER_SECRET not in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_an_error_event_after_the_first_byte_quotes_no_secret(
    env: Env, names: itertools.count[int], client: str, fmt: str
) -> None:
    up = await _keyed(env, fmt, names)
    env.serve(up, True, Sse([*cut_stream(up), _error_event(fmt)], delay=0.02))
    resp = await raw_stream(env, client, up)
    assert resp.status_code == 200 and PARTIAL in resp.text
    assert "Incorrect API key provided" in resp.text  # the message itself gets through
    _clean(resp.text)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_an_error_status_before_the_first_byte_quotes_no_secret(
    env: Env, names: itertools.count[int], client: str, fmt: str
) -> None:
    up = await _keyed(env, fmt, names)
    env.serve(up, True, _error_status(fmt))
    resp = await raw_stream(env, client, up)
    assert resp.status_code == 400
    assert "Incorrect API key provided" in resp.text
    _clean(resp.text)


async def test_clients_learn_the_provider_and_request_id_not_addresses(
    env: Env, names: itertools.count[int]
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    name = f"gone{next(names)}"
    await env.gw.add_provider(name, "openai", f"http://127.0.0.1:{port}/v1", AZURE_KEY, ["m"])
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        resp = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {env.gw.client_key}"},
            json={"model": f"{name}/m", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert resp.status_code == 502
    message = resp.json()["error"]["message"]
    assert name in message and resp.headers["x-request-id"] in message
    assert "127.0.0.1" not in message and str(port) not in message and "http" not in message
    _clean(json.dumps(resp.json()))
