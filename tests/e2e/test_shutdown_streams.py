"""Streams still running when shutdown's grace runs out: each client gets an
error event in its own dialect ("server shutting down") and a cleanly ended
body, and the request log says the server ended them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import sse_events
from tests.support.harness import running_gateway
from tests.support.mock_upstream import MockUpstream, Sse, anthropic_sse, openai_chat_sse

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

WORDS = [f"word{n} " for n in range(200)]  # far longer than the grace
GRACE = 0.4


@pytest.mark.parametrize(
    ("client", "upstream"),
    [("openai", "openai"), ("anthropic", "anthropic"), ("anthropic", "openai")],
    ids=["openai-passthrough", "anthropic-passthrough", "anthropic-from-openai"],
)
async def test_a_stream_cut_by_shutdown_ends_with_an_error_event(
    tmp_path: Path, mock: MockUpstream, client: str, upstream: str
) -> None:
    if upstream == "openai":
        mock.route("POST", "/u/v1/chat/completions", Sse(openai_chat_sse(WORDS, "m"), delay=0.05))
    else:
        mock.route("POST", "/u/v1/messages", Sse(anthropic_sse(WORDS, "m"), delay=0.05))
    async with running_gateway(tmp_path, shutdown_grace=GRACE) as gw:
        await gw.add_provider("u", upstream, mock.url + "/u/v1", "sk-shutdown-upstream-key", ["m"])
        if client == "openai":
            path, headers = "/v1/chat/completions", {"authorization": f"Bearer {gw.client_key}"}
            body = {"model": "u/m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        else:
            path, headers = "/v1/messages", {"x-api-key": gw.client_key}
            body = {
                "model": "u/m",
                "stream": True,
                "max_tokens": 100,
                "messages": [{"role": "user", "content": "x"}],
            }
        received = bytearray()
        async with (
            httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http,
            http.stream("POST", path, json=body, headers=headers) as resp,
        ):
            assert resp.status_code == 200
            pieces = resp.aiter_raw()
            received += await anext(pieces)  # the stream is under way
            stopping = asyncio.create_task(gw.gateway.stop())
            async for piece in pieces:  # ends cleanly: httpx raises on a cut body
                received += piece
            await asyncio.wait_for(stopping, 10)
        data_dir = gw.settings.data_dir
    events = sse_events(received.decode())
    names = [name for name, _ in events]
    datas = [data for _, data in events]
    if client == "openai":
        assert "[DONE]" not in datas
        last = json.loads(datas[-1])
        assert "shutting down" in last["error"]["message"]
    else:
        assert "message_stop" not in names
        assert names[-1] == "error" and "shutting down" in datas[-1]
    with sqlite3.connect(data_dir / "omniroute.db") as db:
        rows = db.execute("SELECT status, error_kind, stream FROM request_log").fetchall()
    assert rows == [(503, "server_shutdown", 1)]
