"""The translation matrix: every official SDK against every
upstream wire format, JSON and streamed, plain text and one tool call.

In each case the mock upstream answers in its own format; the client's SDK
must parse the gateway's answer without error and see exactly what the
upstream produced (text, or the tool call's name, JSON arguments and id where
both formats have ids), and the upstream must have received a valid request
of its format (model without the provider prefix, the system prompt and the
user turn in their places, the tool translated with its schema).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import (
    CLIENTS,
    FORMATS,
    SAME_FORMAT,
    TEXT,
    TOOL_ARGS,
    TOOL_CALL,
    TOOL_NAME,
    Ask,
    Env,
    ask,
    check_upstream_request,
    upstream_reply,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# The finish signal each SDK reports for a plain answer and for a tool call.
TEXT_FINISH = {
    "openai": "stop",
    "responses": "completed",
    "anthropic": "end_turn",
    "gemini": "STOP",
}
TOOL_FINISH = {
    "openai": "tool_calls",
    "responses": "completed",
    "anthropic": "tool_use",
    "gemini": "STOP",
}
# Anthropic's tool_use ids must match this (Messages API reference).
TOOL_ID = re.compile(r"^[A-Za-z0-9_-]+$")

CASES = [
    pytest.param(client, fmt, mode, kind, id=f"{client}-{fmt}-{mode}-{kind}")
    for client in CLIENTS
    for fmt in FORMATS
    for mode in ("json", "stream")
    for kind in ("text", "tool")
]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(("client", "fmt", "mode", "kind"), CASES)
async def test_matrix(env: Env, client: str, fmt: str, mode: str, kind: str) -> None:
    up = env.upstreams[fmt]
    stream = mode == "stream"
    tool = TOOL_CALL if kind == "tool" else None
    env.serve(up, stream, upstream_reply(up, stream, text=None if tool else TEXT, tool=tool))
    before = len(env.requests_to(up))

    out = await ask(env, client, up.model_string, stream, Ask(tools=tool is not None))

    sent = env.requests_to(up)[before:]
    assert len(sent) == 1, f"expected one upstream call, got {len(sent)}"
    check_upstream_request(up, sent[0], stream, tools=tool is not None)
    if tool is None:
        assert out.text == TEXT
        assert out.calls == []
        assert out.finish == TEXT_FINISH[client]
    else:
        assert out.text == ""
        (call,) = out.calls
        assert (call.name, call.args) == (TOOL_NAME, TOOL_ARGS)
        if client != "gemini":
            assert call.id and TOOL_ID.match(call.id)
            if fmt != "gemini":  # Gemini has no call ids: the gateway makes one up
                assert call.id == TOOL_CALL[0]
        assert out.finish == TOOL_FINISH[client]
    if stream:
        _check_stream_shape(client, out.events, pieces=tool is None)
    if SAME_FORMAT[client] != fmt:
        assert out.reasoning == ""  # nothing invented on the way


def _check_stream_shape(client: str, events: list[str], pieces: bool) -> None:
    if client == "anthropic":
        assert events[0] == "message_start" and events[-1] == "message_stop"
        assert "message_delta" in events
    elif client == "responses":
        assert (
            events[:2] == ["response.created", "response.in_progress"]
            or events[0] == "response.created"
        )
        assert events[-1] == "response.completed"
        assert "response.output_item.done" in events
    elif pieces:  # the text came in three pieces: it must not arrive as one block
        assert len(events) >= 2
