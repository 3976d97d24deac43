"""Every header that reaches our code, mutated 20,000 times through the real
server: no 5xx, no traceback. Values are random bytes (anything HTTP lets
through: latin-1 text, tabs, very long values) in the credential headers,
the routing headers, the version headers and the query key, on every kind
of endpoint; the rest of each request is valid, so the mutation is what is
tested."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, anthropic_json, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REQUESTS = 20_000
CONNECTIONS = 4
HEADERS = (
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "x-request-id",
    "idempotency-key",
    "x-session-id",
    "x-omniroute-pin-account",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "accept",
    "host",
)
CHAT = b'{"model":"p/m","messages":[{"role":"user","content":"hi"}]}'
MESSAGES = b'{"model":"a/m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}'
GEMINI = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
ENDPOINTS = (
    (b"POST", b"/v1/chat/completions", CHAT),
    (b"POST", b"/v1/messages", MESSAGES),
    (b"POST", b"/v1/messages/count_tokens", MESSAGES),
    (b"POST", b"/v1beta/models/p/m:generateContent", GEMINI),
    (b"GET", b"/v1/models", b""),
    (b"GET", b"/api/status", b""),
    (b"GET", b"/health", b""),
)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[Harness, MockUpstream]]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as harness:
        mock.route("POST", "/p/v1/chat/completions", Json(openai_chat_json("ok", "m")))
        mock.route("POST", "/a/v1/messages", Json(anthropic_json("ok", "m")))
        mock.route("POST", "/a/v1/messages/count_tokens", Json({"input_tokens": 3}))
        await harness.add_provider("p", "openai", mock.url + "/p/v1", "sk-fuzz-upstream-p", ["m"])
        await harness.add_provider(
            "a", "anthropic", mock.url + "/a/v1", "sk-fuzz-upstream-a", ["m"]
        )
        yield harness, mock


def _value(rng: random.Random) -> bytes:
    """Bytes h11 lets into a header value: no CR, LF or NUL (those are the
    parser's to refuse), everything else of latin-1, sometimes very long."""
    alphabet = bytes(b for b in range(1, 256) if b not in (10, 13))
    length = rng.choice((0, 1, 2, 8, 32, 64, 200, 1000, 4000))
    return bytes(rng.choice(alphabet) for _ in range(length)).strip(b" \t")


def _request(rng: random.Random, key: bytes) -> bytes:
    method, path, body = rng.choice(ENDPOINTS)
    headers = {
        b"host": b"127.0.0.1",
        b"authorization": b"Bearer " + key,
        b"content-type": b"application/json",
    }
    for name in rng.sample(HEADERS, rng.randint(1, 3)):
        headers[name.encode()] = _value(rng) if rng.random() < 0.8 else b"Bearer " + _value(rng)
    if rng.random() < 0.2:
        path += b"?key=" + bytes(rng.choice(b"%=&+azAZ09\xe9\xff") for _ in range(12))
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers.items())
    length = b"content-length: %d\r\n" % len(body)
    return method + b" " + path + b" HTTP/1.1\r\n" + head + length + b"\r\n" + body


async def _read_status(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response (its body read and dropped) and whether the
    server closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    length = 0
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    return status, b"connection: close" in lower


async def _worker(
    port: int, key: bytes, rng: random.Random, count: int, statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            writer.write(_request(rng, key))
            await writer.drain()
            status, closing = await asyncio.wait_for(_read_status(reader), 10)
            statuses.append(status)
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def test_mutated_headers_never_make_a_5xx_or_a_traceback(
    gw: tuple[Harness, MockUpstream], caplog: pytest.LogCaptureFixture
) -> None:
    harness, _ = gw
    assert harness.gateway.address is not None
    port = harness.gateway.address[1]
    key = harness.client_key.encode()
    statuses: list[int] = []
    caplog.set_level(logging.WARNING)
    per = REQUESTS // CONNECTIONS
    await asyncio.gather(
        *(_worker(port, key, random.Random(n), per, statuses) for n in range(CONNECTIONS))
    )
    assert len(statuses) == REQUESTS
    server_errors = [s for s in statuses if s >= 500]
    assert server_errors == [], f"{len(server_errors)} answers were 5xx: {set(server_errors)}"
    assert 200 in statuses and 401 in statuses  # both sides of the guard were reached
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Nothing a client sent counted against an upstream.
    breakers = harness.gateway.resilience.breakers.listing()
    assert all(b.recent_failures == 0 for b in breakers), breakers
